#!/usr/bin/env bash
# One entry point for running, testing and operating the e-commerce manager backend.
#   ./docker-manager.sh dev     run both services locally (SQLite unless DATABASE_URL is set)
#   ./docker-manager.sh test    lint, type-check and run the test suite
#   ./docker-manager.sh start   run MySQL and both services with Docker Compose
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
LOCK=requirements.lock
RUNTIME_LOCK=requirements-runtime.lock
PRODUCTS_PORT=${PRODUCTS_PORT:-8000}
SALES_PORT=${SALES_PORT:-8001}

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<USAGE
usage: ./docker-manager.sh <command>

  dev [--reload] [--empty]
                   create .venv, install, migrate, and run both services on 127.0.0.1
                   (products :$PRODUCTS_PORT, sales :$SALES_PORT); Ctrl-C stops both, and
                   if either dies the other is stopped too. Uses DATABASE_URL when set, else
                   an SQLite file under var/; a JWT_SECRET is generated once into var/.
                   Unless --empty: loads a year of demo data when the catalog is empty and
                   creates a development admin (password printed once, kept in
                   var/dev-admin.txt) when there is none. DEV_VAR_DIR moves var/;
                   DEV_DEMO_OPTIONS passes seed-demo's size options.
  test [args]      create/refresh .venv from requirements.lock; ruff, mypy, pytest [args].
                   Set TEST_MYSQL_URL=mysql+asyncmy://user:pass@host:3306/ to also test on MySQL.

  lock [--upgrade] regenerate requirements.lock and requirements-runtime.lock from pyproject.toml
                   (hash-pinned; needs the package index). Run it after changing a dependency.

  start            docker compose up: MariaDB 10.11, migrations, both services; waits until ready
  stop             docker compose down (data is kept in the named volume)
  restart          stop, then start
  status           containers and the readiness of both services
  logs [service]   follow logs (mariadb, migrate, products, sales)
  env-file         write .env (mode 0600) with fresh secrets unless it exists; start does this
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

# ensure_venv: install exactly what requirements.lock pins (every file checked against its hash),
# then the project itself without dependencies; again whenever the lock or pyproject.toml changed.
ensure_venv() {
  local python stamp wanted
  if [ ! -x "$VENV/bin/python" ]; then
    python=$(find_python) || die "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)"
    say "creating .venv with $($python --version 2>&1)"
    "$python" -m venv "$VENV" || die "could not create .venv (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  if [ "${SKIP_INSTALL:-}" = 1 ]; then
    return 0 # use .venv as it is (offline, or a test running from it)
  fi
  stamp="$VENV/.installed"
  wanted="$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    say "installing $LOCK (hash-checked) and the project into .venv"
    "$VENV/bin/python" -m pip install --quiet --require-hashes -r "$LOCK"
    "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
    echo "$wanted" > "$stamp"
  fi
}

# The build backend pyproject.toml names, so the lock pins (and hashes) it too.
build_requirements() {
  "$VENV/bin/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
}

# lock: re-resolve the pins of pyproject.toml into requirements.lock (with the dev and bench
# extras: what dev and test install) and requirements-runtime.lock (the image: the same
# versions, without the extras). Pins already in the lock are kept unless pyproject.toml moved
# them; `lock --upgrade` moves everything unpinned to its newest release.
cmd_lock() {
  ensure_venv
  local compile=("$VENV/bin/uv" pip compile --quiet --generate-hashes --universal
    --python-version 3.11 --custom-compile-command "./docker-manager.sh lock" "$@")
  say "resolving $LOCK"
  build_requirements | "${compile[@]}" pyproject.toml - --extra dev --extra bench -o "$LOCK"
  say "resolving $RUNTIME_LOCK (the same versions, without the dev and bench extras)"
  build_requirements | "${compile[@]}" pyproject.toml - -c "$LOCK" -o "$RUNTIME_LOCK"
}

# Service processes of `dev`, global so the EXIT trap still sees them after cmd_dev returned.
DEV_PIDS=()
DEV_NAMES=()

stop_dev_services() {
  trap - INT TERM EXIT
  [ ${#DEV_PIDS[@]} -gt 0 ] || return 0
  say "stopping ${DEV_NAMES[*]}"
  kill "${DEV_PIDS[@]}" 2>/dev/null || true
  wait "${DEV_PIDS[@]}" 2>/dev/null || true
  DEV_PIDS=()
}

# dev_secret FILE: the JWT_SECRET kept in FILE, generated once (mode 0600).
dev_secret() {
  local file=$1
  if [ ! -s "$file" ]; then
    say "generating a JWT_SECRET for development into $file" >&2
    (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))' > "$file")
  fi
  cat "$file"
}

cmd_dev() {
  local reload=() demo=true option name status index
  for option in "$@"; do
    case "$option" in
      --reload) reload=(--reload) ;;
      --empty) demo=false ;;
      --demo) ;; # the default since the demo store loads by itself; kept for old habits
      *) die "dev: unknown option $option (use --reload, --empty)" ;;
    esac
  done
  ensure_venv
  local var_dir=${DEV_VAR_DIR:-$ROOT/var}
  mkdir -p "$var_dir"
  chmod 700 "$var_dir"
  if [ -z "${JWT_SECRET:-}" ]; then
    JWT_SECRET=$(dev_secret "$var_dir/jwt_secret") || die "could not write $var_dir/jwt_secret"
  fi
  export JWT_SECRET
  export DATABASE_URL=${DATABASE_URL:-sqlite+aiosqlite:///$var_dir/ecommerce.db}
  say "migrating $DATABASE_URL"
  "$VENV/bin/python" -m common.ops migrate
  if [ "$demo" = true ]; then
    # shellcheck disable=SC2086 # DEV_DEMO_OPTIONS is a list of options, e.g. "--products 20"
    "$VENV/bin/python" -m common.ops dev-setup --credentials "$var_dir/dev-admin.txt" \
      ${DEV_DEMO_OPTIONS:-}
  fi
  trap stop_dev_services EXIT
  trap 'stop_dev_services; exit 130' INT TERM
  # X-Forwarded-For is believed only from TRUSTED_PROXIES (none when unset); uvicorn alone
  # would believe it from 127.0.0.1, i.e. from anything on this machine.
  "$VENV/bin/uvicorn" products_microservice.main:app --host 127.0.0.1 --port "$PRODUCTS_PORT" --forwarded-allow-ips "${TRUSTED_PROXIES:-}" "${reload[@]}" &
  DEV_PIDS+=($!) DEV_NAMES+=("products (:$PRODUCTS_PORT)")
  "$VENV/bin/uvicorn" sales_microservice.main:app --host 127.0.0.1 --port "$SALES_PORT" --forwarded-allow-ips "${TRUSTED_PROXIES:-}" "${reload[@]}" &
  DEV_PIDS+=($!) DEV_NAMES+=("sales (:$SALES_PORT)")
  say "products: http://127.0.0.1:$PRODUCTS_PORT/docs"
  say "sales:    http://127.0.0.1:$SALES_PORT/docs"
  say "dashboard: http://127.0.0.1:$SALES_PORT/dashboard/"
  say "Ctrl-C stops both"
  # Whichever service ends first (a taken port, a crash), stop the other and say which.
  status=0
  wait -n "${DEV_PIDS[@]}" || status=$?
  for index in "${!DEV_PIDS[@]}"; do
    if ! kill -0 "${DEV_PIDS[$index]}" 2>/dev/null; then
      name=${DEV_NAMES[$index]}
      break
    fi
  done
  stop_dev_services
  die "${name:-a service} exited (status $status); the other service was stopped"
}

cmd_test() {
  ensure_venv
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

# .env: every setting of the services (compose passes the whole file to them) and the database
# password; mode 0600, since it holds secrets. The MariaDB root password is random and unused.
ensure_env_file() {
  if [ -f .env ]; then
    chmod 600 .env
    grep -q '^DATABASE_URL=' .env ||
      die ".env has no DATABASE_URL (written by an older version?): move it away and rerun to get a new one"
    return 0
  fi
  say "writing .env (mode 0600) with a fresh JWT_SECRET and database password"
  local secret db_password
  secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
  db_password=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
  (
    umask 077
    cat > .env <<ENV
# Settings of both services (README.md, Configuration); compose passes every line through.
APP_ENV=production
JWT_SECRET=$secret
MYSQL_PASSWORD=$db_password
DATABASE_URL=mysql+asyncmy://ecommerce:$db_password@mariadb:3306/ecommerce
STORE_TIMEZONE=UTC
# The dashboard (http://127.0.0.1:8001/dashboard/) calls the products API from the browser.
PRODUCTS_PUBLIC_URL=http://127.0.0.1:8000
CORS_ORIGINS=http://127.0.0.1:8001,http://localhost:8001
ENV
  )
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
    lock) cmd_lock "$@" ;;
    env-file) ensure_env_file ;;
    migrate) need_docker; ensure_env_file; compose run --rm migrate ;;
    seed) cmd_seed "$@" ;;
    -h | --help | help | "") usage ;;
    *) usage; die "unknown command: $command" ;;
  esac
}

main "$@"
