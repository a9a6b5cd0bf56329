#!/usr/bin/env bash
# galera.sh: a 3-node MariaDB Galera cluster on this machine, for the tests
# that must hold on a multi-primary cluster (docs/engines.md). It uses the
# installed MariaDB server and Debian's galera-4 package (installed when
# missing), and runs every node as the mysql user on loopback ports of its
# own, with its data under one directory.
#
#   scripts/galera.sh start [DIR]   start the cluster (or the nodes that are
#                                   down) and wait until all 3 are Synced
#   scripts/galera.sh stop [DIR]    stop every node, last node 1
#   scripts/galera.sh status [DIR]  print each node's state; exit 1 unless
#                                   all 3 nodes are up, Synced, in one cluster
#   scripts/galera.sh dsns [DIR]    print the nodes' DSNs, comma-separated
#                                   (for MEMBERBIND_GALERA_DSNS)
#
# DIR defaults to $MEMBERBIND_GALERA_DIR, else ${TMPDIR:-/tmp}/memberbind-galera;
# it must be a directory the mysql user can reach. Node N (1..3) listens on
# MySQL port BASE+N-1 (BASE = $MEMBERBIND_GALERA_PORT, default 3307), on
# group port 4567+10(N-1), IST port 4568+10(N-1) and state-transfer port
# 4444+10(N-1), each moved by 100(BASE-3307), so that a second cluster on
# another BASE does not collide. Root connects over TCP from 127.0.0.1 without a password,
# as on the machine's own MariaDB: this cluster is for tests only.
set -euo pipefail

cmd=${1:-}
dir=${2:-${MEMBERBIND_GALERA_DIR:-${TMPDIR:-/tmp}/memberbind-galera}}
base=${MEMBERBIND_GALERA_PORT:-3307}
nodes=(1 2 3)

die() { echo "galera.sh: $*" >&2; exit 1; }

case "$base" in '' | *[!0-9]*) die "MEMBERBIND_GALERA_PORT=$base is not a port number" ;; esac
[ "$base" -ge 3307 ] && [ "$base" -le 3500 ] || die "MEMBERBIND_GALERA_PORT=$base: give a port from 3307 to 3500 (the cluster's other ports follow from it)"

shift=$(((base - 3307) * 100))
port() { echo $((base + $1 - 1)); }
gport() { echo $((shift + 4567 + 10 * ($1 - 1))); }
istport() { echo $((shift + 4568 + 10 * ($1 - 1))); }
sstport() { echo $((shift + 4444 + 10 * ($1 - 1))); }
sock() { echo "$dir/node$1/mysqld.sock"; }
sql() { # sql NODE STATEMENT: run as root over the node's socket.
  mariadb --no-defaults -uroot -S "$(sock "$1")" -N -B -e "$2"
}
pid_of() {
  local f="$dir/node$1/mysqld.pid"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}
state() { # state NODE: "SIZE STATE", or nothing when the node does not answer.
  sql "$1" "SELECT (SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_cluster_size'), (SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_local_state_comment')" 2>/dev/null | tr '\t' ' '
}

provider() {
  local p
  p=$(dpkg -L galera-4 2>/dev/null | grep -m1 '/galera/libgalera_smm\.so$' || true)
  [ -n "$p" ] || p=$(dpkg -L galera-4 2>/dev/null | grep -m1 'libgalera.*\.so$' || true)
  [ -n "$p" ] && [ -f "$p" ] || die "galera-4 is installed but no libgalera_smm.so is in it (dpkg -L galera-4)"
  echo "$p"
}

install_packages() {
  local missing=()
  dpkg -s galera-4 >/dev/null 2>&1 || missing+=(galera-4)
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
  [ ${#missing[@]} -eq 0 ] && return
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

write_config() { # write_config NODE
  local n=$1 d="$dir/node$1" addrs=() i
  for i in "${nodes[@]}"; do addrs+=("127.0.0.1:$(gport "$i")"); done
  mkdir -p "$d/data"
  cat >"$d/my.cnf" <<EOF
[mariadbd]
user=mysql
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
port=$(port "$n")
bind-address=127.0.0.1
skip-name-resolve
max_connections=500
innodb_buffer_pool_size=128M
# What Debian's own MariaDB configuration sets (50-server.cnf), which
# mariadb-install-db --no-defaults does not read.
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
# Every write is on three nodes; one fsync per commit on each buys a
# test cluster nothing.
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$(provider)
wsrep_cluster_name=memberbind
wsrep_cluster_address=gcomm://$(IFS=,; echo "${addrs[*]}")
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(gport "$n")
wsrep_provider_options="base_port=$(gport "$n");ist.recv_addr=127.0.0.1:$(istport "$n");gcache.size=128M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sstport "$n")
wsrep_slave_threads=4
EOF
  # The server runs as mysql: a joiner whose data directory root owns
  # cannot receive the state transfer (rsync fails, the node gives up).
  chown -R mysql:mysql "$d"
}

start_node() { # start_node NODE [--wsrep-new-cluster]
  local n=$1 d="$dir/node$1"
  shift
  if pid_of "$n" >/dev/null; then return; fi
  rm -f "$d/mysqld.sock"
  setsid mariadbd --defaults-file="$d/my.cnf" "$@" >>"$d/stdout.log" 2>&1 </dev/null &
  echo $! >"$d/launch.pid"
}

wait_synced() { # wait_synced NODE: until the node says Synced (state transfer included).
  local n=$1 s=""
  for _ in $(seq 1 600); do
    s=$(state "$n" || true)
    case "$s" in *" Synced") return 0 ;; esac
    if ! kill -0 "$(cat "$dir/node$n/launch.pid" 2>/dev/null)" 2>/dev/null && ! pid_of "$n" >/dev/null; then
      tail -30 "$dir/node$n/error.log" >&2 || true
      die "node $n exited before it was Synced (log: $dir/node$n/error.log)"
    fi
    sleep 0.5
  done
  tail -30 "$dir/node$n/error.log" >&2 || true
  die "node $n is not Synced after 300s (state: ${s:-no answer})"
}

cmd_start() {
  install_packages
  mkdir -p "$dir"
  chmod 755 "$dir"
  runuser -u mysql -- test -x "$dir" || die "$dir is not reachable by the mysql user: give a directory under one it can enter (e.g. /tmp)"
  local n running=()
  for n in "${nodes[@]}"; do
    write_config "$n"
    if pid_of "$n" >/dev/null; then running+=("$n"); fi
  done
  if [ ${#running[@]} -eq 0 ]; then
    # Nothing runs: node 1 starts a new cluster from its own data. It is the
    # last node `stop` stops, so its data is the newest; after a crash it
    # may not say so, and a test cluster takes it anyway.
    if [ ! -d "$dir/node1/data/mysql" ]; then
      mariadb-install-db --no-defaults --user=mysql --datadir="$dir/node1/data" \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/node1/install.log" 2>&1 ||
        { cat "$dir/node1/install.log" >&2; die "mariadb-install-db failed"; }
    fi
    if [ -f "$dir/node1/data/grastate.dat" ]; then
      sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$dir/node1/data/grastate.dat"
    fi
    start_node 1 --wsrep-new-cluster
    wait_synced 1
    sql 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION"
    running=(1)
  fi
  # Joiners one at a time: each takes its state from a donor, and two
  # transfers at once on 2 cores only slow each other.
  for n in "${nodes[@]}"; do
    start_node "$n"
    wait_synced "$n"
  done
  for _ in $(seq 1 120); do
    cmd_status >/dev/null 2>&1 && { cmd_status; return; }
    sleep 0.5
  done
  cmd_status
}

cmd_stop() {
  local n pid i
  for n in 3 2 1; do
    pid=$(pid_of "$n" || true)
    [ -n "$pid" ] || continue
    sql "$n" "SHUTDOWN" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for i in $(seq 1 240); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
      [ "$i" -eq 240 ] && die "node $n (pid $pid) did not stop in 120s"
    done
    echo "node $n stopped"
  done
}

cmd_status() {
  local n s ok=0
  for n in "${nodes[@]}"; do
    s=$(state "$n" || true)
    echo "node $n: port $(port "$n") ${s:-down}"
    [ "$s" = "3 Synced" ] || ok=1
  done
  return $ok
}

cmd_dsns() {
  local n out=()
  for n in "${nodes[@]}"; do out+=("root@tcp(127.0.0.1:$(port "$n"))/"); done
  (IFS=,; echo "${out[*]}")
}

case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
dsns) cmd_dsns ;;
*) die "usage: $0 start|stop|status|dsns [DIR]" ;;
esac
