"""How ``bench/cart_evaluate.py`` calls the API: Django's test client in-process, or one
keep-alive HTTP connection to a real gunicorn; and the timed loop over either."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time

from common import ROOT, profiled


class TestClientTransport:
    name = "Django test client, in-process (no network, no WSGI server)"

    def __init__(self, key: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        response = self.client.post(path, body, content_type="application/json")
        return response.status_code, response.content

    def get(self, path: str) -> tuple[int, bytes]:
        response = self.client.get(path)
        return response.status_code, response.content

    def close(self) -> None:
        """Nothing to release: the test client runs in this process."""


class HttpTransport:
    """A real gunicorn (one gthread worker, as README's deployment runs them) on localhost,
    one keep-alive connection."""

    def __init__(self, key: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.name = f"HTTP to gunicorn on 127.0.0.1:{self.port} (1 worker, 4 threads, keep-alive connection)"
        self.headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        command = [
            str(ROOT / ".venv/bin/gunicorn"), "lms.wsgi", "-w", "1", "--threads", "4", "--keep-alive", "30",
            "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
        ]  # fmt: skip
        self.server = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy())
        deadline = time.monotonic() + 30
        while True:
            try:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if self.get("/api/v1/commerce/products/?sku=none")[0] == 200:
                    break
            except OSError:  # not listening yet: try again until the deadline
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                self.close()
                sys.exit("gunicorn did not start")
            time.sleep(0.2)

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self._request("POST", path, body)

    def get(self, path: str) -> tuple[int, bytes]:
        return self._request("GET", path, None)

    def close(self) -> None:
        self.connection.close()
        self.server.terminate()
        self.server.wait(10)


def time_api(transport, body: bytes, sku: str, requests: int, profile: bool) -> tuple[dict[str, list[int]], dict]:
    baseline_path = f"/api/v1/commerce/products/?sku={sku}"
    for _ in range(50):  # warm-up: snapshot, connection pool, code paths
        status, content = transport.post("/api/v1/cart/evaluate", body)
        if status != 200:
            sys.exit(f"cart/evaluate answered {status}: {content[:500]!r}")
        status, _ = transport.get(baseline_path)
        if status != 200:
            sys.exit(f"{baseline_path} answered {status}")
    answer = json.loads(content)
    timings = {"evaluate": [], "baseline": []}
    clock = time.perf_counter_ns
    with profiled(profile, "POST /api/v1/cart/evaluate"):
        for _ in range(requests):
            started = clock()
            status, _ = transport.post("/api/v1/cart/evaluate", body)
            timings["evaluate"].append(clock() - started)
            if status != 200:
                sys.exit(f"cart/evaluate answered {status}")
            if profile:
                continue
            started = clock()
            status, _ = transport.get(baseline_path)
            timings["baseline"].append(clock() - started)
    return timings, answer
