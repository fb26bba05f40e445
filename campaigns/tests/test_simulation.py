"""Simulation of discount campaigns: hand-checkable replays through the real engine, limits and
the budget, the API (inline and as a task with progress), bad input and permissions."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from campaigns.models import SimulationRun, SimulationStatus
from campaigns.simulation import orders as order_reader
from campaigns.simulation import runs
from campaigns.simulation.replay import campaign_replay
from campaigns.tests.factories import CampaignFactory
from commerce.models import OrderStatus
from commerce.tests.factories import CategoryFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def shop():
    """Apparel (with a T-shirts sub-category) and Home; a shirt, a tee and a mug."""
    apparel = CategoryFactory(name="Apparel")
    tees = CategoryFactory(name="T-shirts", parent=apparel)
    home = CategoryFactory(name="Home")
    return {
        "apparel": apparel,
        "shirt": ProductFactory(sku="SHIRT", category=apparel),
        "tee": ProductFactory(sku="TEE", category=tees),
        "mug": ProductFactory(sku="MUG", category=home),
    }


@pytest.fixture
def orders(shop):
    """Four counted orders in the last 30 days, two uncounted ones, one older than the window."""
    asha, bala, chitra = UserFactory(password=None), UserFactory(password=None), UserFactory(password=None)
    made = [
        OrderFactory(customer=asha, placed_at=ago(20), status=OrderStatus.PAID,
                     lines=[(shop["shirt"], 2, Decimal("500.00")), (shop["mug"], 1, Decimal("200.00"))]),
        OrderFactory(customer=bala, placed_at=ago(15), status=OrderStatus.PAID,
                     lines=[(shop["mug"], 1, Decimal("200.00"))]),
        OrderFactory(customer=asha, placed_at=ago(10), status=OrderStatus.FULFILLED,
                     lines=[(shop["tee"], 1, Decimal("300.00"))]),
        OrderFactory(customer=chitra, placed_at=ago(5), status=OrderStatus.PLACED,
                     lines=[(shop["shirt"], 1, Decimal("250.00"))]),
        # Not counted: refunded and cancelled orders never qualify.
        OrderFactory(customer=bala, placed_at=ago(4), status=OrderStatus.REFUNDED,
                     lines=[(shop["shirt"], 4, Decimal("1000.00"))]),
        OrderFactory(customer=bala, placed_at=ago(3), status=OrderStatus.CANCELLED,
                     lines=[(shop["shirt"], 4, Decimal("1000.00"))]),
        # Outside a 30-day window.
        OrderFactory(customer=bala, placed_at=ago(40), status=OrderStatus.PAID,
                     lines=[(shop["shirt"], 4, Decimal("1000.00"))]),
    ]  # fmt: skip
    return {"asha": asha, "bala": bala, "chitra": chitra, "orders": made}


def apparel_campaign(shop, **fields):
    rule = {"rule_type": "CATEGORY", "value": Decimal("10"), "categories": [shop["apparel"]]}
    return CampaignFactory(rules=[rule], **fields)


def replay(campaign, days: int = 30) -> dict:
    return campaign_replay(campaign, since=NOW - dt.timedelta(days=days), until=NOW, progress=lambda done: None)


def day_of(at: dt.datetime, zone: str = "Asia/Kolkata") -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(zone)).date().isoformat()


# --- Replays ---------------------------------------------------------------------------------------


def test_a_ten_percent_category_campaign_gives_exactly_the_hand_computed_figures(shop, orders):
    result = replay(apparel_campaign(shop))

    # 10 % of the shirts (1000.00) + of the tee in a sub-category (300.00) + of Chitra's shirt (250.00).
    assert result["discount_cost"] == "155.00"
    assert result["orders"] == 4  # refunded, cancelled and older orders left out
    assert result["qualifying_orders"] == 3
    assert result["redemptions"] == 3
    assert result["qualifying_share"] == "75.0"
    assert result["affected_customers"] == 2  # Asha twice, Chitra
    assert result["refused"] == {"no_matching_items": 1}  # Bala's mug
    assert result["budget_runs_out_on"] is None
    days = {row["day"]: row for row in result["daily"]}
    assert days[day_of(ago(20))]["cost"] == "100.00"
    assert days[day_of(ago(10))]["cumulative_cost"] == "130.00"
    assert result["daily"][-1]["cumulative_cost"] == "155.00"
    assert len(result["daily"]) == 31


def test_a_draft_campaign_starting_next_month_is_replayed_as_if_live(shop, orders):
    campaign = apparel_campaign(shop, status="INACTIVE", starts_at=NOW + dt.timedelta(days=30))

    assert replay(campaign)["discount_cost"] == "155.00"


def test_the_budget_runs_out_on_the_first_day_an_order_would_pass_it(shop, orders):
    result = replay(apparel_campaign(shop, budget=Decimal("120.00")))

    # 100.00 on day -20; the tee's 30.00 would make 130.00 > 120.00: refused whole on day -10;
    # Chitra's 25.00 fits (125.00 > 120.00? yes: refused too).
    assert result["budget_runs_out_on"] == day_of(ago(10))
    assert result["discount_cost"] == "100.00"
    assert result["refused"]["budget_exhausted"] == 2
    assert result["budget"] == "120.00"


def test_a_smaller_order_still_fits_what_is_left_of_the_budget(shop, orders):
    result = replay(apparel_campaign(shop, budget=Decimal("126.00")))

    # 100.00, then the tee (30.00) would pass 126.00, then Chitra's 25.00 fits: 125.00.
    assert result["discount_cost"] == "125.00"
    assert result["budget_runs_out_on"] == day_of(ago(10))


def test_max_uses_and_per_customer_limits_refuse_as_the_engine_does(shop, orders):
    capped = replay(apparel_campaign(shop, usage_limit=1))
    once_each = replay(apparel_campaign(shop, customer_limit=1))

    # The limit is checked before the rules: every later order is refused for it, Bala's mug too.
    assert (capped["redemptions"], capped["discount_cost"], capped["refused"]) == (1, "100.00", {"usage_limit": 3})
    assert (once_each["redemptions"], once_each["discount_cost"]) == (2, "125.00")
    assert once_each["refused"]["customer_limit"] == 1


def test_a_unique_codes_campaign_assumes_every_order_presents_a_code(shop, orders):
    campaign = apparel_campaign(shop, redemption_type="COUPON_CODE", code_type="UNIQUE")

    result = replay(campaign)

    assert result["discount_cost"] == "155.00"
    assert any("fresh unique code" in said for said in result["assumptions"])


def test_a_new_customers_campaign_counts_only_first_orders(shop, orders):
    result = replay(apparel_campaign(shop, audience="NEW_USERS"))

    # Asha's second order (day -10) is not her first; nor is Bala's (she ordered on day -40).
    assert (result["qualifying_orders"], result["discount_cost"]) == (2, "125.00")
    assert result["refused"] == {"audience": 2}


def test_queries_do_not_grow_with_orders_only_with_batches(shop, orders, monkeypatch):
    campaign = apparel_campaign(shop, customer_limit=5, budget=Decimal("10000"))
    with CaptureQueriesContext(connection) as few:
        replay(campaign)
    customer = UserFactory(password=None)
    for n in range(30):
        OrderFactory(customer=customer, placed_at=ago(1 + n / 10), status=OrderStatus.PAID,
                     lines=[(shop["shirt"], 1, Decimal("100.00"))])  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        replay(campaign)
    monkeypatch.setattr(order_reader, "BATCH", 10)
    with CaptureQueriesContext(connection) as batched:
        replay(campaign)

    assert len(many) == len(few)
    # 34 orders in batches of 10: four batches of three queries and one empty read.
    assert len(batched) == len(few) + 3 * 3


# --- Runs and the API --------------------------------------------------------------------------------

URL = "/api/v1/campaigns/{}/simulate"


def test_a_small_window_answers_inline_with_the_result_and_stores_the_run(shop, orders, admin_client):
    campaign = apparel_campaign(shop)

    response = admin_client.post(URL.format(campaign.pk), {"days": 30}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["progress"], body["orders_total"]) == ("DONE", 100, 4)
    assert body["result"]["discount_cost"] == "155.00"
    run = SimulationRun.objects.get(pk=body["id"])
    assert run.result["qualifying_share"] == "75.0"
    assert admin_client.get(f"/api/v1/simulations/{run.pk}").json()["result"]["redemptions"] == 3


def test_a_large_window_runs_as_a_task_with_progress_to_poll(
    shop, orders, admin_client, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.SIMULATION_INLINE_MAX_ORDERS = 2
    monkeypatch.setattr(order_reader, "BATCH", 1)
    seen = []
    real = runs.replays.get("DISCOUNT_COUPON")

    def watched(campaign, *, progress, **kwargs):
        def progress_seen(done):
            progress(done)
            seen.append(SimulationRun.objects.values_list("status", "progress").get())

        return real(campaign, progress=progress_seen, **kwargs)

    monkeypatch.setitem(runs.replays._items, "DISCOUNT_COUPON", watched)
    campaign = apparel_campaign(shop)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(URL.format(campaign.pk), {"days": 30}, format="json")

    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "PENDING"
    # One batch of one order at a time: 25, 50, 75 %, then 99 until the result is stored.
    assert seen == [("RUNNING", 25), ("RUNNING", 50), ("RUNNING", 75), ("RUNNING", 99)]
    polled = admin_client.get(f"/api/v1/simulations/{response.json()['id']}").json()
    assert (polled["status"], polled["progress"]) == ("DONE", 100)
    assert polled["result"]["discount_cost"] == "155.00"


def test_a_run_done_is_not_run_again(shop, orders):
    run = runs.simulation_start(campaign=apparel_campaign(shop), days=30, user_id=None)
    finished = run.finished_at

    runs.simulation_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.finished_at) == (SimulationStatus.DONE, finished)


@pytest.mark.parametrize(
    "body",
    [{}, {"days": 0}, {"days": 366}, {"days": -1}, {"days": "7"}, {"days": 7.5}, {"days": True}, {"days": None},
     {"days": [7]}, {"days": 7, "extra": 1}],
)  # fmt: skip
def test_bad_days_are_a_400_in_the_error_shape(shop, admin_client, body):
    campaign = apparel_campaign(shop)

    response = admin_client.post(URL.format(campaign.pk), body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] and response.json()["message"]
    assert not SimulationRun.objects.exists()


def test_a_body_that_is_not_json_is_a_400(shop, admin_client):
    response = admin_client.post(
        URL.format(apparel_campaign(shop).pk), "days=7", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code in (400, 415)
    assert "code" in response.json()


def test_unknown_campaigns_and_programs_on_the_campaign_route_are_404(admin_client):
    from loyalty.tests.factories import program_make

    program = program_make()

    assert admin_client.post(URL.format(999999), {"days": 7}, format="json").status_code == 404
    assert admin_client.post(URL.format(2**63 + 5), {"days": 7}, format="json").status_code == 404
    assert admin_client.post(URL.format(program.pk), {"days": 7}, format="json").status_code == 404
    assert admin_client.get("/api/v1/simulations/424242").status_code == 404


def test_an_archived_campaign_is_refused_with_its_code(shop, admin_client):
    campaign = apparel_campaign(shop, status="INACTIVE", archived=True)

    response = admin_client.post(URL.format(campaign.pk), {"days": 7}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "campaign_archived"


def test_customers_and_anonymous_callers_may_not_simulate(shop, customer_client):
    campaign = apparel_campaign(shop)

    assert customer_client.post(URL.format(campaign.pk), {"days": 7}, format="json").status_code == 403
    assert APIClient().post(URL.format(campaign.pk), {"days": 7}, format="json").status_code == 401


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_a_large_window_is_run_by_a_real_worker_over_the_broker(shop, orders, admin_client, settings):
    from celery.contrib.testing.worker import start_worker

    from lms.celery import app

    settings.SIMULATION_INLINE_MAX_ORDERS = 0
    app.conf.task_always_eager = False  # the autouse fixture in conftest.py restores it
    app.control.purge()
    campaign = apparel_campaign(shop)

    response = admin_client.post(URL.format(campaign.pk), {"days": 30}, format="json")

    assert response.status_code == 202, response.json()
    run = SimulationRun.objects.get(pk=response.json()["id"])
    assert run.status == SimulationStatus.PENDING  # waiting in the queue, not run in-process
    with start_worker(app, pool="solo", concurrency=1, queues=["default"], perform_ping_check=False):
        deadline = time.monotonic() + 20
        while run.status != SimulationStatus.DONE and time.monotonic() < deadline:
            time.sleep(0.1)
            run.refresh_from_db()
    assert (run.status, run.progress) == (SimulationStatus.DONE, 100)
    assert run.result["discount_cost"] == "155.00"


def test_a_replay_that_fails_leaves_the_run_failed_with_its_error_not_a_500(shop, admin_client, monkeypatch):
    def broken(campaign, **kwargs):
        raise RuntimeError("the engine fell over")

    monkeypatch.setitem(runs.replays._items, "DISCOUNT_COUPON", broken)

    response = admin_client.post(URL.format(apparel_campaign(shop).pk), {"days": 7}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["error"]) == ("FAILED", "the engine fell over")
    assert response.json()["result"] is None
