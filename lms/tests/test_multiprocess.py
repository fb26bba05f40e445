"""THE MULTI-PROCESS TEST: two gunicorn servers (gunicorn.conf.py, DEBUG off, two processes of
three threads each) and two Celery workers on one PostgreSQL and one Redis, driven at once by
eight client threads alternating between the servers, as the storefront and a marketer would
drive the real API (the integration's key; an ADMIN signed in through the API):

- checkouts over-asking two campaigns: a shared code limited to 20 uses (40 tries) and ten
  unique codes of 4 uses each under a 3,000.00 budget (50 tries of 100.00); some checkouts on
  both servers at once with one order id; then voids, each on both servers at once;
- orders for a loyalty program (1 point per rupee and a first-purchase bonus) from new
  customers, some with three orders ingested at once, 15 orders on both servers at once, and
  checkouts racing their order's ingestion on the other server; then returns: full refunds
  racing their checkout's void on the other server, partial refunds on both servers at once
  with one change id, and four points spends per account at once (one on both servers);
- a promotion (EMAIL + IN_APP) to a static segment of 300 customers, "sent" on both servers at
  once while all of the above runs, fanned out and sent by both workers to a local SMTP server;
- a campaign switched off through one server is off on the next carts of both; one refresh
  token sent to both servers at once rotates once.

Afterwards, from the database once the workers have drained: campaign counters equal the
redemption rows, each limit reached and not passed, no code past its max uses, the budget spent
exactly, every voided use given back once; one order and one customer per external id; every
loyalty balance equals its ledger, nothing pending, each account holds exactly what the rules
give (one bonus per customer, three of four spends paid); one promotion message; one delivery
per (message, recipient, channel), all SENT; each mail received once (Message-IDs unique); both
workers ran tasks; no answer was a 5xx.

Both workers consume every queue (otp, notifications, default), not the Procfile's worker per
queue: the point is two consumers racing on each queue, the fan-out's send tasks included.

A run on the 2-core development machine, beside seven other engineers' test runs: the four
processes answered in 10 s; 298 requests (146 and 152 per server; 244 2xx, 54 4xx, no 5xx),
60 orders, 45 standing redemptions (+5 voided, +8 returned), 660 deliveries (300 mails, 300
in-app, 60 points-earned in-app), tasks per worker 39 and 34, in 21 s of driving and draining.
Each run prints its own figures (``pytest -s``).
"""

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.db.models import Count, Q, Sum
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from accounts.models import Role, User
from campaigns.models import Campaign, CampaignCounter, CouponCode, OrderRedemption, Redemption, RedemptionStatus
from commerce.models import Order, OrderLine
from commerce.tests.factories import ProductFactory, order_body, order_line_body
from lms.tests.processes import Client, Process, celery_worker, production_env, stop_all, wait_until, web_server
from loyalty.models import LoyaltyAccount, PointsTransaction, TransactionKind
from loyalty.services.earning import FIRST_PURCHASE_KEY
from loyalty.services.messages import POINTS_EARNED
from loyalty.services.upkeep import balances_check
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.tests.servers import SmtpReceiver, free_port

pytestmark = pytest.mark.xdist_group("subprocesses")

AUDIENCE = 300  # customers the promotion goes to
SHARED_LIMIT = 20  # uses of the shared code, in all
SHARED_ATTEMPTS = 40
UNIQUE_CODES = 10
UNIQUE_MAX_USES = 4  # per code: 40 uses possible, the budget allows 30
BUDGET = Decimal("3000.00")
DISCOUNT = Decimal("100.00")  # 10% of every checkout's 1,000.00 cart
UNIQUE_ATTEMPTS = 50
REDEMPTION_PAIRS = 8  # of the attempts above, sent to both servers at once
BUYERS_WITH_THREE = 10  # customers with three orders each, ingested at once
BUYERS_WITH_ONE = 30
ORDER_PAIRS = 15  # orders sent to both servers at once with the same body
FULL_REFUNDS = 8  # of the single-order customers
PARTIAL_REFUNDS = 6  # one unit of two, sent to both servers at once with one change id
VOIDS = 5  # shared-code checkouts voided on both servers at once
POINTS_ASKED = 500  # each three-order customer spends this 4 times at once; its 1,600 points pay 3
POINTS_PER_ORDER = 500  # 1 point per rupee of 2 x 250.00
BONUS = 100
CLIENT_THREADS = 8
PASSWORD = "multi-process-admin-pw-1"


class Traffic:
    """Every answer the servers gave, per server: the figures of the run."""

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


@pytest.fixture
def cluster(transactional_db, tmp_path):
    """Two web servers and two workers (all queues each) and an SMTP receiver; all stopped in
    teardown, before pytest-django empties the database."""
    receiver = SmtpReceiver().start()
    env = production_env(
        secrets.token_urlsafe(48),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(receiver.port),
        NOTIFICATIONS_FANOUT_BATCH="50",
        NOTIFICATIONS_SEND_TASK_SIZE="25",
        NOTIFICATIONS_SEND_CHUNK="10",
    )
    ports = [free_port(), free_port()]
    processes: list[Process] = []
    try:
        for i, port in enumerate(ports):
            # Requests are logged by the application at INFO: only warnings, for readable logs.
            web_env = {**env, "LOG_LEVEL": "WARNING"}
            processes.append(
                web_server(f"web{i + 1}", port, web_env, tmp_path / f"web{i + 1}.log", workers=2, threads=3)
            )
        for i in range(2):
            name = f"worker{i + 1}"
            processes.append(celery_worker(name, "otp,notifications,default", env, tmp_path / f"{name}.log"))
        booting = time.monotonic()
        servers = [Client(port) for port in ports]
        wait_until(lambda: all(s.answers() for s in servers), 60, "the web servers did not answer", processes)
        workers = processes[2:]
        wait_until(lambda: all(" ready." in w.log() for w in workers), 60, "the workers were not ready", processes)
        print(f"\nmulti-process: the servers and workers started in {time.monotonic() - booting:.1f} s")
        yield servers, workers, receiver, processes
    finally:
        stop_all(processes)
        receiver.stop()


def _world() -> dict:
    """What exists before the clients start: an ADMIN (a scrypt password: the servers run the
    production hashers), the integration's key, the catalogue and the promotion's audience."""
    User.objects.create(
        email="mp-admin@example.com", role=Role.ADMIN, is_staff=True, password=make_password(PASSWORD, hasher="scrypt")
    )
    _, key = APIKey.objects.create_key(name="storefront")
    for sku in ("MP-1", "MP-2", "MP-3"):
        ProductFactory(sku=sku, price=Decimal("250.00"))
    User.objects.bulk_create(
        User(email=f"mp{i}@example.com", first_name=f"Mp{i}", role=Role.USER, password="!", marketing_email=True)
        for i in range(AUDIENCE)
    )
    audience = list(User.objects.filter(email__startswith="mp", role=Role.USER).order_by("pk"))
    return {"integration": {"Authorization": f"Api-Key {key}"}, "audience": audience}


def _set_up_through_the_api(traffic: Traffic, world: dict) -> dict:
    """The marketer's part, through the API as an ADMIN: the two campaigns and their codes, the
    loyalty program, the audience segment and the promotion (a draft)."""
    server = traffic.servers[0]
    signed_in = traffic.call(
        server, "POST", "/api/v1/auth/signin", {"email": "mp-admin@example.com", "password": PASSWORD}
    )
    assert signed_in.status == 200, signed_in.body
    admin = {"Authorization": f"Bearer {signed_in.body['access']}"}
    now = timezone.now()
    window = {"starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}
    rules = [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "10"}]

    def create(path: str, body: dict, status: int = 201) -> dict:
        answer = traffic.call(server, "POST", path, body, admin)
        assert answer.status == status, (path, answer.body)
        return answer.body

    common = {**window, "status": "ACTIVE", "redemption_type": "COUPON_CODE", "timezone": "UTC", "rules": rules}
    shared = create(
        "/api/v1/campaigns/discounts/", {**common, "name": "Shared", "code": "MPSHARED", "usage_limit": SHARED_LIMIT}
    )
    back = create("/api/v1/campaigns/discounts/", {**common, "name": "Back", "code": "MPBACK", "usage_limit": 100})
    unique = create(
        "/api/v1/campaigns/discounts/", {**common, "name": "Unique", "code_type": "UNIQUE", "budget": str(BUDGET)}
    )
    codes = [f"MPU{chr(ord('A') + i)}QRST" for i in range(UNIQUE_CODES)]
    imported = create(
        f"/api/v1/campaigns/discounts/{unique['id']}/codes/import", {"codes": codes, "max_uses": UNIQUE_MAX_USES}, 200
    )
    assert imported["created"] == UNIQUE_CODES, imported
    program = {
        "name": "Rewards",
        "starts_at": (now - timedelta(days=30)).isoformat(),
        "status": "ACTIVE",
        "timezone": "UTC",
        "rules": [
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1"},
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": BONUS},
        ],
    }
    program_id = create("/api/v1/loyalty/programs/", program)["id"]
    members = [person.email for person in world["audience"]]
    segment = create("/api/v1/segments/", {"name": "Audience", "kind": "USER", "type": "STATIC", "members": members})
    promotion = create(
        "/api/v1/promotions/",
        {
            "title": "Hello {{ first_name }}",
            "description": "This week only, {{ first_name }}.",
            "cta_text": "Shop",
            "cta_url": "https://shop.example.com/week",
            "audience": "SEGMENTS",
            "segment_ids": [segment["id"]],
            "channels": ["EMAIL", "IN_APP"],
        },
    )
    return {
        "admin": admin,
        "shared": shared["id"],
        "back": back["id"],
        "unique": unique["id"],
        "codes": codes,
        "promotion": promotion["id"],
        "program": program_id,
    }


def _cart() -> list[dict]:
    return [{"sku": "MP-1", "quantity": 4, "unit_price": "250.00"}]


def _redemption_jobs(traffic: Traffic, world: dict, made: dict, outcomes: dict) -> list:
    """One job per checkout: the shared code over-asked, then the unique codes over their budget."""
    people = world["audience"]
    attempts = [("MPSHARED", f"R-S-{i}", people[i]) for i in range(SHARED_ATTEMPTS)]
    attempts += [
        (made["codes"][j % UNIQUE_CODES], f"R-U-{j}", people[SHARED_ATTEMPTS + j]) for j in range(UNIQUE_ATTEMPTS)
    ]
    paired = {order_id for i, (_, order_id, _) in enumerate(attempts) if i % 11 == 0}
    paired = set(sorted(paired)[:REDEMPTION_PAIRS])

    def job(code: str, order_id: str, person: User):
        def run() -> None:
            body = {"order_id": order_id, "customer": {"id": person.pk}, "codes": [code], "lines": _cart()}
            if order_id in paired:
                answers = traffic.both("POST", "/api/v1/redemptions/", body, world["integration"])
            else:
                answers = [
                    traffic.call(traffic.next_server(), "POST", "/api/v1/redemptions/", body, world["integration"])
                ]
            outcomes[order_id] = answers

        return run

    return [job(*attempt) for attempt in attempts]


def _buyers() -> list[tuple[dict, int]]:
    """(customer reference, number of orders): new customers, created by their first order."""
    buyers = [({"external_id": f"C-MP-{b}", "email": f"buyer{b}@example.com"}, 3) for b in range(BUYERS_WITH_THREE)]
    offset = BUYERS_WITH_THREE
    buyers += [
        ({"external_id": f"C-MP-{b}", "email": f"buyer{b}@example.com"}, 1)
        for b in range(offset, offset + BUYERS_WITH_ONE)
    ]
    return buyers


def _sku(external_id: str) -> str:
    return f"MP-{1 + int(external_id.rsplit('-', 1)[-1]) % 3}"


def _order(customer: dict, external_id: str, placed_at) -> dict:
    return order_body(
        external_id,
        customer=customer,
        lines=[order_line_body(_sku(external_id), 2, "250.00")],
        placed_at=placed_at.isoformat(),
        status="PAID",
    )


def _order_jobs(traffic: Traffic, world: dict, outcomes: dict, checkouts: dict) -> list:
    """One job per order; a customer's orders are next to each other in the list, so they are
    ingested at once by different client threads (the first-purchase bonus races)."""
    start = timezone.now() - timedelta(hours=1)
    jobs = []
    n = 0
    single = -1
    for customer, count in _buyers():
        single += count == 1
        for k in range(count):
            external_id = f"O-{customer['external_id']}-{k}"
            body = _order(customer, external_id, start + timedelta(seconds=n))
            both = n % 4 == 0 and n // 4 < ORDER_PAIRS
            n += 1

            # A checkout reaching the other server as its order arrives: the second order of a
            # three-order customer (both requests may be the first to meet this new customer,
            # no code), and the order of a customer who will return it (with the MPBACK code).
            returned = count == 1 and single < FULL_REFUNDS
            codes = ["MPBACK"] if returned else []
            checkout = returned or (count == 3 and k == 1)

            def run(body=body, both=both, checkout=checkout, codes=codes, external_id=external_id) -> None:
                ingest = ("POST", "/api/v1/commerce/orders/", body, world["integration"])
                calls = [(traffic.servers[0], *ingest)] + ([(traffic.servers[1], *ingest)] if both else [])
                if checkout:
                    redemption = {
                        "order_id": external_id,
                        "customer": body["customer"],
                        "lines": _cart(),
                        "codes": codes,
                    }
                    calls.append((traffic.servers[1], "POST", "/api/v1/redemptions/", redemption, world["integration"]))
                if len(calls) == 1:
                    answers = [traffic.call(traffic.next_server(), *ingest)]
                else:
                    answers = traffic.at_once(calls)
                if checkout:
                    checkouts[external_id] = answers.pop()
                outcomes[external_id] = answers

            jobs.append(run)
    return jobs


def _refund_jobs(traffic: Traffic, world: dict, outcomes: dict, returns: dict) -> tuple[list, dict[str, int]]:
    """Full refunds (one server) and partial ones (one unit of two, both servers at once with
    one change id) of single-order customers' orders; and the points each customer should hold."""
    expected = {}
    jobs = []
    for customer, count in _buyers():
        expected[customer["external_id"]] = count * POINTS_PER_ORDER + BONUS
    singles = [customer["external_id"] for customer, count in _buyers() if count == 1]
    for index, customer_id in enumerate(singles[: FULL_REFUNDS + PARTIAL_REFUNDS]):
        external_id = f"O-{customer_id}-0"
        path = f"/api/v1/commerce/orders/{external_id}/"
        if index < FULL_REFUNDS:
            expected[customer_id] = 0

            # The return on one server and its checkout's void on the other, at once: the
            # code's use comes back once.
            def run(path=path, external_id=external_id, index=index) -> None:
                refund = (traffic.servers[index % 2], "PATCH", path, {"status": "REFUNDED", "reason": "returned"})
                void = (traffic.servers[1 - index % 2], "POST", f"/api/v1/redemptions/{external_id}/void", {})
                answers = traffic.at_once([(*refund, world["integration"]), (*void, world["integration"])])
                returns[external_id] = answers.pop()
                outcomes[external_id] = answers

        else:
            # Half the units: half of each earning (the bonus too) is reversed.
            expected[customer_id] = (POINTS_PER_ORDER + BONUS) // 2
            n = int(customer_id.rsplit("-", 1)[-1])

            def run(path=path, external_id=external_id, n=n) -> None:
                lines = [{"sku": _sku(external_id), "quantity": 1}]
                body = {"status": "REFUNDED", "refund_lines": lines, "change_id": f"rf-{n}"}
                outcomes[external_id] = traffic.both("PATCH", path, body, world["integration"])

        jobs.append(run)
    return jobs, expected


def _void_jobs(traffic: Traffic, world: dict, redeemed: dict, outcomes: dict) -> list:
    """Voids of shared-code checkouts, each on both servers at once: the use comes back once."""
    made = sorted(
        order_id
        for order_id, answers in redeemed.items()
        if order_id.startswith("R-S-") and 201 in {a.status for a in answers}
    )

    def job(order_id: str):
        def run() -> None:
            path = f"/api/v1/redemptions/{order_id}/void"
            outcomes[order_id] = traffic.both("POST", path, {"reason": "cancelled"}, world["integration"])

        return run

    return [job(order_id) for order_id in made[:VOIDS]]


def _points_jobs(traffic: Traffic, world: dict, made: dict, outcomes: dict) -> list:
    """Each three-order customer spends points four times at once (five calls, both servers)."""
    jobs = []
    for customer, count in _buyers():
        if count != 3:
            continue
        for k in range(4):
            body = {
                "program_id": made["program"],
                "points": POINTS_ASKED,
                "order_id": f"PR-{customer['external_id']}-{k}",
                "customer": {"external_id": customer["external_id"]},
            }

            def run(body=body, k=k) -> None:
                call = ("POST", "/api/v1/loyalty/redeem", body, world["integration"])
                # The first spend also goes to both servers at once (one order id): paid once.
                answers = traffic.both(*call) if k == 0 else [traffic.call(traffic.servers[k % 2], *call)]
                outcomes[body["order_id"]] = answers

            jobs.append(run)
    return jobs


def _interleave(*lists: list) -> list:
    out = []
    for i in range(max(len(x) for x in lists)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def _run(jobs: list) -> None:
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result(timeout=120)


@pytest.mark.timeout(240)
def test_two_servers_and_two_workers_keep_counters_ledger_and_deliveries_exact(cluster):
    servers, workers, receiver, processes = cluster
    started = time.monotonic()
    traffic = Traffic(servers)
    world = _world()
    made = _set_up_through_the_api(traffic, world)
    redeemed: dict[str, list] = {}
    ingested: dict[str, list] = {}
    checkouts: dict[str, object] = {}
    sent: list = []
    refunded: dict[str, list] = {}

    def send_promotion() -> None:
        # The marketer's "send" reaching both servers at once (a double click through two nodes).
        path = f"/api/v1/promotions/{made['promotion']}/send"
        sent.extend(traffic.both("POST", path, {}, made["admin"]))

    # Phase 1: checkouts and orders at once, the promotion's fan-out running under them.
    _run(
        [
            send_promotion,
            *_interleave(
                _redemption_jobs(traffic, world, made, redeemed), _order_jobs(traffic, world, ingested, checkouts)
            ),
        ]
    )
    # Phase 2: refunds, voids and points spent, while the workers still send.
    returns: dict[str, object] = {}
    refund_jobs, expected_points = _refund_jobs(traffic, world, refunded, returns)
    voided: dict[str, list] = {}
    spent: dict[str, object] = {}
    _run(
        _interleave(
            refund_jobs, _void_jobs(traffic, world, redeemed, voided), _points_jobs(traffic, world, made, spent)
        )
    )
    for customer, count in _buyers():
        if count == 3:
            expected_points[customer["external_id"]] -= 3 * POINTS_ASKED

    _assert_switch_off_seen_everywhere(traffic, world, made)
    _assert_refresh_rotates_once(traffic)

    def drained() -> bool:
        return (
            not Message.objects.exclude(status=MessageStatus.DONE).exists()
            and not Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).exists()
        )

    wait_until(drained, 90, "the workers did not drain the deliveries", processes)
    seconds = time.monotonic() - started

    _assert_redemptions(made, redeemed, voided)
    _assert_orders(ingested, refunded, checkouts)
    _assert_returns(made, checkouts, returns)
    _assert_ledger(expected_points, spent)
    # One send went out; the other was told it had been sent already.
    assert sorted(a.status for a in sent) == [200, 409], [a.body for a in sent]
    assert {a.body.get("status") or a.body["code"] for a in sent} == {"SENDING", "promotion_already_sent"}
    mails = _assert_deliveries(made, receiver)
    shares = [w.log().count(" succeeded in ") for w in workers]
    assert all(shares), f"both workers ran tasks: {shares}"

    assert all(c["2xx"] for c in traffic.by_server.values()), traffic.by_server
    totals = traffic.totals()
    per_server = " and ".join(str(sum(c.values())) for c in traffic.by_server.values())
    print(
        f"\nmulti-process: {sum(totals.values())} requests ({per_server} per server; "
        f"{totals['2xx']} 2xx, {totals['4xx']} 4xx, {totals['5xx']} 5xx); "
        f"{Order.objects.count()} orders, {Redemption.objects.filter(status=RedemptionStatus.REDEEMED).count()} "
        f"redemptions, {Delivery.objects.count()} deliveries, {mails} mails; tasks per worker {shares}; {seconds:.1f} s"
    )


def _assert_switch_off_seen_everywhere(traffic: Traffic, world: dict, made: dict) -> None:
    """Every web process holds its own snapshot of the live campaigns: one switched off through
    one server is off on the very next cart at every process of both servers (no waiting)."""
    admin = made["admin"]
    path = f"/api/v1/campaigns/{made['shared']}/status/"
    switched = traffic.call(traffic.servers[0], "PATCH", path, {"status": "INACTIVE"}, admin)
    assert switched.status == 200, switched.body
    cart = {"codes": ["MPSHARED"], "lines": _cart()}
    for server in traffic.servers * 4:  # several calls each: each server's two processes answer
        answer = traffic.call(server, "POST", "/api/v1/cart/evaluate", cart, world["integration"])
        assert answer.status == 200, answer.body
        assert answer.body["discounts"] == [], answer.body
        assert [r["reason"] for r in answer.body["rejected"]] == ["inactive"], answer.body


def _assert_refresh_rotates_once(traffic: Traffic) -> None:
    """One refresh token on both servers at once (a client retrying through another node)."""
    credentials = {"email": "mp-admin@example.com", "password": PASSWORD}
    signed_in = traffic.call(traffic.servers[1], "POST", "/api/v1/auth/signin", credentials)
    refresh = {"refresh": signed_in.body["refresh"]}
    answers = traffic.both("POST", "/api/v1/auth/token/refresh", refresh, {})
    # Rotated exactly once: the other call is the rotated token coming back.
    assert sorted((a.status, a.body.get("code")) for a in answers) == [(200, None), (401, "token_not_valid")]


def _assert_redemptions(made: dict, outcomes: dict, voided: dict) -> None:
    shared = Campaign.objects.get(pk=made["shared"])
    unique = Campaign.objects.get(pk=made["unique"])
    for campaign in (shared, unique):
        counter = CampaignCounter.objects.get(pk=campaign.pk)
        rows = Redemption.objects.filter(campaign=campaign, status=RedemptionStatus.REDEEMED)
        assert counter.uses == rows.count()
        assert counter.discount_spent == (rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00"))
        assert set(rows.values_list("amount", flat=True)) <= {DISCOUNT}
    # Over-asked on purpose: each limit is reached, and not passed (the voided uses came back once).
    assert len(voided) == VOIDS
    for order_id, answers in voided.items():
        assert [a.status for a in answers] == [200, 200], (order_id, [a.body for a in answers])
        assert {a.body["status"] for a in answers} == {"VOIDED"}
    assert CampaignCounter.objects.get(pk=shared.pk).uses == SHARED_LIMIT - VOIDS
    assert OrderRedemption.objects.filter(order_id__startswith="R-", status=RedemptionStatus.VOIDED).count() == VOIDS
    assert CampaignCounter.objects.get(pk=unique.pk).discount_spent == BUDGET
    for code in CouponCode.objects.filter(campaign=unique):
        assert code.uses <= code.max_uses == UNIQUE_MAX_USES
        assert code.uses == Redemption.objects.filter(coupon_code=code, status=RedemptionStatus.REDEEMED).count()

    allowed = {"usage_limit", "budget_exhausted", "code_used"}
    created = 0
    for order_id, answers in outcomes.items():
        statuses = sorted(a.status for a in answers)
        if len(answers) == 2 and statuses != [409, 409]:
            # The same checkout on both servers at once: one redemption, the other its replay.
            assert statuses == [200, 201], (order_id, [(a.status, a.body) for a in answers])
            assert answers[0].body == answers[1].body
        for answer in answers:
            assert answer.status in (200, 201, 409), (order_id, answer.status, answer.body)
            if answer.status == 409:
                assert answer.body["code"] in allowed, answer.body
        created += statuses.count(201)
    checkouts = OrderRedemption.objects.filter(order_id__startswith="R-")
    assert created == checkouts.count() == Redemption.objects.filter(campaign__in=[shared, unique]).count()
    assert set(checkouts.values_list("order_id", flat=True)) == {
        order_id for order_id, answers in outcomes.items() if any(a.status == 201 for a in answers)
    }


def _assert_orders(ingested: dict, refunded: dict, checkouts: dict) -> None:
    for external_id, answers in ingested.items():
        assert [a.status for a in answers] == [201] * len(answers), (external_id, [a.body for a in answers])
        # The same order on both servers at once: one stored it, the other answers its replay.
        replays = [a.headers.get("idempotent-replayed") == "true" for a in answers]
        assert replays.count(False) == 1, (external_id, replays)
        assert len({a.body["id"] for a in answers}) == 1
    orders = Order.objects.filter(external_id__startswith="O-C-MP-")
    assert orders.count() == len(ingested) == BUYERS_WITH_THREE * 3 + BUYERS_WITH_ONE
    assert not orders.values("external_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    # Each new customer was created once, by whichever of its racing orders came first.
    buyers = User.objects.filter(external_id__startswith="C-MP-")
    assert buyers.count() == BUYERS_WITH_THREE + BUYERS_WITH_ONE
    assert all(o.customer.external_id == o.external_id[2:].rsplit("-", 1)[0] for o in orders.select_related("customer"))
    # A checkout racing its order's ingestion: stored, for the same customer.
    assert len(checkouts) == BUYERS_WITH_THREE + FULL_REFUNDS
    assert all(answer.status == 201 for answer in checkouts.values()), checkouts
    for external_id in checkouts:
        paid = OrderRedemption.objects.get(order_id=external_id)
        assert paid.customer_id == Order.objects.get(external_id=external_id).customer_id
    for external_id, answers in refunded.items():
        assert [a.status for a in answers] == [200] * len(answers), (external_id, [a.body for a in answers])
        # A partial refund on both servers at once with one change id: applied once, replayed once.
        replays = [a.headers.get("idempotent-replayed") == "true" for a in answers]
        assert replays.count(False) == 1, (external_id, replays)
    partial = [external_id for external_id, answers in refunded.items() if len(answers) == 2]
    assert len(partial) == PARTIAL_REFUNDS
    assert orders.filter(status="REFUNDED").count() == FULL_REFUNDS
    lines = OrderLine.objects.filter(order__external_id__in=partial)
    assert list(lines.values_list("refunded_quantity", flat=True)) == [1] * PARTIAL_REFUNDS


def _assert_returns(made: dict, checkouts: dict, returns: dict) -> None:
    """The MPBACK checkouts, each returned (refund and void racing): every use given back once."""
    coded = {order_id for order_id, answer in checkouts.items() if answer.body["discounts"]}
    assert coded == set(returns)
    assert all(
        answer.body["total_discount"] == str(DISCOUNT) for order_id, answer in checkouts.items() if order_id in coded
    )
    for order_id, answer in returns.items():
        assert answer.status == 200 and answer.body["status"] == "VOIDED", (order_id, answer.body)
    counter = CampaignCounter.objects.get(pk=made["back"])
    assert (counter.uses, counter.discount_spent) == (0, Decimal("0.00"))
    rows = Redemption.objects.filter(campaign_id=made["back"])
    assert rows.count() == FULL_REFUNDS
    assert set(rows.values_list("status", flat=True)) == {RedemptionStatus.VOIDED}


def _assert_ledger(expected: dict[str, int], spent: dict) -> None:
    assert balances_check(fix=False) == []
    # Four spends at once on one account (both servers): three paid, the fourth refused.
    per_customer = Counter()
    for order_id, answers in spent.items():
        if len(answers) == 2 and {a.status for a in answers} != {409}:
            assert sorted(a.status for a in answers) == [200, 201], (order_id, [a.body for a in answers])
            assert answers[0].body["transaction_id"] == answers[1].body["transaction_id"]
        answer = answers[0]
        assert answer.status in (200, 201, 409), (order_id, answer.body)
        if answer.status == 409:
            assert answer.body["code"] == "insufficient_points", answer.body
        per_customer[(order_id.rsplit("-", 1)[0], 409 if answer.status == 409 else 201)] += 1
    assert set(per_customer.values()) == {3, 1} and len(per_customer) == 2 * BUYERS_WITH_THREE, per_customer
    assert all(per_customer[(key, 201)] == 3 for key, _ in per_customer)
    accounts = LoyaltyAccount.objects.select_related("customer").annotate(
        ledger=Sum("transactions__points"),
        bonuses=Count("transactions", filter=Q(transactions__idempotency_key=FIRST_PURCHASE_KEY)),
        pending=Sum("transactions__remaining", filter=Q(transactions__held=True), default=0),
    )
    held = {a.customer.external_id: (a.balance, a.ledger, a.bonuses, a.pending) for a in accounts}
    assert set(held) == set(expected)
    for customer_id, points in expected.items():
        balance, ledger, bonuses, pending = held[customer_id]
        # One first-purchase bonus per customer, however many of its orders raced.
        assert (balance, ledger, bonuses, pending) == (points, points, 1, 0), customer_id
    assert PointsTransaction.objects.filter(kind=TransactionKind.REDEEM).count() == 3 * BUYERS_WITH_THREE
    earned = PointsTransaction.objects.filter(kind=TransactionKind.EARN)
    assert earned.count() == BUYERS_WITH_THREE * 3 + BUYERS_WITH_ONE + BUYERS_WITH_THREE + BUYERS_WITH_ONE


def _assert_deliveries(made: dict, receiver: SmtpReceiver) -> int:
    assert not Delivery.objects.values("message", "recipient", "channel").annotate(n=Count("pk")).filter(n__gt=1)
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    promotion = Message.objects.get(source_type="promotion", source_id=str(made["promotion"]))
    rows = Delivery.objects.filter(message=promotion)
    assert rows.filter(channel=Channel.EMAIL).count() == rows.filter(channel=Channel.IN_APP).count() == AUDIENCE
    # The program told each order's customer its points in the inbox: one message per order.
    earned = Delivery.objects.filter(message__source_type=POINTS_EARNED)
    assert earned.filter(channel=Channel.IN_APP).count() == earned.count() == BUYERS_WITH_THREE * 3 + BUYERS_WITH_ONE
    assert Delivery.objects.count() == 2 * AUDIENCE + earned.count()
    sent_ids = set(rows.filter(channel=Channel.EMAIL).values_list("provider_message_id", flat=True))
    received = Counter(mail["Message-ID"] for mail in receiver.messages)
    assert set(received) == sent_ids, "every row's mail arrived, and nothing else"
    assert set(received.values()) == {1}, "each mail once"
    return sum(received.values())
