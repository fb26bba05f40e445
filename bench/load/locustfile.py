"""The load bench's clients (locust, run by ``bench/load/run.py`` in its own venv).

``MixUser``: a storefront and its customers. Each user is one customer (a session made by the
driver) that also holds the integration's API key, and sends at most ``LOAD_USER_RATE``
requests a second (locust's ``constant_throughput``), so the offered rate is the number of
users times that rate, whatever the answers' latency up to 1 / that rate: many slow users
rather than a few fast ones, so the offered load stays near an open loop (a user waiting on
a slow answer would otherwise stop offering). The mix, by weight: cart
evaluation, wallet and inbox reads, order ingestion, redemptions (each with a new single-use
code), sign-ins.

``BareUser``: ``GET /bench/bare`` (bench/bench_urls.py), closed loop, no wait: the yardstick.

Every client speaks as a TLS proxy would (``X-Forwarded-Proto: https``, its own
``X-Forwarded-For``), so the production settings' https redirect stays on. Each answer is
recorded by the ``request`` listener after the warm-up (``LOAD_WARMUP`` seconds) and written
as JSON to ``LOAD_RESULTS`` when the run stops.
"""

import itertools
import json
import os
import random
import time
import uuid
from collections import defaultdict
from decimal import Decimal

from locust import FastHttpUser, constant, constant_throughput, events, task

DATA = json.loads(open(os.environ["LOAD_DATA"]).read()) if os.environ.get("LOAD_DATA") else {}
RESULTS = os.environ.get("LOAD_RESULTS", "")
WARMUP = float(os.environ.get("LOAD_WARMUP", "0"))
USER_RATE = float(os.environ.get("LOAD_USER_RATE", "1"))
TIMEOUT = float(os.environ.get("LOAD_TIMEOUT", "10"))

# Each run of the driver takes its own slice of the single-use codes: a code redeemed by an
# earlier run would be refused (409 code_used), which is no figure of this one.
_codes = iter(
    DATA.get("codes", [])[int(os.environ.get("LOAD_CODES_START", "0")) :][
        : int(os.environ.get("LOAD_CODES_COUNT", "0"))
    ]
)
_user_numbers = itertools.count(1)
_measured: dict[str, list] = defaultdict(list)
_window = {"start": None, "end": None}


@events.test_start.add_listener
def _started(**_kwargs) -> None:
    _window["start"] = time.time() + WARMUP


@events.request.add_listener
def _record(name, response_time, response, exception, start_time=None, **_kwargs) -> None:
    started = start_time if start_time is not None else time.time() - response_time / 1000
    if _window["start"] is None or started < _window["start"]:
        return
    status = getattr(response, "status_code", 0) or 0
    code = ""
    if status == 503:
        try:
            code = response.json().get("code", "")
        except (ValueError, AttributeError):
            code = ""
    _measured[name].append((round(response_time, 2), status, code))


@events.test_stop.add_listener
def _stopped(**_kwargs) -> None:
    if RESULTS:
        _window["end"] = time.time()
        with open(RESULTS, "w") as out:
            json.dump({"window": _window, "requests": _measured}, out)


class _ProxiedUser(FastHttpUser):
    abstract = True
    network_timeout = TIMEOUT
    connection_timeout = TIMEOUT

    def on_start(self) -> None:
        number = next(_user_numbers)
        self.forwarded = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": f"127.10.{number // 250}.{number % 250 + 1}",
        }


class BareUser(_ProxiedUser):
    wait_time = constant(0)

    @task
    def bare(self) -> None:
        self.client.get("/bench/bare", headers=self.forwarded, name="GET /bench/bare")


class MixUser(_ProxiedUser):
    wait_time = constant_throughput(USER_RATE)

    def on_start(self) -> None:
        super().on_start()
        self.customer = random.choice(DATA["customers"])
        self.as_customer = {**self.forwarded, "Authorization": f"Bearer {self.customer['access']}"}
        self.as_integration = {**self.forwarded, "Authorization": f"Api-Key {DATA['api_key']}"}

    def _lines(self) -> tuple[list[dict], Decimal]:
        lines, subtotal = [], Decimal("0")
        for product in random.sample(DATA["products"], random.randint(1, 4)):
            quantity = random.randint(1, 3)
            lines.append({"sku": product["sku"], "quantity": quantity, "unit_price": product["price"]})
            subtotal += Decimal(product["price"]) * quantity
        return lines, subtotal

    @task(40)
    def evaluate(self) -> None:
        lines, _ = self._lines()
        body = {"customer": {"external_id": self.customer["external_id"]}, "lines": lines}
        if random.random() < 0.3:
            body["codes"] = ["DIWALI20"]
        self.client.post("/api/v1/cart/evaluate", json=body, headers=self.as_integration, name="POST cart/evaluate")

    @task(15)
    def wallet(self) -> None:
        self.client.get("/api/v1/loyalty/me/", headers=self.as_customer, name="GET loyalty/me (wallet)")

    @task(15)
    def inbox(self) -> None:
        self.client.get("/api/v1/notifications/?limit=10", headers=self.as_customer, name="GET notifications (inbox)")

    @task(12)
    def order(self) -> None:
        lines, subtotal = self._lines()
        body = {
            "external_id": f"load-{uuid.uuid4().hex}",
            "customer": {"external_id": self.customer["external_id"]},
            "placed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "status": "PAID",
            "subtotal": str(subtotal),
            "total": str(subtotal),
            "lines": lines,
        }
        self.client.post(
            "/api/v1/commerce/orders/", json=body, headers=self.as_integration, name="POST commerce/orders"
        )

    @task(8)
    def redeem(self) -> None:
        lines, _ = self._lines()
        body = {
            "order_id": f"load-{uuid.uuid4().hex}",
            "customer": {"external_id": self.customer["external_id"]},
            "lines": lines,
        }
        code = next(_codes, None)
        if code is not None:
            body["codes"] = [code]
        self.client.post("/api/v1/redemptions", json=body, headers=self.as_integration, name="POST redemptions")

    @task(4)
    def signin(self) -> None:
        body = {"email": self.customer["email"], "password": DATA["password"]}
        self.client.post("/api/v1/auth/signin", json=body, headers=self.forwarded, name="POST auth/signin")
