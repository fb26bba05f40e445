"""``make prod``: the production shape, booted the way make prod boots it.

``scripts/prod.sh`` runs against a database of the test's own (``lms_prod_shape...``), the
test run's Redis dbs (through settings, with a key prefix of its own) and a free port, with its
state (secret key, certificate, static files, beat's schedule) in a temporary directory. The
settings are the production ones, unrelaxed: the server speaks https with the certificate
prod.sh made, and the test's client verifies it.
"""

import gzip
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import connection
from django.utils import timezone

from lms.celery import app as celery_app
from lms.testing import free_port

# Under pytest-xdist these tests run on one worker, one after another (make test: --dist
# loadgroup): the boot starts gunicorn, three Celery workers and beat.
pytestmark = pytest.mark.xdist_group("subprocesses")

REPO_ROOT = Path(settings.BASE_DIR)
PROD_SH = str(REPO_ROOT / "scripts" / "prod.sh")
DEMO_PRODUCTS = 40
BOOT_TIMEOUT = 180  # seconds: migrations, demo data, five processes, on a machine busy with the suite

# The test run's own variables that would change the production shape prod.sh sets up.
NOT_INHERITED = (
    "DEBUG", "SECRET_KEY", "JWT_SIGNING_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER", "EMAIL_BACKEND", "STATIC_ROOT", "WHITENOISE_USE_FINDERS", "PORT", "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SENTRY_DSN",
)  # fmt: skip


def _database_url(name: str) -> str:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _drop_database(name: str) -> None:
    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def prod_env(tmp_path, worker_id):
    """The environment a make prod of the test's own is started with (prod.sh adds the rest)."""
    name = "lms_prod_shape" + ("" if worker_id == "master" else f"_{worker_id}")
    _drop_database(name)
    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        PROD_DATABASE_URL=_database_url(name),
        PROD_REDIS_URL=settings.REDIS_URL,
        PROD_BROKER_URL=settings.CELERY_BROKER_URL,
        CACHE_KEY_PREFIX="lms-prod-shape",
        PROD_STATE_DIR=str(tmp_path / "state"),
        PORT=str(free_port()),
        # A smaller demo data set: the same commands, less of the machine's time.
        PROD_SEED_ARGS=f"--products {DEMO_PRODUCTS} --customers 60 --orders 300 --no-progress",
        # One process of each kind: the machine runs the rest of the suite beside it.
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
        OTP_WORKER_CONCURRENCY="1",
        NOTIFICATIONS_WORKER_CONCURRENCY="1",
        DEFAULT_WORKER_CONCURRENCY="1",
        PYTHONUNBUFFERED="1",
    )
    celery_app.control.purge()  # tasks other tests left on this run's broker db
    yield env
    celery_app.control.purge()
    _drop_database(name)


def _https(state: Path) -> ssl.SSLContext:
    """A client that trusts prod.sh's self-signed certificate and nothing else."""
    return ssl.create_default_context(cafile=str(state / "tls" / "cert.pem"))


def _get(url: str, context: ssl.SSLContext, headers: dict | None = None, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _wait_for(condition, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds} s; make prod's output:\n{log.read_text()[-6000:]}")
        time.sleep(0.25)


def _descendants(root: int) -> set[int]:
    """Every live process under ``root`` (honcho starts each of its processes in a session of
    its own, so a process group or session would miss them)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _overdue_beat_schedule(path: Path) -> None:
    """Beat's schedule file as a beat stopped ten minutes ago left it: outbox-sweep (every
    minute) is overdue, so the new beat sends it on its first tick, not a minute later."""
    scheduler = PersistentScheduler(app=celery_app, schedule_filename=str(path))
    scheduler.schedule["outbox-sweep"].last_run_at = timezone.now() - timedelta(minutes=10)
    scheduler.sync()
    scheduler.close()


def _stop(honcho: subprocess.Popen, processes: set[int]) -> None:
    """Whatever is still running after a failed test: killed by the pids this test started."""
    for pid in processes | {honcho.pid}:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    honcho.wait(timeout=10)


@pytest.mark.timeout(360)
def test_make_prod_serves_demo_data_runs_tasks_and_beat_reloads_and_stops_cleanly(prod_env, tmp_path):
    state = Path(prod_env["PROD_STATE_DIR"])
    state.mkdir()
    _overdue_beat_schedule(state / "celerybeat-schedule")
    base, log = f"https://127.0.0.1:{prod_env['PORT']}", tmp_path / "prod.log"
    with log.open("w") as out:
        honcho = subprocess.Popen(
            [PROD_SH], cwd=REPO_ROOT, env=prod_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    processes: set[int] = set()
    try:
        _wait_for(lambda: (state / "tls" / "cert.pem").exists(), 30, "prod.sh made no certificate", log)
        context = _https(state)

        def ready() -> bool:
            try:
                return _get(f"{base}/readyz", context)[0] == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        _wait_for(ready, BOOT_TIMEOUT, "/readyz did not answer 200", log)
        # The printed sign-in is the generated password, which the console accepts.
        banner = log.read_text()
        password = (state / "admin-password").read_text().strip()
        assert f"sign in admin@lms.local / {password}" in banner and f"{base}/admin/" in banner

        # Plain http on the https port is no way in.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{prod_env['PORT']}/readyz", timeout=5)

        created = subprocess.run(
            [PROD_SH, "manage", "create_api_key", "prod-shape-test"],
            cwd=REPO_ROOT, env=prod_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        status, _, body = _get(
            f"{base}/api/v1/commerce/products/?limit=1", context, {"Authorization": f"Api-Key {created.stdout.strip()}"}
        )
        assert status == 200, body
        assert json.loads(body)["count"] == DEMO_PRODUCTS

        # The console's stylesheet under its hashed name, cached for good (a deploy renames it).
        status, headers, page = _get(f"{base}/admin/login/", context)
        assert status == 200 and headers["Strict-Transport-Security"].startswith("max-age=31536000")
        asset = re.search(r"/static/console/console\.[0-9a-f]{12}\.css", page)
        assert asset, page[:2000]
        status, headers, css = _get(f"{base}{asset.group(0)}", context)
        assert status == 200 and css.strip()
        assert headers["Cache-Control"] == "max-age=315360000, public, immutable"

        # A task a request enqueues runs on its queue's worker (OTP mail: the otp worker prints it).
        status, _, body = _get(f"{base}/api/v1/auth/otp/send", context, body={"email": "prod-shape@example.com"})
        assert status == 202, body

        def otp_mailed() -> bool:
            text = log.read_text()
            return "prod-shape@example.com" in text and re.search(r"otp_email_send_task\[[^]]+\] succeeded", text)

        _wait_for(otp_mailed, 30, "the OTP mail task did not run on the otp worker", log)
        assert re.search(r"worker_otp\.1 +\| .*otp_email_send_task\[[^]]+\] succeeded", log.read_text())

        # Beat sends the overdue job and the default queue's worker runs it.
        def swept() -> bool:
            text = log.read_text()
            return "Sending due task outbox-sweep" in text and re.search(
                r"worker_default\.1 +\| .*outbox_sweep_task\[[^]]+\] succeeded", text
            )

        _wait_for(swept, 30, "beat's overdue outbox-sweep did not run", log)

        # kill -HUP of the master: a new web worker, and the site answers throughout.
        master = int((state / "web.pid").read_text())
        booted = log.read_text().count("Booting worker with pid")
        os.kill(master, signal.SIGHUP)
        _wait_for(lambda: log.read_text().count("Booting worker with pid") > booted, 30, "no reload", log)
        assert _get(f"{base}/readyz", context)[0] == 200
        assert int((state / "web.pid").read_text()) == master

        processes = _descendants(honcho.pid)
        assert len(processes) >= 10  # 5 honcho runners, gunicorn + worker, 3 Celery masters + pools, beat
        honcho.send_signal(signal.SIGTERM)
        assert honcho.wait(timeout=30) == 128 + signal.SIGTERM  # honcho's answer to a SIGTERM
        _wait_for(lambda: not any(_alive(pid) for pid in processes), 10, "processes outlived honcho", log)
        # Each stopped on its own (warm shutdown), not by honcho's SIGKILL five seconds on.
        for name in ("web", "worker_otp", "worker_notifications", "worker_default", "beat"):
            assert f"{name}.1 stopped (rc=0)" in log.read_text()
    finally:
        _stop(honcho, processes or _descendants(honcho.pid))


def _prod_environment(tmp_path, **overrides: str) -> dict[str, str]:
    """The exact environment make prod runs its processes with (``scripts/prod.sh env``)."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        PROD_STATE_DIR=str(tmp_path / "state"), PROD_DATABASE_URL=_database_url(connection.settings_dict["NAME"])
    )
    printed = subprocess.run([PROD_SH, "env"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    prod = dict(line.split("=", 1) for line in printed.stdout.splitlines() if "=" in line)
    return {**prod, **overrides}


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_check_deploy_is_clean_on_make_prods_environment_and_fails_on_a_bad_one(tmp_path):
    env = _prod_environment(tmp_path)
    assert env["DEBUG"] == "false" and "SECURE_SSL_REDIRECT" not in env and "SECURE_HSTS_SECONDS" not in env
    clean = _check_deploy(env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no issues (0 silenced)" in clean.stdout

    debug = _check_deploy({**env, "DEBUG": "true"})
    assert debug.returncode != 0 and "security.W018" in debug.stderr
    plain_http = _check_deploy({**env, "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false"})
    assert plain_http.returncode != 0
    assert "security.W008" in plain_http.stderr and "security.W012" in plain_http.stderr


def test_prod_sh_rerun_keeps_its_secret_certificate_and_admin_password(tmp_path):
    first = _prod_environment(tmp_path)
    state = tmp_path / "state"
    made = {name: (state / name).read_bytes() for name in ("secret-key", "admin-password", "tls/cert.pem")}
    second = _prod_environment(tmp_path)
    assert second["SECRET_KEY"] == first["SECRET_KEY"] and len(first["SECRET_KEY"]) >= 50
    assert {name: (state / name).read_bytes() for name in made} == made
    assert oct((state / "secret-key").stat().st_mode & 0o777) == "0o600"
    assert oct((state / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"


class SentryIngest:
    """A local stand-in for Sentry's ingest: keeps the events of every envelope POSTed to it."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                ingest.events.extend(_envelope_events(raw))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "SentryIngest":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _envelope_events(raw: bytes) -> list[dict]:
    """The ``event`` items of a Sentry envelope: a header line, then per item a header line and
    a payload (``length`` bytes when its header gives one, else up to the newline)."""
    events, rest = [], raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    while rest.strip():
        header_line, rest = rest.split(b"\n", 1)
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :].lstrip(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


# Run with SENTRY_DSN in the environment (Sentry starts at settings import): a view that fails,
# requested through the WSGI application gunicorn serves, and a Celery task that fails, run by
# Celery's tracer (eagerly: the tracer is the part a worker adds, and Sentry hooks into it).
SENTRY_PROBE = """
import django, sentry_sdk
django.setup()
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from werkzeug.test import Client
import lms.urls
from lms.celery import app
from lms.wsgi import application

@csrf_exempt
def failing_view(request):
    raise ZeroDivisionError("a view failed")

lms.urls.urlpatterns.insert(0, path("sentry-probe", failing_view))
response = Client(application).post(
    "/sentry-probe", json={"email": "body@example.com"}, base_url="https://127.0.0.1",
    headers={"Authorization": "Bearer secret-token-xyz", "Cookie": "sessionid=secret-cookie-xyz"},
)
print("status", response.status_code)

@app.task(name="lms.tests.sentry_probe_task")
def failing_task(email):
    raise LookupError("a task failed")

try:
    failing_task.apply(kwargs={"email": "someone@example.com"})
except LookupError:
    pass
sentry_sdk.flush(timeout=10)
"""


def test_sentry_by_env_alone_reports_request_and_task_errors_without_pii(tmp_path):
    with SentryIngest() as ingest:
        env = _prod_environment(
            tmp_path,
            SENTRY_DSN=ingest.dsn,
            SENTRY_ENVIRONMENT="staging",
            SENTRY_RELEASE="lms@1.2.3",
            CELERY_TASK_ALWAYS_EAGER="true",
        )
        probe = subprocess.run(
            [sys.executable, "-c", SENTRY_PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert probe.returncode == 0, probe.stderr
        assert "status 500" in probe.stdout
        _wait = time.monotonic() + 10
        while len(ingest.events) < 2 and time.monotonic() < _wait:
            time.sleep(0.1)

    by_type = {event["exception"]["values"][-1]["type"]: event for event in ingest.events}
    assert set(by_type) == {"ZeroDivisionError", "LookupError"}, ingest.events
    request_event, task_event = by_type["ZeroDivisionError"], by_type["LookupError"]
    assert request_event["environment"] == "staging" and request_event["release"] == "lms@1.2.3"
    assert request_event.get("request", {}).get("url", "").endswith("/sentry-probe"), request_event
    assert task_event["extra"]["celery-job"]["task_name"] == "lms.tests.sentry_probe_task"
    everything = json.dumps(ingest.events)
    for secret in ("secret-token-xyz", "secret-cookie-xyz", "body@example.com", "someone@example.com"):
        assert secret not in everything
    assert "ip_address" not in json.dumps(request_event.get("user", {}))


def test_sentry_stays_off_without_a_dsn(tmp_path):
    env = _prod_environment(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-c", "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "False"


SLOW_APP = """
import time
from pathlib import Path

from celery import Celery

app = Celery("prodslow", broker={broker!r})
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, task_default_queue="default")


@app.task(name="prodslow.slow")
def slow(path):
    Path(path + ".started").touch()
    time.sleep(3)
    Path(path).write_text("done")
"""


@pytest.mark.timeout(120)
def test_a_procfile_worker_stopped_as_honcho_stops_it_finishes_its_running_task(tmp_path):
    """honcho sends SIGTERM to each process's whole group; the worker's pool processes must not
    die of it mid-task: the main process's warm shutdown waits for the task to end."""
    (tmp_path / "prodslow.py").write_text(SLOW_APP.format(broker=settings.CELERY_BROKER_URL))
    procfile = dict(line.split(": ", 1) for line in (REPO_ROOT / "Procfile").read_text().splitlines() if ": " in line)
    command = procfile["worker_default"].replace(" -A lms ", " -A prodslow ")
    assert " -A prodslow " in command
    env = {
        # Not Django: Celery's Django fix-up would load the project's settings into the app.
        **{key: value for key, value in os.environ.items() if key not in (*NOT_INHERITED, "DJANGO_SETTINGS_MODULE")},
        "PYTHONPATH": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DEFAULT_WORKER_CONCURRENCY": "1",
    }
    celery_app.control.purge()
    log, done = tmp_path / "worker.log", tmp_path / "done"
    with log.open("w") as out:
        # As honcho starts a Procfile line: through the shell, in a session of its own.
        worker = subprocess.Popen(
            command, shell=True, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    processes: set[int] = set()
    try:
        _wait_for(lambda: "ready." in log.read_text() or worker.poll() is not None, 60, "no worker", log)
        assert worker.poll() is None, log.read_text()
        celery_app.conf.task_always_eager = False  # conftest.py's autouse fixture restores it
        celery_app.send_task("prodslow.slow", args=[str(done)], queue="default")
        _wait_for(Path(f"{done}.started").exists, 30, "the slow task did not start", log)
        processes = _descendants(worker.pid)
        os.killpg(worker.pid, signal.SIGTERM)  # honcho's stop (honcho.compat.ProcessManager.terminate)
        assert worker.wait(timeout=30) == 0, log.read_text()
        assert done.read_text() == "done"
        assert "WorkerLostError" not in log.read_text()
        _wait_for(lambda: not any(_alive(pid) for pid in processes), 10, "pool processes outlived the worker", log)
    finally:
        for pid in processes | {worker.pid}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
        celery_app.control.purge()
