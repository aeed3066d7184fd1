#!/usr/bin/env bash
# One entry point for running, testing and operating the e-commerce manager backend.
#   ./docker-manager.sh dev     run both services locally (SQLite unless DATABASE_URL is set)
#   ./docker-manager.sh test    lint, type-check and run the test suite
#   ./docker-manager.sh start   run MySQL and both services with Docker Compose
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PRODUCTS_PORT=${PRODUCTS_PORT:-8000}
SALES_PORT=${SALES_PORT:-8001}

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<USAGE
usage: ./docker-manager.sh <command>

  dev [--reload] [--demo]
                   create .venv, install, migrate, and run both services on 127.0.0.1
                   (products :$PRODUCTS_PORT, sales :$SALES_PORT); Ctrl-C stops both.
                   Uses DATABASE_URL when set, else an SQLite file under var/.
                   --demo first loads a year of demo data when the catalog is empty.
  test [args]      create/refresh .venv with dev extras; ruff, mypy, pytest [args].
                   Set TEST_MYSQL_URL=mysql+aiomysql://user:pass@host:3306/ to also test on MySQL.

  start            docker compose up: MySQL 8.4, migrations, both services; waits until ready
  stop             docker compose down (data is kept in the named volume)
  restart          stop, then start
  status           containers and the readiness of both services
  logs [service]   follow logs (mysql, migrate, products, sales)
  migrate          apply migrations in Docker (or locally: python -m common.ops migrate)
  seed [options]   load demo data in Docker (python -m common.ops seed-demo --help)
USAGE
}

# --- local Python -----------------------------------------------------------------------------

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# ensure_venv [extras]: (re)install the project when pyproject.toml or the extras changed.
ensure_venv() {
  local extras=${1:-} python stamp wanted
  if [ ! -x "$VENV/bin/python" ]; then
    python=$(find_python) || die "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)"
    say "creating .venv with $($python --version 2>&1)"
    "$python" -m venv "$VENV" || die "could not create .venv (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  stamp="$VENV/.installed"
  wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) extras=$extras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    say "installing the project${extras:+ with [$extras]} into .venv"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".${extras:+[$extras]}"
    echo "$wanted" > "$stamp"
  fi
}

cmd_dev() {
  local reload=() demo=false option
  for option in "$@"; do
    case "$option" in
      --reload) reload=(--reload) ;;
      --demo) demo=true ;;
      *) die "dev: unknown option $option (use --reload, --demo)" ;;
    esac
  done
  ensure_venv dev,bench
  say "migrating ${DATABASE_URL:-the SQLite database under var/}"
  "$VENV/bin/python" -m common.ops migrate
  if [ "$demo" = true ]; then
    say "seeding demo data (skipped when the catalog is not empty)"
    "$VENV/bin/python" -m common.ops seed-demo --if-empty
  fi
  local pids=()
  stop_all() {
    trap - INT TERM EXIT
    say "stopping"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  }
  trap stop_all INT TERM EXIT
  "$VENV/bin/uvicorn" products_microservice.main:app --host 127.0.0.1 --port "$PRODUCTS_PORT" "${reload[@]}" &
  pids+=($!)
  "$VENV/bin/uvicorn" sales_microservice.main:app --host 127.0.0.1 --port "$SALES_PORT" "${reload[@]}" &
  pids+=($!)
  say "products: http://127.0.0.1:$PRODUCTS_PORT/docs"
  say "sales:    http://127.0.0.1:$SALES_PORT/docs"
  say "Ctrl-C stops both"
  # If either service dies, stop the other too.
  wait -n "${pids[@]}"
}

cmd_test() {
  ensure_venv dev,bench
  say "ruff check"
  "$VENV/bin/ruff" check .
  say "ruff format --check"
  "$VENV/bin/ruff" format --check .
  say "mypy"
  "$VENV/bin/mypy"
  say "pytest${TEST_MYSQL_URL:+ (SQLite and MySQL)}"
  "$VENV/bin/python" -m pytest "$@"
}

# --- Docker -----------------------------------------------------------------------------------

compose() { docker compose "$@"; }

need_docker() {
  command -v docker >/dev/null 2>&1 ||
    die "Docker is not installed. Install Docker Engine with the compose plugin, or run without Docker: ./docker-manager.sh dev"
  docker compose version >/dev/null 2>&1 ||
    die "the Docker compose plugin is missing ('docker compose version' fails)"
  docker info >/dev/null 2>&1 ||
    die "the Docker engine is not running or not reachable (is the daemon started? are you in the docker group?)"
}

ensure_env_file() {
  if [ ! -f .env ]; then
    say "writing .env with a fresh JWT_SECRET and database passwords"
    local secret db_password
    secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
    db_password=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
    cat > .env <<ENV
JWT_SECRET=$secret
MYSQL_PASSWORD=$db_password
MYSQL_ROOT_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
STORE_TIMEZONE=UTC
ENV
  fi
}

wait_ready() {
  local name=$1 port=$2 deadline=$((SECONDS + ${READY_TIMEOUT:-180}))
  until curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$name did not become ready on :$port (./docker-manager.sh logs $name)"
    sleep 2
  done
  say "$name ready: http://127.0.0.1:$port/docs"
}

cmd_start() {
  need_docker
  command -v curl >/dev/null 2>&1 || die "curl is required to wait for the services"
  ensure_env_file
  compose up -d --build
  wait_ready products "$PRODUCTS_PORT"
  wait_ready sales "$SALES_PORT"
}

cmd_status() {
  need_docker
  compose ps
  local name port
  for name in products:$PRODUCTS_PORT sales:$SALES_PORT; do
    port=${name#*:}
    if curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then
      say "${name%%:*}: ready on :$port"
    else
      say "${name%%:*}: not ready on :$port"
    fi
  done
}

cmd_seed() {
  need_docker
  compose run --rm migrate python -m common.ops seed-demo "$@"
}

main() {
  local command=${1:-}
  [ $# -gt 0 ] && shift
  case "$command" in
    dev) cmd_dev "$@" ;;
    test) cmd_test "$@" ;;
    start) cmd_start ;;
    stop) need_docker; compose down ;;
    restart) need_docker; compose down; cmd_start ;;
    status) cmd_status ;;
    logs) need_docker; compose logs -f --tail=200 "$@" ;;
    migrate) need_docker; ensure_env_file; compose run --rm migrate ;;
    seed) cmd_seed "$@" ;;
    -h | --help | help | "") usage ;;
    *) usage; die "unknown command: $command" ;;
  esac
}

main "$@"
