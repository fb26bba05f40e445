"""``make run``: the embedded default needs nothing installed.

The project runs as a subprocess with no DATABASE_URL, REDIS_URL, CELERY_BROKER_URL or
EMAIL_BACKEND: SQLite, local-memory cache, eager Celery, console email. The one change from
``make run`` is where SQLite lives: the default is ``var/db.sqlite3`` in the repository, and
the test points DATABASE_URL at a file of its own so it never touches a developer's database.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from lms.testing import free_port

# Under pytest-xdist these tests run on one worker, one after another (make test: --dist
# loadgroup): each starts several processes (a prefork Celery worker, runserver and
# manage.py), and the kill test's waits should not also compete with the other's.
pytestmark = pytest.mark.xdist_group("subprocesses")

REPO_ROOT = Path(settings.BASE_DIR)
START_TIMEOUT = 20  # seconds for runserver to answer

# Variables that switch on the production shape (or change the embedded one); the test run
# sets several of them for PostgreSQL and Redis.
PRODUCTION_SWITCHES = (
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL",
    "CELERY_TASK_ALWAYS_EAGER", "EMAIL_BACKEND", "CACHE_KEY_PREFIX", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
)  # fmt: skip


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PRODUCTION_SWITCHES}
    env.update(
        DEBUG="true",  # as make run sets it: development, with the public development SECRET_KEY
        DJANGO_SETTINGS_MODULE="lms.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",  # default: var/db.sqlite3
        PYTHONUNBUFFERED="1",  # the server's stdout (mail) is read after it is terminated
    )
    return env


def _manage(env: dict[str, str], *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _request(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, str, str]:
    """(status, content type, text) for a GET, or a JSON POST when ``body`` is given."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def _wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"runserver exited with {server.returncode}:\n{log.read_text()}")
        try:
            _request(f"{base}/healthz")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"runserver did not answer within {START_TIMEOUT}s:\n{log.read_text()}")


def test_make_run_serves_the_api_docs_admin_and_otp_mail_with_nothing_installed(embedded_env, tmp_path):
    _manage(embedded_env, "migrate", "--noinput")
    seeded = _manage(embedded_env, "seed_demo", "--if-empty", "--no-progress").stdout
    skipped = _manage(embedded_env, "seed_demo", "--if-empty", "--no-progress").stdout
    campaigns = _manage(embedded_env, "seed_demo_campaigns", "--if-empty").stdout
    campaigns_skipped = _manage(embedded_env, "seed_demo_campaigns", "--if-empty").stdout
    loyalty = _manage(embedded_env, "seed_demo_loyalty", "--if-empty").stdout
    loyalty_skipped = _manage(embedded_env, "seed_demo_loyalty", "--if-empty").stdout
    program_id = int(re.search(r"\(id (\d+)\)", loyalty).group(1))
    key = _manage(embedded_env, "create_api_key", "storefront").stdout.strip()
    order = {
        "external_id": "SQLITE-1",
        "customer": {"email": "shopper@example.com"},
        "placed_at": "2026-11-01T10:00:00Z",
        "subtotal": "10.00",
        "total": "10.00",
        "lines": [{"sku": "NOT-IN-CATALOGUE", "quantity": 2, "unit_price": "5.00"}],
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stdout_path, stderr_path = tmp_path / "server.out", tmp_path / "server.err"

    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO_ROOT, env=embedded_env, stdout=stdout, stderr=stderr,
        )  # fmt: skip
        try:
            _wait_until_up(base, server, stderr_path)
            health = _request(f"{base}/readyz")
            docs = _request(f"{base}/api/")
            admin_login = _request(f"{base}/admin/login/")
            otp = _request(f"{base}/api/v1/auth/otp/send", {"email": "newcomer@example.com"})
            ingested = _request(f"{base}/api/v1/commerce/orders/", order, {"Authorization": f"Api-Key {key}"})
            cart = {
                "customer": {"email": "shopper@example.com"},
                "codes": ["diwali20"],
                "lines": [{"sku": "GIFT", "quantity": 3, "unit_price": "2000.00"}],
            }
            integration = {"Authorization": f"Api-Key {key}"}
            evaluated = _request(f"{base}/api/v1/cart/evaluate", cart, integration)
            redeemed = _request(f"{base}/api/v1/redemptions", {**cart, "order_id": "SQLITE-2"}, integration)
            again = _request(f"{base}/api/v1/cart/evaluate", cart, integration)
            spent = _request(
                f"{base}/api/v1/loyalty/redeem",
                {
                    "program_id": program_id,
                    "points": 100,
                    "order_id": "SQLITE-3",
                    "customer": {"email": "shopper@example.com"},
                },
                integration,
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
    server_output = stdout_path.read_text()

    assert health[0] == 200, health
    assert "Created 7 demo campaigns" in campaigns and "nothing to do" in campaigns_skipped
    # The campaigns' facts (counters, earlier uses, per-week uses) read on SQLite as on PostgreSQL.
    assert evaluated[0] == 200, evaluated
    amounts = {d["name"]: d["amount"] for d in json.loads(evaluated[2])["discounts"]}
    assert amounts["Diwali 20% off"] == "500.00"  # 20% of 6000, capped
    assert amounts["Bulk buy"] == "275.00"  # 5% of what is left
    assert redeemed[0] == 201, redeemed
    after = json.loads(again[2])
    assert {r["reason"] for r in after["rejected"] if r["code"] == "diwali20"} == {"customer_limit"}
    assert "Bulk buy" in {d["name"] for d in after["discounts"]}  # 1 of 3 this week
    assert json.loads(health[2]) == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "eager"}}
    assert docs[0] == 200
    assert docs[1].startswith("text/html")
    assert "swagger-ui" in docs[2]
    assert admin_login[0] == 200
    assert 'name="password"' in admin_login[2]
    assert otp[0] == 202, otp
    assert json.loads(otp[2])["expires_in"] == 300
    # The console backend printed the mail; eager Celery sent it within the request.
    assert "To: newcomer@example.com" in server_output
    mailed = re.search(r"verification code is (\d{6})", server_output)
    assert mailed, server_output
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute("SELECT email, sent_at IS NOT NULL FROM accounts_emailotp").fetchall()
        demo_orders = db.execute("SELECT count(*) FROM commerce_order WHERE external_id != 'SQLITE-1'").fetchone()[0]
        lines = db.execute(
            "SELECT l.sku, l.quantity FROM commerce_orderline l JOIN commerce_order o ON o.id = l.order_id "
            "WHERE o.external_id = 'SQLITE-1'"
        ).fetchall()
        inbox = db.execute(
            "SELECT d.channel, d.status, d.title FROM notifications_delivery d "
            "JOIN accounts_user u ON u.id = d.recipient_id WHERE u.email = 'shopper@example.com'"
        ).fetchall()
    assert rows == [("newcomer@example.com", 1)]
    # make run's demo set loads once; the integration API ingests on SQLite too.
    assert demo_orders >= 1000 and "not loaded" in skipped, (seeded, skipped)
    assert ingested[0] == 201, ingested
    assert lines == [("NOT-IN-CATALOGUE", 2)]
    # The demo program earned the demo orders' points, and the new order its own on SQLite:
    # 10 points for ₹10 and the 500-point first-order bonus, less the 100 spent.
    assert "members earned points" in loyalty and "nothing to do" in loyalty_skipped
    # The points-earned and tier messages fanned out in-process on SQLite: the shopper's inbox has them.
    assert sorted(inbox) == [("IN_APP", "SENT", "Welcome to Bronze"), ("IN_APP", "SENT", "You earned 510 points")]
    assert spent[0] == 201, spent
    assert json.loads(spent[2])["balance"] == 410
    assert json.loads(spent[2])["value"] == "10.00"


def test_dev_bootstrap_creates_one_admin_and_prints_the_login_and_docs_url(embedded_env, tmp_path):
    _manage(embedded_env, "migrate", "--noinput")

    first = _manage(embedded_env, "dev_bootstrap", "--port", "8123").stdout

    assert "http://127.0.0.1:8123/admin/" in first
    assert "admin@lms.local / admin" in first
    assert "http://127.0.0.1:8123/api/" in first
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        admins = db.execute("SELECT email, role, is_staff FROM accounts_user WHERE is_superuser").fetchall()
    assert admins == [("admin@lms.local", "ADMIN", 1)]


def test_dev_bootstrap_prints_the_password_it_created_on_every_run_until_it_is_changed(embedded_env):
    _manage(embedded_env, "migrate", "--noinput")
    _manage(embedded_env, "dev_bootstrap")

    second = _manage(embedded_env, "dev_bootstrap").stdout
    change = "from accounts.models import User; u = User.objects.get(); u.set_password('s3cret-of-mine'); u.save()"
    _manage(embedded_env, "shell", "-c", change)
    after_change = _manage(embedded_env, "dev_bootstrap").stdout

    assert "admin@lms.local / admin" in second
    assert "admin@lms.local / (the password you set)" in after_change
    assert "s3cret" not in after_change
