#!/usr/bin/env bash
# make prod: the production shape on this machine. The Procfile's processes (gunicorn, one
# Celery worker per queue, beat) under honcho, on PostgreSQL + Redis, with the production
# settings exactly as a deployment gets them (DEBUG off, https only, HSTS, secure cookies,
# hashed static files through whitenoise) and the demo data.
#
# Nothing is relaxed for the laptop: gunicorn itself speaks TLS with a self-signed certificate
# made once into the state directory, so `manage.py check --deploy` is clean on this very
# environment. In a real deployment a load balancer terminates TLS instead (NUM_PROXIES=1).
#
#   scripts/prod.sh                 set up (migrate, static, demo data, console admin) and run
#   scripts/prod.sh manage ARGS...  manage.py with the same environment (create_api_key NAME)
#   scripts/prod.sh env             print that environment (what `check --deploy` is run on)
#
# Env (defaults): PROD_DATABASE_URL (postgres://postgres@127.0.0.1:5432/lms_prod),
# PROD_REDIS_URL (redis://127.0.0.1:6379/0), PROD_BROKER_URL (redis://127.0.0.1:6379/1),
# PORT (8000), PROD_STATE_DIR (var/prod: secret key, certificate, admin password, collected
# static files, beat's schedule), PROD_SEED_ARGS (extra seed_demo arguments, e.g. --customers 50).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
STATE="${PROD_STATE_DIR:-$ROOT/var/prod}"
PYTHON="$ROOT/.venv/bin/python"
mkdir -p "$STATE"

# Made once per machine and kept (var/ is never committed): a re-run keeps its sessions,
# signed links, certificate and admin password.
if [ ! -s "$STATE/secret-key" ]; then
  (umask 077 && "$PYTHON" -c "import secrets; print(secrets.token_urlsafe(50))" > "$STATE/secret-key")
fi
if [ ! -s "$STATE/tls/cert.pem" ] || [ ! -s "$STATE/tls/key.pem" ]; then
  command -v openssl >/dev/null || {
    echo "prod: openssl is needed for the local certificate (Debian/Ubuntu: sudo apt-get install openssl)" >&2
    exit 1
  }
  mkdir -p "$STATE/tls"
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$STATE/tls/key.pem" -out "$STATE/tls/cert.pem" 2>/dev/null)
fi
if [ ! -s "$STATE/admin-password" ]; then
  (umask 077 && "$PYTHON" -c "import secrets; print(secrets.token_urlsafe(12))" > "$STATE/admin-password")
fi

export DEBUG=false
SECRET_KEY="$(cat "$STATE/secret-key")"
export SECRET_KEY
export DATABASE_URL="${PROD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lms_prod}"
export REDIS_URL="${PROD_REDIS_URL:-redis://127.0.0.1:6379/0}"
# Its own db: clearing the cache flushes its whole db, and queued tasks must survive that.
export CELERY_BROKER_URL="${PROD_BROKER_URL:-redis://127.0.0.1:6379/1}"
export PORT="${PORT:-8000}"
export STATIC_ROOT="$STATE/static"
export WEB_CERTFILE="$STATE/tls/cert.pem" WEB_KEYFILE="$STATE/tls/key.pem"
export BEAT_SCHEDULE_FILE="$STATE/celerybeat-schedule" WEB_PIDFILE="$STATE/web.pid" \
  WEB_CONTROL_SOCKET="$STATE/gunicorn.ctl"
BASE_URL="https://127.0.0.1:$PORT"
# Links in mail point at this server, not at make run's default http://127.0.0.1:8000.
export NOTIFICATIONS_BASE_URL="${NOTIFICATIONS_BASE_URL:-$BASE_URL}"
export PASSWORD_RESET_URL="${PASSWORD_RESET_URL:-$BASE_URL/auth/reset-password}"
export PATH="$ROOT/.venv/bin:$PATH"

case "${1:-}" in
  manage) shift; exec python manage.py "$@" ;;
  env) exec env ;;
  "") ;;
  *) echo "usage: scripts/prod.sh [manage ARGS... | env]" >&2; exit 2 ;;
esac

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
# shellcheck disable=SC2086  # PROD_SEED_ARGS is a list of arguments
python manage.py seed_demo --if-empty ${PROD_SEED_ARGS:-}
python manage.py seed_demo_segments --if-empty
python manage.py seed_demo_campaigns --if-empty
python manage.py seed_demo_loyalty --if-empty

# The console's first superuser, for this local try only: made once with the generated
# password, which is printed while it is still the account's (never one an operator set).
LOGIN=$(ADMIN_PASSWORD="$(cat "$STATE/admin-password")" python manage.py shell --no-imports -c '
import os
from django.contrib.auth import get_user_model
User = get_user_model()
email, password = "admin@lms.local", os.environ["ADMIN_PASSWORD"]
admin = User.objects.filter(is_superuser=True).order_by("id").first()
if admin is None:
    admin = User.objects.create_superuser(email=email, password=password, first_name="Admin")
print(f"{admin.email} / " + (password if admin.check_password(password) else "(the password you set)"))
')

cat <<EOF

  LMS, production shape: https on $BASE_URL (self-signed certificate: $STATE/tls/cert.pem)
  Console : $BASE_URL/admin/   sign in $LOGIN
  API key : KEY=\$(scripts/prod.sh manage create_api_key demo-\$(date +%s))
            curl --cacert $STATE/tls/cert.pem -H "Authorization: Api-Key \$KEY" $BASE_URL/api/v1/commerce/products/
  Ready   : $BASE_URL/readyz     API docs: $BASE_URL/api/
  Reload  : kill -HUP \$(cat $STATE/web.pid)   (new web workers on the new code; running requests finish)
  Stop    : Ctrl-C (honcho stops every process; requests and running tasks finish first)
  Mail (OTP codes, reset links) is printed in the worker_otp / worker_notifications log.

EOF
exec honcho start -f Procfile
