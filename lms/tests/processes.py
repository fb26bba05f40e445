"""Real processes of the project for the tests that need them: gunicorn (with gunicorn.conf.py)
and Celery workers started against the pytest database and the run's Redis databases, each in
its own process group (stopped with everything it forked, even when the test fails), and a
small HTTP client for talking to them as a real client would."""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess on this test's database, cache and broker, with real
    (not eager) Celery: the URLs come from the running settings, so an xdist worker's own
    database and Redis numbers are the ones used."""
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **extra,
    }


def production_env(secret_key: str, **extra: str) -> dict[str, str]:
    """``subprocess_env`` with DEBUG off, as in production, but for plain http on loopback
    (no TLS proxy in front): no https redirect, no HSTS, no secure-only cookies."""
    return subprocess_env(
        DEBUG="false",
        SECRET_KEY=secret_key,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        **extra,
    )


# A shed call is sent again this many times at most (each after about its Retry-After).
OVERLOADED_RETRIES = 30


class Process:
    """A command in its own process group, its output in ``log``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = log.open("w")
        self.popen = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the whole group: gunicorn's and Celery's children too."""
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def stop(self, seconds: float = 10) -> None:
        """``terminate``, then SIGKILL to the group after ``seconds``; a child the leader left
        behind (its group outlives it) goes too."""
        try:
            if self.running():
                self.terminate()
                try:
                    self.popen.wait(timeout=seconds)
                except subprocess.TimeoutExpired:
                    pass
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            self.popen.wait(timeout=10)
            self._log.close()


def stop_all(processes: list["Process"], seconds: float = 10) -> None:
    """Stop every process, all asked at once (their shutdowns overlap)."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + seconds
    for process in processes:
        process.stop(max(deadline - time.monotonic(), 0.1))


def web_server(name: str, port: int, env: dict[str, str], log: Path, *, workers: int = 1, threads: int = 4) -> Process:
    """gunicorn as the Procfile runs it (gunicorn.conf.py), on 127.0.0.1:``port``; each
    process's database pool sized to its threads."""
    env = {
        **env,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": str(workers),
        "WEB_THREADS": str(threads),
        "WEB_TIMEOUT": "60",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": str(threads + 1),
        "DATABASE_POOL_TIMEOUT": "20",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "lms.wsgi"]
    return Process(name, command, env, log)


def celery_worker(
    name: str, queues: str, env: dict[str, str], log: Path, *, concurrency: int = 2, loglevel: str = "info"
) -> Process:
    """A prefork Celery worker on ``queues`` named ``name@<host>``; at ``info`` it logs each task
    it ran ("Task ... succeeded"), which tells the workers' shares apart."""
    env = {**env, "DATABASE_POOL_MIN_SIZE": "1", "DATABASE_POOL_MAX_SIZE": "2", "DATABASE_POOL_TIMEOUT": "20"}
    command = [sys.executable, "-m", "celery", "-A", "lms", "worker", "-n", f"{name}@%h", "-Q", queues]
    command += ["-P", "prefork", "-c", str(concurrency), "--without-mingle", "--without-gossip"]
    command += ["--without-heartbeat", "-l", loglevel]
    return Process(name, command, env, log)


def wait_until(condition: Callable[[], bool], seconds: float, what: str, processes: list[Process]) -> None:
    """Poll ``condition`` until it holds; past the deadline fail with the processes' log tails."""
    deadline = time.monotonic() + seconds
    while not condition():
        dead = [p.name for p in processes if not p.running()]
        if dead or time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}:\n{p.log()[-2500:]}" for p in processes)
            reason = f"{', '.join(dead)} exited" if dead else f"not within {seconds} s"
            pytest.fail(f"{what}: {reason}\n{tails}")
        time.sleep(0.2)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Client:
    """A JSON client of one server, as an outside caller (a fresh connection per call)."""

    port: int
    timeout: float = 60

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        """One call, retried as the API tells a client to when the server shed it: a
        ``503 overloaded`` did nothing (admission control answers before any work), so even a
        POST is safe to send again after its ``Retry-After``. A machine busy with the rest of
        the suite can make these tests' bursts a standing queue."""
        for _ in range(OVERLOADED_RETRIES):
            answer = self._call_once(method, path, body, headers)
            overloaded = (
                answer.status == 503 and isinstance(answer.body, dict) and answer.body.get("code") == "overloaded"
            )
            if not overloaded:
                return answer
            time.sleep(min(float(answer.headers.get("retry-after", 1)), 1.0) * random.uniform(0.5, 1.0))
        return answer

    def _call_once(self, method: str, path: str, body: Any, headers: dict[str, str] | None) -> Answer:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)

    def answers(self) -> bool:
        try:
            return self.call("GET", "/healthz").status == 200
        except OSError:
            return False


class Traffic:
    """Calls to the servers, counting every answer per server and class (the figures of a run);
    a 5xx fails the call: no input the clients send may break a server."""

    def __init__(self, servers: list[Client]) -> None:
        self.servers = servers
        self.by_server: dict[int, Counter] = {s.port: Counter() for s in servers}
        self.lock = threading.Lock()
        self.turn = 0

    def next_server(self) -> Client:
        with self.lock:
            self.turn += 1
            return self.servers[self.turn % 2]

    def call(self, server: Client, method: str, path: str, body=None, headers=None):
        answer = server.call(method, path, body, headers)
        with self.lock:
            self.by_server[server.port][f"{answer.status // 100}xx"] += 1
        assert answer.status < 500, (method, path, answer.status, answer.body)
        return answer

    def both(self, method: str, path: str, body, headers):
        """The same request to both servers at the same moment: their two answers."""
        return self.at_once([(server, method, path, body, headers) for server in self.servers])

    def at_once(self, calls: list[tuple]):
        """Each (server, method, path, body, headers) from its own thread, released together."""
        barrier = threading.Barrier(len(calls))
        answers: list = [None] * len(calls)

        def send(index: int) -> None:
            barrier.wait(timeout=30)
            answers[index] = self.call(*calls[index])

        others = [threading.Thread(target=_keep_error, args=(answers, i, send)) for i in range(1, len(calls))]
        for thread in others:
            thread.start()
        _keep_error(answers, 0, send)
        for thread in others:
            thread.join(timeout=120)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return answers

    def totals(self) -> Counter:
        return sum(self.by_server.values(), Counter())


def _keep_error(answers: list, index: int, send) -> None:
    try:
        send(index)
    except BaseException as exc:  # noqa: BLE001 - raised in the calling thread
        answers[index] = exc
