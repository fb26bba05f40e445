"""What `make test`'s helpers decide on a machine without PostgreSQL, Redis, Chromium or venv.

scripts/services.sh, scripts/chromium.sh and scripts/venv.sh run for real in a copy of scripts/,
on a PATH holding only the basic tools they need: without apt-get or the servers the machine is
one without them. PG_CLUSTERS_DIR and PG_LIB_DIR, where Debian's PostgreSQL lives, point at empty
directories; the addresses are ports nothing listens on. The servers that do run are real (the
suite's Redis and PostgreSQL, a redis-server the script starts). Installing packages needs root
and the network: that path was tried on a bare Debian chroot (README); here a stand-in apt-get
that fails like an offline one shows what the script asks of it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from lms.testing import free_port

pytestmark = pytest.mark.xdist_group("subprocesses")

REPO = Path(__file__).resolve().parents[2]
TOOLS = "bash env id seq sed sleep dirname ls sort tail grep mkdir cat rm".split()
ADVICE_PG_AND_REDIS = "services: PostgreSQL and Redis are not installed here: "


def _everyones_python() -> str:
    # The sandbox may run as nobody, who cannot reach a python under /root (pyenv).
    found = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    return found or sys._base_executable


class Sandbox:
    """A copy of scripts/ and a PATH of chosen tools, readable by an unprivileged user."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        shutil.copytree(REPO / "scripts", root / "repo" / "scripts")
        for tool in TOOLS:
            os.symlink(shutil.which(tool), self.bin / tool)
        os.symlink(_everyones_python(), self.bin / "python3")
        (root / "empty").mkdir()

    def add_tool(self, name: str, target: str) -> None:
        os.symlink(target, self.bin / name)

    def fake_apt_get(self) -> Path:
        """An apt-get that writes down its arguments and fails, as an offline one does."""
        calls = self.root / "apt-get.calls"
        script = self.bin / "apt-get"
        script.write_text(
            f'#!/bin/sh\necho "$*" >> {calls}\necho "E: Temporary failure resolving deb.debian.org"\nexit 100\n'
        )
        script.chmod(0o755)
        return calls

    def run(self, script: str, *args: str, as_nobody: bool = False, **env: str) -> subprocess.CompletedProcess:
        environ = {
            "PATH": str(self.bin),
            "PG_CLUSTERS_DIR": str(self.root / "empty"),
            "PG_LIB_DIR": str(self.root / "empty"),
            "TEST_DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/lms",
            "TEST_REDIS_URL": f"redis://127.0.0.1:{free_port()}/15",
            **env,
        }
        command = [str(self.root / "repo" / "scripts" / script), *args]
        if as_nobody and os.geteuid() == 0:
            command = [shutil.which("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def sandbox():
    root = Path(tempfile.mkdtemp(prefix="lms-fresh-"))
    root.chmod(0o755)
    yield Sandbox(root)
    shutil.rmtree(root, ignore_errors=True)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_services_without_servers_or_a_package_manager_names_them_and_fails(sandbox):
    result = sandbox.run("services.sh")

    assert result.returncode == 1
    assert result.stdout == ""
    assert _lines(result.stderr) == [
        ADVICE_PG_AND_REDIS + "install PostgreSQL and Redis with this system's package manager, then make test again"
    ]


def test_services_not_root_on_debian_prints_the_apt_get_command_and_installs_nothing(sandbox):
    calls = sandbox.fake_apt_get()

    result = sandbox.run("services.sh", as_nobody=True)

    assert result.returncode == 1
    assert _lines(result.stderr) == [
        ADVICE_PG_AND_REDIS + "run `sudo apt-get install -y postgresql redis-server`, then make test again"
    ]
    assert not calls.exists()


def test_services_names_only_the_missing_server(sandbox):
    # The suite's own Redis answers: only PostgreSQL is missing, and only it is named.
    result = sandbox.run("services.sh", as_nobody=True, TEST_REDIS_URL=os.environ["REDIS_URL"])

    assert result.returncode == 1
    assert _lines(result.stderr) == [
        "services: PostgreSQL is not installed here: install PostgreSQL with this system's package manager, "
        "then make test again"
    ]


def test_services_as_root_on_debian_installs_with_apt_get_and_fails_clearly_offline(sandbox):
    calls = sandbox.fake_apt_get()

    result = sandbox.run("services.sh")

    assert result.returncode == 1
    if os.geteuid() != 0:  # a developer's run: the same advice as any user's
        assert "sudo apt-get install -y postgresql redis-server" in result.stderr
        assert not calls.exists()
        return
    assert "installing postgresql redis-server from the distribution's packages" in result.stdout
    asked = calls.read_text().splitlines()
    install = "-o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends postgresql redis-server"
    # Stale lists are the usual cause of a failed install: one update, then one more try.
    # (the update fails too here, so there is no second install)
    assert asked[-2:] == [install, "-o DPkg::Lock::Timeout=300 -q update"]
    assert asked.count(install) == 1
    assert "apt-get: E: Temporary failure resolving deb.debian.org" in result.stderr
    assert _lines(result.stderr)[-1] == (
        "services: apt-get could not install postgresql redis-server (offline? see var/apt-get.log); "
        "fix that and run make test again"
    )


def test_services_leaves_a_server_on_another_machine_alone(sandbox):
    result = sandbox.run("services.sh", TEST_DATABASE_URL="postgres://postgres@192.0.2.1:5432/lms")

    assert result.returncode == 1
    assert "services: PostgreSQL does not answer on 192.0.2.1:5432 (another machine: nothing to start here)" in (
        result.stderr
    )
    assert "install" not in result.stderr


def test_services_starts_an_installed_redis_on_the_urls_port(sandbox):
    server = shutil.which("redis-server")
    assert server, "the suite runs on Redis: redis-server is expected on this machine"
    sandbox.add_tool("redis-server", server)
    port = free_port()
    pg_url = os.environ["DATABASE_URL"]
    pg = urlsplit(pg_url)
    try:
        result = sandbox.run("services.sh", TEST_DATABASE_URL=pg_url, TEST_REDIS_URL=f"redis://127.0.0.1:{port}/3")

        assert result.returncode == 0, result.stderr
        assert _lines(result.stdout) == [
            "services: starting Redis",
            f"services: PostgreSQL on {pg.hostname}:{pg.port or 5432} and Redis on 127.0.0.1:{port} answer",
        ]
        assert redis.Redis(port=port).ping()
    finally:
        try:
            redis.Redis(port=port).shutdown(nosave=True)
        except redis.ConnectionError:
            pass


def test_services_with_both_up_says_one_line_and_makes_the_database():
    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"{url.path.lstrip('/')}_services_check"
    address = f"{url.hostname}:{url.port or 5432}"
    redis_address = urlsplit(os.environ["REDIS_URL"]).netloc
    env = {
        **os.environ,
        "TEST_DATABASE_URL": url._replace(path=f"/{name}").geturl(),
        "TEST_REDIS_URL": os.environ["REDIS_URL"],
    }
    try:
        first = subprocess.run([REPO / "scripts/services.sh"], env=env, capture_output=True, text=True, check=False)
        again = subprocess.run([REPO / "scripts/services.sh"], env=env, capture_output=True, text=True, check=False)
    finally:
        subprocess.run([sys.executable, "-c", _DROP, url._replace(path="/postgres").geturl(), name], check=True)

    answer = f"services: PostgreSQL on {address} and Redis on {redis_address} answer"
    assert (first.returncode, _lines(first.stdout)) == (0, [f"services: created database {name}", answer])
    assert (again.returncode, _lines(again.stdout), again.stderr) == (0, [answer], "")


_DROP = """
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}"')
"""


def test_chromium_without_a_browser_or_apt_get_says_what_to_install_and_never_fails(sandbox):
    result = sandbox.run("chromium.sh")

    assert result.returncode == 0
    assert _lines(result.stderr) == [
        "chromium: no Chromium found: install Chromium with this system's package manager "
        "(or set CHROMIUM_PATH), else the browser tests skip"
    ]


def test_chromium_path_that_is_not_a_program_skips_the_browser_tests(sandbox):
    result = sandbox.run("chromium.sh", CHROMIUM_PATH=str(sandbox.root / "no-such-chromium"))

    assert result.returncode == 0
    assert _lines(result.stderr) == [
        f"chromium: CHROMIUM_PATH={sandbox.root / 'no-such-chromium'} is not an executable; the browser tests will skip"
    ]


def test_venv_without_the_python_names_it(sandbox):
    result = sandbox.run("venv.sh", "python3.99", ".venv")

    assert result.returncode == 1
    assert _lines(result.stderr) == [
        "venv: python3.99 not found (the project needs Python 3.11 or newer): install Python 3.11 or newer with "
        "this system's package manager, then make again"
    ]


def test_venv_replaces_a_venv_left_without_pip(sandbox):
    # What Debian's python3 -m venv leaves when ensurepip is missing: a python and no pip, which
    # `test -x .venv/bin/python` took for a finished venv.
    venv = sandbox.root / "repo" / ".venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", venv], check=True)
    (sandbox.bin / "python3").unlink()
    sandbox.add_tool("python3", sys._base_executable)
    assert subprocess.run([venv / "bin/python", "-m", "pip", "--version"], capture_output=True).returncode == 1

    result = sandbox.run("venv.sh", "python3", ".venv")

    assert result.returncode == 0, result.stderr
    assert subprocess.run([venv / "bin/python", "-m", "pip", "--version"], capture_output=True).returncode == 0
