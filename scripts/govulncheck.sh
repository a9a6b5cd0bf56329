#!/usr/bin/env bash
# Runs govulncheck over memberbind with a vulnerability database built from
# the golang.org/x/vulndb module, fetched through the Go module proxy. This
# is for machines that reach the module proxy but not the vulnerability
# database's own site; where that site is reachable, plain
# `govulncheck ./...` gives the same answer with newer data.
#
#   scripts/govulncheck.sh [govulncheck flags...]   e.g. -show verbose
#
# The database is as new as VULNDB_VERSION: bump it to a newer pseudo-version
# (`go list -m -versions golang.org/x/vulndb` lists none; take the newest
# from `go list -m golang.org/x/vulndb@master`) to see newer reports.
set -euo pipefail
cd "$(dirname "$0")/.."

VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
GOVULNCHECK_VERSION="${GOVULNCHECK_VERSION:-v1.9.0}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/memberbind-vulndb"
db="$cache/db-$VULNDB_VERSION"

export GOBIN="$cache/bin"
if [ ! -x "$GOBIN/govulncheck" ] || [ ! -f "$GOBIN/.govulncheck-$GOVULNCHECK_VERSION" ]; then
  go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
  touch "$GOBIN/.govulncheck-$GOVULNCHECK_VERSION"
fi

if [ ! -f "$db/index/db.json" ]; then
  src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # The module cache is read-only, and indexdb builds inside its module.
  cp -r "$src/." "$work"
  chmod -R u+w "$work"
  rm -rf "$db.tmp"
  (cd "$work" && go run ./cmd/indexdb -vulns data/osv -out "$db.tmp")
  mv "$db.tmp" "$db"
fi

exec "$GOBIN/govulncheck" -db "file://$db" "$@" ./...
