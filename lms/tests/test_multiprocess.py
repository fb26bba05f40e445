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
processes answered in 10 s; 301 requests (147 and 154 per server; 246 2xx, 55 4xx, no 5xx),
60 orders, 45 standing redemptions (+5 voided, +8 returned), 660 deliveries (300 mails, 300
in-app, 60 points-earned in-app), tasks per worker 34 and 39, in 19 s of driving and draining.
Each run prints its own figures (``pytest -s``).
"""

import secrets
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum

from accounts.models import User
from campaigns.models import Campaign, CampaignCounter, CouponCode, OrderRedemption, Redemption, RedemptionStatus
from commerce.models import Order, OrderLine
from lms.testing import free_port
from lms.tests.multiprocess_world import (
    AUDIENCE,
    BUDGET,
    BUYERS_WITH_ONE,
    BUYERS_WITH_THREE,
    DISCOUNT,
    FULL_REFUNDS,
    PARTIAL_REFUNDS,
    PASSWORD,
    SHARED_LIMIT,
    UNIQUE_MAX_USES,
    VOIDS,
    cart,
    interleave,
    order_jobs,
    points_jobs,
    redemption_jobs,
    refund_jobs,
    run_jobs,
    set_up_through_the_api,
    void_jobs,
    world_make,
)
from lms.tests.processes import (
    Client,
    Process,
    Traffic,
    celery_worker,
    production_env,
    stop_all,
    wait_until,
    web_server,
)
from loyalty.models import LoyaltyAccount, PointsTransaction, TransactionKind
from loyalty.services.earning import FIRST_PURCHASE_KEY
from loyalty.services.messages import POINTS_EARNED
from loyalty.services.upkeep import balances_check
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.tests.servers import SmtpReceiver

pytestmark = pytest.mark.xdist_group("subprocesses")


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


@pytest.mark.timeout(240)
def test_two_servers_and_two_workers_keep_counters_ledger_and_deliveries_exact(cluster):
    servers, workers, receiver, processes = cluster
    started = time.monotonic()
    traffic = Traffic(servers)
    world = world_make()
    made = set_up_through_the_api(traffic, world)
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
    run_jobs(
        [
            send_promotion,
            *interleave(
                redemption_jobs(traffic, world, made, redeemed), order_jobs(traffic, world, ingested, checkouts)
            ),
        ]
    )
    # Phase 2: refunds, voids and points spent, while the workers still send.
    returns: dict[str, object] = {}
    returning, expected_points = refund_jobs(traffic, world, refunded, returns)
    voided: dict[str, list] = {}
    spent: dict[str, object] = {}
    run_jobs(
        interleave(returning, void_jobs(traffic, world, redeemed, voided), points_jobs(traffic, world, made, spent))
    )

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
    body = {"codes": ["MPSHARED"], "lines": cart()}
    for server in traffic.servers * 4:  # several calls each: each server's two processes answer
        answer = traffic.call(server, "POST", "/api/v1/cart/evaluate", body, world["integration"])
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
    customers = User.objects.filter(external_id__startswith="C-MP-")
    assert customers.count() == BUYERS_WITH_THREE + BUYERS_WITH_ONE
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
