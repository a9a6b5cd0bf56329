#!/usr/bin/env bash
# tidb.sh: memberbind's rule and outbox tests on TiDB (docs/engines.md).
# It builds tidb-server at a pinned version from the Go module proxy and runs
# it on its embedded storage (--store=unistore), one process, no PD or TiKV.
#
#   scripts/tidb.sh build [DIR]   download and build tidb-server into DIR/bin
#   scripts/tidb.sh start [DIR]   start it on 127.0.0.1:$MEMBERBIND_TIDB_PORT
#   scripts/tidb.sh test [DIR]    start it if needed, run the tests against it
#   scripts/tidb.sh stop [DIR]    stop it
#
# DIR defaults to $MEMBERBIND_TIDB_DIR, else ${TMPDIR:-/tmp}/memberbind-tidb.
# The version is $MEMBERBIND_TIDB_VERSION, else the pin below. `go install`
# refuses TiDB (its go.mod has replace directives), so the module is
# downloaded and built inside a writable copy of its directory. On 2 cores
# the build takes long: it runs under nice.
set -euo pipefail

# The pin: a TiDB commit as the module proxy names it (TiDB's tags are not
# module versions: its go.mod says github.com/pingcap/tidb without /v8).
pin=v1.1.0-beta.0.20250116073434-fea86c8e35ad

cmd=${1:-}
dir=${2:-${MEMBERBIND_TIDB_DIR:-${TMPDIR:-/tmp}/memberbind-tidb}}
version=${MEMBERBIND_TIDB_VERSION:-$pin}
port=${MEMBERBIND_TIDB_PORT:-4000}
root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "tidb.sh: $*" >&2; exit 1; }
case "$port" in '' | *[!0-9]*) die "MEMBERBIND_TIDB_PORT=$port is not a port number" ;; esac

bin="$dir/bin/tidb-server-$version"
dsn="root@tcp(127.0.0.1:$port)/"

cmd_build() {
  [ -x "$bin" ] && { echo "$bin"; return; }
  mkdir -p "$dir/bin"
  local json moddir err
  json=$(go mod download -json "github.com/pingcap/tidb@$version" 2>&1) || true
  err=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')
  [ -z "$err" ] || die "the module proxy did not give github.com/pingcap/tidb@$version: $err"
  moddir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$moddir" ] && [ -d "$moddir" ] || die "go mod download printed no module directory:
$json"
  # The module cache is read-only, and the build writes into the module.
  rm -rf "$dir/src"
  cp -r "$moddir" "$dir/src"
  chmod -R u+w "$dir/src"
  echo "building tidb-server $version (this takes long on 2 cores)"
  (cd "$dir/src" && GOFLAGS=-mod=mod nice -n 19 go build -o "$bin" ./cmd/tidb-server)
  echo "$bin"
}

pid_of() { [ -s "$dir/tidb.pid" ] && kill -0 "$(cat "$dir/tidb.pid")" 2>/dev/null && cat "$dir/tidb.pid"; }
ping() { mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -uroot -N -e 'SELECT VERSION()' 2>/dev/null; }

cmd_start() {
  cmd_build >/dev/null
  if pid_of >/dev/null; then ping; return; fi
  mkdir -p "$dir/data"
  setsid "$bin" --store=unistore --path="$dir/data" --host=127.0.0.1 -P "$port" \
    --status=$((port + 6080)) --log-file="$dir/tidb.log" >>"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/tidb.pid"
  for _ in $(seq 1 240); do
    if ping; then return; fi
    pid_of >/dev/null || { tail -30 "$dir/tidb.log" "$dir/stdout.log" >&2 || true; die "tidb-server exited (log: $dir/tidb.log)"; }
    sleep 0.5
  done
  die "tidb-server does not answer on $port after 120s (log: $dir/tidb.log)"
}

cmd_stop() {
  local pid
  pid=$(pid_of || true)
  [ -n "$pid" ] || return 0
  kill "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || { echo "tidb-server stopped"; return; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

cmd_test() {
  cmd_start
  echo "tests against TiDB $version at $dsn"
  cd "$root"
  MEMBERBIND_TEST_DSN="$dsn" go test -count=1 ./graph/ ./internal/mysql/ ./internal/mail/
}

case "$cmd" in
build) cmd_build ;;
start) cmd_start ;;
stop) cmd_stop ;;
test) cmd_test ;;
*) die "usage: $0 build|start|stop|test [DIR]" ;;
esac
