#!/usr/bin/env bash
# The restore drill (docs/SCALING.md, "Backup and restore"): prove a backup restores.
#
#   scripts/restore_drill.sh [--check-only] [SOURCE_URL] [TARGET_DB]
#
# Dumps SOURCE_URL's database (default $DATABASE_URL) with pg_dump -Fc, restores the dump with
# pg_restore into TARGET_DB (default <source>_drill; dropped and created again, so its name must
# contain "drill"), then checks the restored copy: every table's row count matches the source,
# no migration is missing (manage.py migrate --check), and every loyalty balance equals the sum
# of its ledger (manage.py rebuild_balances --check). --check-only skips the dump and restore
# and checks an existing TARGET_DB against the source again.
#
# On a live source, rows written while the dump ran make the source's counts move: a table's
# restored count must then lie between its counts just before and just after the dump (a
# quiet source gives one exact count). The dump is kept in $DRILL_DIR (default var/drill).
# Exits 0 with a summary line, or 1 with one line saying what failed.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "restore drill FAILED: $*" >&2
  exit 1
}

check_only=false
if [ "${1:-}" = "--check-only" ]; then
  check_only=true
  shift
fi
source_url="${1:-${DATABASE_URL:-}}"
[ -n "$source_url" ] || fail "no source database: give SOURCE_URL or set DATABASE_URL"
case "$source_url" in
  postgres://* | postgresql://*) ;;
  *) fail "the source must be a PostgreSQL URL (postgres://...), not ${source_url%%:*}" ;;
esac
base="${source_url%%\?*}"
query="${source_url#"$base"}"
source_db="${base##*/}"
target_db="${2:-${source_db}_drill}"
[[ "$target_db" == *drill* ]] || fail "the target database is dropped first: its name must contain 'drill' (got $target_db)"
[ "$target_db" != "$source_db" ] || fail "the target database must not be the source"
[[ "$target_db" =~ ^[A-Za-z0-9_]+$ ]] || fail "the target database name may hold letters, digits and _ only"
target_url="${base%/*}/${target_db}${query}"
maintenance_url="${base%/*}/postgres${query}"
python="${PYTHON:-.venv/bin/python}"
drill_dir="${DRILL_DIR:-var/drill}"
dump="$drill_dir/$source_db.dump"

# Every table's exact row count, one "table count" line each, sorted.
counts() {
  psql "$1" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 -c "
    SELECT c.relname,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname" | LC_ALL=C sort || fail "could not count the rows of $2"
}

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! $check_only; then
  mkdir -p "$drill_dir"
  counts "$source_url" source >"$work/before"
  started=$(now)
  pg_dump -Fc --no-owner -f "$dump" "$source_url" 2>"$work/dump.log" || fail "pg_dump: $(tail -1 "$work/dump.log")"
  dumped=$(now)
  counts "$source_url" source >"$work/after"
  dropdb --if-exists --maintenance-db="$maintenance_url" "$target_db" 2>"$work/db.log" \
    || fail "dropping $target_db: $(tail -1 "$work/db.log")"
  createdb --maintenance-db="$maintenance_url" "$target_db" 2>"$work/db.log" \
    || fail "creating $target_db: $(tail -1 "$work/db.log")"
  restore_started=$(now)
  pg_restore --exit-on-error --no-owner -j "${DRILL_JOBS:-2}" -d "$target_url" "$dump" 2>"$work/restore.log" \
    || fail "pg_restore: $(tail -1 "$work/restore.log")"
  restored=$(now)
  echo "dumped $source_db in $(seconds "$started" "$dumped") s ($(du -h "$dump" | cut -f1) at $dump), restored into $target_db in $(seconds "$restore_started" "$restored") s"
else
  counts "$source_url" source >"$work/before"
  cp "$work/before" "$work/after"
fi

counts "$target_url" "the restored copy" >"$work/target"
LC_ALL=C join -a 1 -e missing -o 0,1.2,2.2 "$work/before" "$work/after" >"$work/source"
mismatch=$(LC_ALL=C join -a 1 -a 2 -e missing -o 0,1.2,1.3,2.2 "$work/source" "$work/target" | awk '
  $4 == "missing" || $2 == "missing" { print $1 " is missing from " ($4 == "missing" ? "the restored copy" : "the source"); exit }
  { low = ($2 < $3 ? $2 : $3); high = ($2 < $3 ? $3 : $2) }
  $4 + 0 < low + 0 || $4 + 0 > high + 0 {
    print $1 " has " $4 " rows in the restored copy, " ($2 == $3 ? $2 : "between " low " and " high) " in the source"; exit
  }')
[ -z "$mismatch" ] || fail "row counts: $mismatch"
tables=$(wc -l <"$work/target")
rows=$(awk '{ n += $2 } END { print n + 0 }' "$work/target")

# The restored copy through the application's own eyes: its settings, no replica, and no pool
# (one-off commands: a pool's background workers only slow their exit).
DATABASE_URL="$target_url" REPLICA_URL="" DATABASE_POOL=false "$python" manage.py migrate --check --skip-checks >"$work/migrate.log" 2>&1 \
  || fail "migrations: the restored copy has unapplied migrations or cannot be read ($(tail -1 "$work/migrate.log"))"
DATABASE_URL="$target_url" REPLICA_URL="" DATABASE_POOL=false "$python" manage.py rebuild_balances --check --skip-checks >"$work/ledger.out" 2>"$work/ledger.err" \
  || fail "loyalty ledger: $(tail -1 "$work/ledger.err"), the first: $(head -1 "$work/ledger.out")"
accounts=$(awk '$1 == "loyalty_loyaltyaccount" { print $2 }' "$work/target")

echo "restore drill passed: $target_db holds $tables tables and $rows rows as $source_db does, migrations complete, ${accounts:-0} loyalty balances equal their ledger"
