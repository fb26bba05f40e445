#!/usr/bin/env bash
# make prod: the production shape on this machine. The Procfile's processes (gunicorn, one
# Celery worker per queue, beat) under honcho, on PostgreSQL + Redis, with DEBUG off and the
# demo data. Only what a laptop cannot have is relaxed: plain http on 127.0.0.1 (no TLS
# proxy in front), so no https redirect and no secure-only cookies.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var

# A secret made once for this machine's production-shaped run (never committed: var/ is ignored).
if [ ! -s var/prod-secret-key ]; then
  .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/prod-secret-key
  chmod 600 var/prod-secret-key
fi

export DEBUG=false
export SECRET_KEY="$(cat var/prod-secret-key)"
export DATABASE_URL="${PROD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lms_prod}"
export REDIS_URL="${PROD_REDIS_URL:-redis://127.0.0.1:6379/0}"
export STATIC_ROOT="${STATIC_ROOT:-$PWD/var/static}"
export PORT="${PORT:-8000}"
export SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false SECURE_HSTS_SECONDS=0
export PATH="$PWD/.venv/bin:$PATH"

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py seed_demo --if-empty
python manage.py seed_demo_segments --if-empty
python manage.py seed_demo_campaigns --if-empty
python manage.py seed_demo_loyalty --if-empty
exec honcho start -f Procfile
