#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer at their default local addresses for `make test`.
# When one is down: start it if its server is installed here, else say what to install.
set -u
cd "$(dirname "$0")/.."

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_HOST=127.0.0.1 REDIS_PORT=6379

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

as_postgres() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    for version in $(ls /etc/postgresql); do
      echo "services: starting PostgreSQL $version (pg_ctlcluster)"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1 | sed 's/^/  /'
    done
    return 0
  fi
  local bin
  bin=$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)
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
  command -v redis-server >/dev/null 2>&1 || return 1
  mkdir -p var
  echo "services: starting Redis"
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$PWD/var" --logfile "$PWD/var/redis.log"
}

status=0
if ! up "$PG_HOST" "$PG_PORT"; then
  if start_postgres; then wait_up PostgreSQL "$PG_HOST" "$PG_PORT" || status=1
  else
    echo "services: PostgreSQL is not reachable on $PG_HOST:$PG_PORT and no server is installed." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@15)," >&2
    echo "  with a 'postgres' role that may connect over TCP without a password (trust), then run make test again." >&2
    status=1
  fi
fi
if ! up "$REDIS_HOST" "$REDIS_PORT"; then
  if start_redis; then wait_up Redis "$REDIS_HOST" "$REDIS_PORT" || status=1
  else
    echo "services: Redis is not reachable on $REDIS_HOST:$REDIS_PORT and no server is installed." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), then run make test again." >&2
    status=1
  fi
fi
# The database the settings name (pytest makes its own test_ copy; makemigrations --check
# reads the migration history of this one and waits on the pool when it is missing).
if [ $status = 0 ] && [ -x .venv/bin/python ]; then
  .venv/bin/python - "${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lms}" <<'PY' || status=1
import sys
from urllib.parse import urlsplit

import psycopg

url = urlsplit(sys.argv[1])
name = url.path.lstrip("/")
with psycopg.connect(sys.argv[1].replace(url.path, "/postgres"), autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"services: created database {name}")
PY
fi
exit $status
