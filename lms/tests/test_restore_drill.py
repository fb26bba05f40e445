"""The restore drill (scripts/restore_drill.sh) on the demo data: it passes on a faithful
restore, and fails with one line when the restored copy's ledger or row counts are off.

The source is a database of its own (``<test database>_drill_src``): the test database's
migrated schema copied with pg_dump (a second or two, where migrating costs twenty), then the
demo data seeded by the project's own commands. The restored copy is ``<test database>_drill``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

# django_db: pytest-django sets up the test database (the source's schema) only for a run
# with a test that asks for it.
pytestmark = [pytest.mark.xdist_group("subprocesses"), pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "scripts" / "restore_drill.sh"


def _url(conf: dict, name: str) -> str:
    password = f":{conf['PASSWORD']}" if conf["PASSWORD"] else ""
    return (
        f"postgres://{conf['USER'] or 'postgres'}{password}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{name}"
    )


def _run(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if check and done.returncode:
        pytest.fail(f"{' '.join(args[:3])} exited {done.returncode}: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    return done


@pytest.fixture(scope="module")
def drill(django_db_setup, tmp_path_factory):
    """(source url, target name, environment): the demo data seeded into the source."""
    conf = connections[DEFAULT_DB_ALIAS].settings_dict
    # Named after the test database, never after a developer's own (this drops what it names).
    assert conf["NAME"].startswith("test_"), conf["NAME"]
    source, target = f"{conf['NAME']}_drill_src", f"{conf['NAME']}_drill"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "DRILL_DIR": str(tmp_path_factory.mktemp("drill")),
        "DATABASE_POOL": "false",
        "REPLICA_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    admin = _url(conf, "postgres")
    for name in (source, target):
        _run("dropdb", "--if-exists", f"--maintenance-db={admin}", name, env=env)
    _run("createdb", f"--maintenance-db={admin}", source, env=env)
    schema = subprocess.run(
        ["pg_dump", "--no-owner", _url(conf, conf["NAME"])], check=True, capture_output=True, timeout=120
    ).stdout
    subprocess.run(
        ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", _url(conf, source)],
        input=schema,
        check=True,
        capture_output=True,
        timeout=120,
    )
    seeded = {**env, "DATABASE_URL": _url(conf, source)}
    _run(sys.executable, "manage.py", "seed_demo", "--no-progress", "--skip-checks", env=seeded)
    _run(sys.executable, "manage.py", "seed_demo_loyalty", "--skip-checks", env=seeded)
    yield _url(conf, source), target, env
    for name in (source, target):
        _run("dropdb", "--if-exists", f"--maintenance-db={admin}", name, env=env, check=False)


def _psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, url], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def state() -> dict:
    return {"passed": None, "dirty": True}


@pytest.fixture
def restored(drill, state):
    """The drill's run on the demo data (source url, target url, environment, its output):
    run once, again only after a test left the restored copy changed."""
    source_url, target, env = drill
    if state["dirty"]:
        state["passed"] = _run("bash", str(DRILL), source_url, target, env=env, check=False)
        state["dirty"] = False
    return source_url, f"{source_url.rsplit('/', 1)[0]}/{target}", env, state["passed"]


def test_the_drill_restores_the_demo_data_and_checks_it(restored):
    source_url, target_url, _, done = restored

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"dumped {source_url.rsplit('/', 1)[1]} in ")
    assert lines[-1].startswith(f"restore drill passed: {target_url.rsplit('/', 1)[1]} holds ")
    accounts = int(_psql(target_url, "SELECT count(*) FROM loyalty_loyaltyaccount"))
    assert accounts > 0 and f"{accounts} loyalty balances equal their ledger" in lines[-1]
    ledger = "SELECT sum(points) FROM loyalty_pointstransaction"
    assert _psql(target_url, ledger) == _psql(source_url, ledger)


def test_the_drill_fails_in_one_line_on_a_balance_that_is_not_its_ledger(restored):
    source_url, target_url, env, _ = restored
    first = "(SELECT min(id) FROM loyalty_loyaltyaccount)"
    _psql(target_url, f"UPDATE loyalty_loyaltyaccount SET balance = balance + 7 WHERE id = {first}")
    try:
        done = _run("bash", str(DRILL), "--check-only", source_url, target_url.rsplit("/", 1)[1], env=env, check=False)
    finally:
        _psql(target_url, f"UPDATE loyalty_loyaltyaccount SET balance = balance - 7 WHERE id = {first}")

    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("restore drill FAILED: loyalty ledger: 1 mismatched accounts, the first: account ")
    )


def test_the_drill_fails_in_one_line_on_a_row_count_that_differs(restored, state):
    source_url, target_url, env, _ = restored
    state["dirty"] = True
    _psql(
        target_url, "DELETE FROM commerce_interactionevent WHERE id = (SELECT min(id) FROM commerce_interactionevent)"
    )
    events = int(_psql(source_url, "SELECT count(*) FROM commerce_interactionevent"))

    done = _run("bash", str(DRILL), "--check-only", source_url, target_url.rsplit("/", 1)[1], env=env, check=False)

    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"restore drill FAILED: row counts: commerce_interactionevent has {events - 1} rows in the restored copy, "
        f"{events} in the source"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["postgres://postgres@127.0.0.1:5432/lms", "lms"], "its name must contain 'drill'"),
        (["postgres://postgres@127.0.0.1:5432/lms_drill", "lms_drill"], "must not be the source"),
        (["sqlite:///var/db.sqlite3", "x_drill"], "must be a PostgreSQL URL"),
        (["postgres://postgres@127.0.0.1:5432/lms", "x_drill; drop"], "letters, digits and _ only"),
    ],
)
def test_the_drill_refuses_a_target_it_must_not_drop(args, message):
    done = _run("bash", str(DRILL), *args, env={**os.environ, "DATABASE_URL": ""}, check=False)

    assert done.returncode == 1
    assert done.stderr.startswith("restore drill FAILED: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
