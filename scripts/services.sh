#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer where `make test` looks for them (TEST_DATABASE_URL,
# TEST_REDIS_URL; by default 127.0.0.1:5432 and 127.0.0.1:6379). Both up: one line. One down but
# installed here: start it. Not installed: as root on Debian/Ubuntu, install the distribution's
# packages and start them; anywhere else print the one command that installs them and exit 1.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/packages.sh

# Where Debian's postgresql packages keep their clusters and servers (the tests point these at
# empty directories to play a machine without them).
PG_CLUSTERS_DIR=${PG_CLUSTERS_DIR:-/etc/postgresql}
PG_LIB_DIR=${PG_LIB_DIR:-/usr/lib/postgresql}

read -r PG_HOST PG_PORT REDIS_HOST REDIS_PORT < <(
  python3 - "${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lms}" "${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" <<'PY'
import sys
from urllib.parse import urlsplit

pg, redis = urlsplit(sys.argv[1]), urlsplit(sys.argv[2])
print(pg.hostname or "127.0.0.1", pg.port or 5432, redis.hostname or "127.0.0.1", redis.port or 6379)
PY
)

up() {  # host port -> 0 when something accepts TCP connections there
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

wait_up() {  # name host port
  for _ in $(seq 1 30); do up "$2" "$3" && return 0; sleep 1; done
  echo "services: $1 did not come up on $2:$3" >&2
  return 1
}

on_this_machine() {  # host -> 0 for a loopback address: only those are ours to start or install
  case "$1" in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac
}

as_postgres() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_clusters() {  # Debian's clusters, one "version/name" a line
  command -v pg_ctlcluster >/dev/null 2>&1 || return 0
  local dir
  for dir in "$PG_CLUSTERS_DIR"/*/*; do
    [ -f "$dir/postgresql.conf" ] && echo "$(basename "$(dirname "$dir")")/$(basename "$dir")"
  done
  return 0
}

pg_ctl_bin() {  # Homebrew's postgresql@N is keg-only: its pg_ctl is not on the PATH
  command -v pg_ctl 2>/dev/null ||
    ls -d "$PG_LIB_DIR"/*/bin/pg_ctl /opt/homebrew/opt/postgresql@*/bin/pg_ctl \
      /usr/local/opt/postgresql@*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1
}

pg_installed() { [ -n "$(pg_clusters)" ] || [ -n "$(pg_ctl_bin)" ]; }
redis_installed() { command -v redis-server >/dev/null 2>&1; }

trust_postgres_role() {  # version/name of a cluster apt-get created just now, never an older one
  local hba="$PG_CLUSTERS_DIR/$1/pg_hba.conf"
  # Debian's new clusters ask TCP clients for a scram password; the tests connect as postgres
  # with none. The first matching pg_hba line wins, so these go on top.
  sed -i '1i # make test (scripts/services.sh): the postgres role connects over TCP from this machine without a password\
host all postgres 127.0.0.1/32 trust\
host all postgres ::1/128 trust' "$hba" || return 1
  pg_ctlcluster --skip-systemctl-redirect "${1%/*}" "${1#*/}" reload >/dev/null 2>&1
  echo "services: PostgreSQL cluster $1 (created by this install): role postgres may connect over TCP from 127.0.0.1 and ::1 without a password ($hba)"
}

start_postgres() {
  local cluster
  if [ -n "$(pg_clusters)" ]; then
    local refused=0 output
    for cluster in $(pg_clusters); do
      echo "services: starting PostgreSQL $cluster (pg_ctlcluster)"
      output=$(pg_ctlcluster --skip-systemctl-redirect "${cluster%/*}" "${cluster#*/}" start 2>&1) && continue
      sed 's/^/  /' <<<"$output"
      # Only root or the cluster's owner may start it: no use waiting for it to come up.
      if [ "$(id -u)" != 0 ]; then
        echo "services: start it as root: run \`sudo pg_ctlcluster ${cluster%/*} ${cluster#*/} start\`, then make test again" >&2
        refused=1
      fi
    done
    return $refused
  fi
  local bin
  bin=$(pg_ctl_bin)
  [ -n "$bin" ] || return 1
  local dir="$PWD/var/pgdata"
  mkdir -p var && { [ "$(id -u)" != 0 ] || chown postgres "$PWD/var" 2>/dev/null || true; }
  if [ ! -f "$dir/PG_VERSION" ]; then
    echo "services: creating a local PostgreSQL cluster in var/pgdata"
    as_postgres "$(dirname "$bin")/initdb" -D "$dir" -U postgres --auth=trust >/dev/null || return 1
  fi
  echo "services: starting PostgreSQL from var/pgdata"
  as_postgres "$bin" -D "$dir" -l "$dir/server.log" -o "-p $PG_PORT -k /tmp -c listen_addresses=$PG_HOST" start >/dev/null
}

start_redis() {
  redis_installed || return 1
  mkdir -p var
  echo "services: starting Redis"
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$PWD/var" --logfile "$PWD/var/redis.log"
}

install_missing() {  # apt-packages... -> 0 when apt-get installed them (new clusters trusted)
  local before cluster
  before=$(pg_clusters)
  echo "services: installing $* from the distribution's packages (apt-get as root; log in var/apt-get.log)"
  apt_install "$@" || return 1
  for cluster in $(pg_clusters); do
    grep -qxF "$cluster" <<<"$before" || trust_postgres_role "$cluster" || return 1
  done
}

pg_down=0 redis_down=0
up "$PG_HOST" "$PG_PORT" || pg_down=1
up "$REDIS_HOST" "$REDIS_PORT" || redis_down=1

status=0
for server in PostgreSQL Redis; do
  if [ $server = PostgreSQL ]; then down=$pg_down host=$PG_HOST port=$PG_PORT; else
    down=$redis_down host=$REDIS_HOST port=$REDIS_PORT
  fi
  if [ "$down" = 1 ] && ! on_this_machine "$host"; then
    echo "services: $server does not answer on $host:$port (another machine: nothing to start here)" >&2
    status=1
  fi
done
[ $status = 0 ] || exit 1

names=() apt=() brew=() dnf=()
if [ $pg_down = 1 ] && ! pg_installed; then
  names+=(PostgreSQL) apt+=(postgresql) brew+=(postgresql@16) dnf+=(postgresql-server)
fi
if [ $redis_down = 1 ] && ! redis_installed; then
  names+=(Redis) apt+=(redis-server) brew+=(redis) dnf+=(redis)
fi
if [ ${#names[@]} -gt 0 ]; then
  if ! can_apt_install; then
    what="${names[*]}" verb=is
    [ ${#names[@]} = 1 ] || verb=are
    echo "services: ${what/ / and } $verb not installed here: $(install_advice "${apt[*]}" "${brew[*]}" \
      "${dnf[*]}" "${what/ / and }"), then make test again" >&2
    exit 1
  fi
  if ! install_missing "${apt[@]}"; then
    echo "services: apt-get could not install ${apt[*]} (offline? see var/apt-get.log); fix that and run make test again" >&2
    exit 1
  fi
fi

# A package's own start-up (Debian starts what it installs where it can) may have brought one up.
if [ $pg_down = 1 ] && ! up "$PG_HOST" "$PG_PORT"; then
  { start_postgres && wait_up PostgreSQL "$PG_HOST" "$PG_PORT"; } || status=1
fi
if [ $redis_down = 1 ] && ! up "$REDIS_HOST" "$REDIS_PORT"; then
  { start_redis && wait_up Redis "$REDIS_HOST" "$REDIS_PORT"; } || status=1
fi
[ $status = 0 ] || exit 1

# The database the settings name (pytest makes its own test_ copy; makemigrations --check
# reads the migration history of this one and waits on the pool when it is missing).
if [ -x .venv/bin/python ]; then
  .venv/bin/python - "${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lms}" <<'PY' || exit 1
import sys
from urllib.parse import urlsplit

import psycopg

url = urlsplit(sys.argv[1])
name = url.path.lstrip("/")
try:
    conn = psycopg.connect(sys.argv[1].replace(url.path, "/postgres"), autocommit=True, connect_timeout=5)
except psycopg.OperationalError as error:
    reason = str(error).strip().splitlines()[-1]
    sys.exit(
        f"services: PostgreSQL on {url.hostname}:{url.port or 5432} refused role {url.username or 'postgres'}"
        f" ({reason}); make test connects over TCP without a password: allow it in pg_hba.conf"
        f" (host all {url.username or 'postgres'} 127.0.0.1/32 trust) and reload PostgreSQL"
    )
with conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"services: created database {name}")
PY
fi
echo "services: PostgreSQL on $PG_HOST:$PG_PORT and Redis on $REDIS_HOST:$REDIS_PORT answer"
