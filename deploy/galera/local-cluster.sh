#!/usr/bin/env bash
# A MariaDB Galera cluster of three local mariadbd processes, and a primary with one
# asynchronous GTID replica, on loopback ports with data directories of their own. The tests
# start them through this script (tests/fixtures/galera.py); operators use it to try a cluster
# on one machine. It never touches the machine's own MariaDB.
#
#   local-cluster.sh start DIR            bootstrap node 1, join nodes 2 and 3 (rsync SST); wait
#                                         until all three are Synced; print their URLs
#   local-cluster.sh kill DIR N           SIGKILL node N (what a crash or an OOM kill does)
#   local-cluster.sh rejoin DIR N         recover node N's position from InnoDB and restart it
#                                         there, so it catches up by IST (not a full SST)
#   local-cluster.sh replica DIR          a standalone primary and one GTID replica of it
#   local-cluster.sh stop DIR             stop every process started under DIR
#   local-cluster.sh urls DIR             the URLs again (galera nodes, then primary, replica)
#
# GALERA_BASE_PORT (default 24000) places the ports: node N's SQL port is BASE+N, its group
# port BASE+10+N, IST BASE+20+N, SST BASE+30+N; the primary BASE+41, the replica BASE+42.
# Memory is kept small (GALERA_BUFFER_POOL, default 32M) for a shared test machine.
set -euo pipefail

BASE=${GALERA_BASE_PORT:-24000}
POOL=${GALERA_BUFFER_POOL:-32M}
PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
NODES=(1 2 3)

die() { printf 'local-cluster: %s\n' "$*" >&2; exit 1; }
# The end of node N's error log, then die with the message.
die_node() { tail -n 30 "$(node_dir "$1")/error.log" >&2 2>/dev/null || true; die "${@:2}"; }

sql_port() { echo $((BASE + $1)); }
node_dir() { echo "$DIR/node$1"; }

# The SQL account the services use: root without a password, reachable only on 127.0.0.1.
client() { mariadb --no-defaults -S "$(node_dir "$1")/mysqld.sock" -u root -N -B "${@:2}"; }

write_config() { # N role(galera|primary|replica)
  local n=$1 role=$2 dir
  dir=$(node_dir "$n")
  mkdir -p "$dir/data"
  # As root, the servers run as mysql: rsync's SST daemon would otherwise drop to nobody.
  [ "$(id -u)" = 0 ] && chown -R mysql:mysql "$DIR"
  cat >"$dir/my.cnf" <<CNF
[mariadbd]
$( [ "$(id -u)" = 0 ] && echo "user=mysql" )
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
port=$(sql_port "$n")
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
innodb_buffer_pool_size=$POOL
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
performance_schema=OFF
max_connections=400
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
server_id=$n
CNF
  case $role in
    galera)
      local peers="" p
      for p in "${NODES[@]}"; do peers+="${peers:+,}127.0.0.1:$((BASE + 10 + p))"; done
      cat >>"$dir/my.cnf" <<CNF
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=ecommerce-local-$BASE
wsrep_cluster_address=gcomm://$peers
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$((BASE + 10 + n))
wsrep_node_incoming_address=127.0.0.1:$(sql_port "$n")
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((BASE + 30 + n))
wsrep_provider_options="base_host=127.0.0.1;base_port=$((BASE + 10 + n));ist.recv_addr=127.0.0.1:$((BASE + 20 + n));gcache.size=128M;gcs.fc_limit=64;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S"
wsrep_slave_threads=2
CNF
      # Writes pause until a node that stopped answering is evicted: on loopback 2 s of silence
      # is enough to suspect it (Galera's default, 5 s, allows for a real network's hiccups).
      ;;
    primary)
      printf 'log_bin=%s/data/binlog\ngtid_strict_mode=ON\n' "$dir" >>"$dir/my.cnf" ;;
    replica)
      printf 'read_only=ON\ngtid_strict_mode=ON\nrelay_log=%s/data/relay\n' "$dir" >>"$dir/my.cnf" ;;
  esac
}

install_db() { # N
  local dir
  dir=$(node_dir "$1")
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db $( [ "$(id -u)" = 0 ] && echo "--user=mysql" ) >"$dir/install.log" 2>&1 ||
    die "mariadb-install-db failed for node $1 (see $dir/install.log)"
}

launch() { # N [extra mariadbd options]
  local dir
  dir=$(node_dir "$1")
  setsid "$MARIADBD" --defaults-file="$dir/my.cnf" "${@:2}" </dev/null >>"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/launch.pid"
}

alive() { local pid; pid=$(cat "$(node_dir "$1")/launch.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }

wait_ready() { # N galera|plain: until it answers (and, on Galera, is Synced and ready)
  local n=$1 kind=$2 state
  for _ in $(seq 1 600); do
    alive "$n" || die_node "$n" "node $n exited (see $(node_dir "$n")/error.log)"
    if [ "$kind" = plain ]; then
      client "$n" -e 'SELECT 1' >/dev/null 2>&1 && return 0
    else
      state=$(client "$n" -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
        WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE_COMMENT', 'WSREP_READY')
        ORDER BY VARIABLE_NAME" 2>/dev/null | tr '\n' ' ') || state=""
      [ "$state" = "Synced ON " ] && return 0
    fi
    sleep 0.2
  done
  die_node "$n" "node $n did not become ready (see $(node_dir "$n")/error.log)"
}

allow_tcp_root() { # N: root over 127.0.0.1 (skip-name-resolve matches no 'localhost' account)
  client "$1" -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
}

urls() {
  local n
  for n in "${NODES[@]}"; do echo "mysql+aiomysql://root@127.0.0.1:$(sql_port "$n")/"; done
}

start() {
  local n
  [ -x "$MARIADBD" ] || die "mariadbd not found (apt-get install mariadb-server)"
  [ -f "$PROVIDER" ] || die "$PROVIDER not found (apt-get install galera-4)"
  command -v rsync >/dev/null || die "rsync not found (apt-get install rsync)"
  mkdir -p "$DIR"
  for n in "${NODES[@]}"; do write_config "$n" galera; done
  install_db 1
  launch 1 --wsrep-new-cluster
  wait_ready 1 galera
  allow_tcp_root 1
  # One joiner at a time: a donor serves one state transfer at once.
  for n in 2 3; do
    launch "$n"
    wait_ready "$n" galera
  done
  urls
}

kill_node() { # N
  local pid
  pid=$(cat "$(node_dir "$1")/launch.pid") || die "node $1 was never started"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

rejoin() { # N: the position InnoDB committed, so the donor sends only the missing writesets
  local n=$1 dir position
  dir=$(node_dir "$n")
  alive "$n" && die "node $n is running"
  "$MARIADBD" --defaults-file="$dir/my.cnf" --wsrep-recover --log-error="$dir/recover.log" \
    >/dev/null 2>&1 || die "wsrep recovery of node $n failed (see $dir/recover.log)"
  position=$(sed -n 's/.*WSREP: Recovered position: \([^ ]*\).*/\1/p' "$dir/recover.log" | tail -1)
  [ -n "$position" ] || die "no recovered position for node $n (see $dir/recover.log)"
  launch "$n" --wsrep-start-position="$position"
  wait_ready "$n" galera
}

replica() { # a standalone primary (41) and a GTID replica of it (42)
  mkdir -p "$DIR"
  write_config 41 primary
  write_config 42 replica
  install_db 41
  install_db 42
  launch 41
  launch 42
  wait_ready 41 plain
  wait_ready 42 plain
  allow_tcp_root 41
  allow_tcp_root 42
  client 41 -e "CREATE USER IF NOT EXISTS 'replication'@'127.0.0.1' IDENTIFIED BY 'replication';
    GRANT REPLICATION SLAVE ON *.* TO 'replication'@'127.0.0.1';"
  client 42 -e "SET GLOBAL gtid_slave_pos = '';
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(sql_port 41),
      MASTER_USER='replication', MASTER_PASSWORD='replication', MASTER_USE_GTID=slave_pos;
    START SLAVE;"
  echo "mysql+aiomysql://root@127.0.0.1:$(sql_port 41)/"
  echo "mysql+aiomysql://root@127.0.0.1:$(sql_port 42)/"
}

stop() {
  local pidfile pid
  for pidfile in "$DIR"/node*/launch.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

[ $# -ge 2 ] || die "usage: $0 start|kill|rejoin|replica|stop|urls DIR [N]"
COMMAND=$1
DIR=$(realpath -m "$2")
case $COMMAND in
  start) start ;;
  kill) kill_node "${3:?node number}" ;;
  rejoin) rejoin "${3:?node number}" ;;
  replica) replica ;;
  stop) stop ;;
  urls) urls ;;
  *) die "unknown command $COMMAND" ;;
esac
