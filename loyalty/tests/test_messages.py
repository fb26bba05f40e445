"""What a loyalty program tells its members: points earned (per ingestion batch), points
expiring (the daily beat), tier changes, its own announcement; each switchable per program,
each template checked when it is saved."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from campaigns.evaluation import snapshot_invalidate
from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, LoyaltyProgram, ProgramSettings
from loyalty.services.earning import orders_earn_backfill
from loyalty.services.tiers import tiers_reevaluate
from loyalty.tasks import points_expiring_notify_task
from loyalty.tests.factories import order_for, program_make
from loyalty.tests.test_admin import ADD, nothing_saved, program_data
from notifications.models import Delivery, DeliveryStatus, Message
from notifications.services.messages import message_fanout

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/commerce/orders/"
BULK = "/api/v1/commerce/orders/bulk"
PROGRAMS = "/api/v1/loyalty/programs/"
ASHA = {"external_id": "C-ASHA", "email": "asha@example.com", "first_name": "Asha"}


def person(name: str) -> dict:
    return {"external_id": f"C-{name.upper()}", "email": f"{name}@example.com", "first_name": name.title()}


def ingest(client, capture, external_id: str, who=ASHA, lines=None, **extra):
    with capture(execute=True):
        response = client.post(ORDERS, order_for(external_id, who, lines, **extra), format="json")
    assert response.status_code in (200, 201), response.content
    return response


def inbox(source_type: str) -> list[tuple[str, str, str, str]]:
    rows = Delivery.objects.filter(message__source_type=source_type).select_related("recipient")
    return sorted((row.recipient.email, row.status, row.title, row.body) for row in rows)


# --- Points earned -------------------------------------------------------------------------------


def test_an_ingested_order_tells_its_customer_the_points_it_earned(
    integration_client, django_capture_on_commit_callbacks
):
    program = program_make(name="Rewards")

    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "1200.00")])

    assert inbox("points_earned") == [
        (
            "asha@example.com",
            DeliveryStatus.SENT,
            "You earned 1200 points",
            "Hi Asha, you earned 1200 points in Rewards. Your balance is now 1200 points.",
        )
    ]
    message = Message.objects.get(source_type="points_earned")
    assert (message.source_id, message.purpose, message.channels) == (str(program.pk), "MARKETING", ["IN_APP"])


def test_a_bulk_batch_sends_one_message_per_program_with_each_customers_own_points(
    integration_client, django_capture_on_commit_callbacks
):
    program_make(name="Rewards", settings={"points_earned_title": "+{{ points }} ({{ points_balance }} in all)"})
    body = {
        "orders": [
            order_for("O-1", person("ann"), [("A", 1, "100.00")]),
            order_for("O-2", person("bob"), [("A", 1, "250.00")]),
            order_for("O-3", person("ann"), [("A", 1, "50.00")]),
        ]
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = integration_client.post(BULK, body, format="json")

    assert response.status_code == 200, response.content
    assert Message.objects.filter(source_type="points_earned").count() == 1
    assert [(email, title) for email, _, title, _ in inbox("points_earned")] == [
        ("ann@example.com", "+150 (150 in all)"),
        ("bob@example.com", "+250 (250 in all)"),
    ]


def test_a_second_batch_tells_only_what_that_batch_earned(integration_client, django_capture_on_commit_callbacks):
    program_make(name="Rewards", settings={"points_earned_title": "+{{ points }} ({{ points_balance }} in all)"})

    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "100.00")])
    ingest(integration_client, django_capture_on_commit_callbacks, "O-2", lines=[("A", 1, "40.00")])

    assert sorted(title for _, _, title, _ in inbox("points_earned")) == ["+100 (100 in all)", "+40 (140 in all)"]


@pytest.mark.parametrize("settings", [{"points_earned_on": False}, {"message_channels": []}])
def test_points_earned_switched_off_sends_nothing(integration_client, django_capture_on_commit_callbacks, settings):
    program_make(settings=settings)

    ingest(integration_client, django_capture_on_commit_callbacks, "O-1")

    assert LoyaltyAccount.objects.get().balance == 1000  # earned all the same
    assert not Message.objects.exists()


def test_a_program_switched_off_tells_its_members_nothing_more(
    admin_client, integration_client, django_capture_on_commit_callbacks
):
    program = program_make(
        name="Rewards",
        settings={"expiry_days": 30, "points_expiring_days": 7},
        tiers=[{"name": "Gold", "threshold": Decimal("100")}],
    )
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "300.00")],
           placed_at=(timezone.now() - dt.timedelta(days=25)).isoformat())  # fmt: skip
    told = set(Message.objects.values_list("source_type", flat=True))
    assert told == {"points_earned", "tier_changed"}

    with django_capture_on_commit_callbacks(execute=True):
        off = admin_client.patch(f"/api/v1/campaigns/{program.pk}/status/", {"status": "INACTIVE"}, format="json")
    assert off.status_code == 200, off.content
    ingest(integration_client, django_capture_on_commit_callbacks, "O-2", person("ravi"), [("A", 1, "900.00")])
    with django_capture_on_commit_callbacks(execute=True):
        assert points_expiring_notify_task.delay().get() == 0
        tiers_reevaluate()

    assert Message.objects.count() == 2


def test_earning_on_stored_history_sends_nothing(integration_client, django_capture_on_commit_callbacks):
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1")  # before any program
    program_make(tiers=[{"name": "Gold", "threshold": Decimal("500")}])

    with django_capture_on_commit_callbacks(execute=True):
        orders_earn_backfill()

    account = LoyaltyAccount.objects.get()
    assert (account.balance, account.tier.name) == (1000, "Gold")
    assert not Message.objects.exists()


def test_a_batch_of_earning_orders_takes_as_many_statements_for_many_customers_as_for_few(integration_client):
    """The bulk path's budget: the loyalty hook's statements (accounts, keys, ledger COPY,
    balances, and now one points-earned message: a few inserts) do not grow with the batch."""
    program_make(name="Rewards")

    def batch(tag: str, count: int) -> int:
        orders = [order_for(f"{tag}-{n}", person(f"{tag}{n}"), [("A", 1, "100.00")]) for n in range(count)]
        integration_client.post(BULK, {"orders": orders[:1]}, format="json")  # warm: the snapshot, the key
        with CaptureQueriesContext(connection) as queries:
            response = integration_client.post(BULK, {"orders": orders[1:]}, format="json")
        assert response.status_code == 200, response.content
        return len(queries)

    few, many = batch("few", 3), batch("many", 13)

    assert many == few
    assert Message.objects.filter(source_type="points_earned").count() == 4  # one per batch


# --- Points expiring -----------------------------------------------------------------------------


def expiring_program(**settings):
    return program_make(name="Rewards", settings={"expiry_days": 30, "points_expiring_days": 7, **settings})


def test_the_daily_reminder_tells_members_of_points_expiring_within_the_notice_once(
    integration_client, django_capture_on_commit_callbacks
):
    expiring_program()
    now = timezone.now()
    # Earned 25 days ago: expire in 5 days. Earned 10 days ago: in 20 days, not yet announced.
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "300.00")],
           placed_at=(now - dt.timedelta(days=25)).isoformat())  # fmt: skip
    ingest(integration_client, django_capture_on_commit_callbacks, "O-2", lines=[("A", 1, "700.00")],
           placed_at=(now - dt.timedelta(days=10)).isoformat())  # fmt: skip
    ingest(integration_client, django_capture_on_commit_callbacks, "O-3", person("ravi"), [("A", 1, "50.00")],
           placed_at=(now - dt.timedelta(days=2)).isoformat())  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert points_expiring_notify_task.delay().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert points_expiring_notify_task.delay().get() == 0  # the same day: nothing more

    expires_on = (now - dt.timedelta(days=25) + dt.timedelta(days=30)).astimezone(
        dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    assert inbox("points_expiring") == [
        (
            "asha@example.com",
            DeliveryStatus.SENT,
            "300 points expire soon",
            f"Hi Asha, 300 of your Rewards points expire on {expires_on.date().isoformat()}. Use them before then.",
        )
    ]
    message = Message.objects.get(source_type="points_expiring")
    assert message.key.startswith(f"points-expiring:{LoyaltyProgram.objects.get().pk}:")


def test_a_lot_is_announced_once_and_the_next_one_when_its_turn_comes(
    integration_client, django_capture_on_commit_callbacks
):
    expiring_program()
    now = timezone.now()
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "300.00")],
           placed_at=(now - dt.timedelta(days=25)).isoformat())  # fmt: skip
    ingest(integration_client, django_capture_on_commit_callbacks, "O-2", lines=[("A", 1, "700.00")],
           placed_at=(now - dt.timedelta(days=20)).isoformat())  # fmt: skip
    from loyalty.services.messages import points_expiring_notify

    with django_capture_on_commit_callbacks(execute=True):
        first = points_expiring_notify(now=now)  # the 300 (in 5 days)
    with django_capture_on_commit_callbacks(execute=True):
        second = points_expiring_notify(now=now + dt.timedelta(days=1))  # nothing new: the 700 are 9 days out
    with django_capture_on_commit_callbacks(execute=True):
        third = points_expiring_notify(now=now + dt.timedelta(days=3, hours=1))  # the 700 (in 7 days)

    assert (first, second, third) == (1, 0, 1)
    assert sorted(title for _, _, title, _ in inbox("points_expiring")) == [
        "300 points expire soon",
        "700 points expire soon",
    ]


@pytest.mark.parametrize("settings", [{"points_expiring_on": False}, {"message_channels": []}])
def test_the_reminder_switched_off_sends_nothing(integration_client, django_capture_on_commit_callbacks, settings):
    expiring_program(**settings)
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1",
           placed_at=(timezone.now() - dt.timedelta(days=25)).isoformat())  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert points_expiring_notify_task.delay().get() == 0

    assert not Message.objects.filter(source_type="points_expiring").exists()


# --- Tier changes --------------------------------------------------------------------------------

TIERS = [{"name": "Silver", "threshold": Decimal("0")}, {"name": "Gold", "threshold": Decimal("1000")}]


def test_moving_up_a_tier_on_an_order_and_down_on_the_daily_run_tells_the_member(
    integration_client, django_capture_on_commit_callbacks
):
    program_make(name="Rewards", tiers=TIERS)
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "500.00")])
    ingest(integration_client, django_capture_on_commit_callbacks, "O-2", lines=[("A", 1, "600.00")])
    with django_capture_on_commit_callbacks(execute=True):
        response = integration_client.patch(f"{ORDERS}O-2/", {"status": "CANCELLED"}, format="json")
    assert response.status_code == 200, response.content

    with django_capture_on_commit_callbacks(execute=True):
        tiers_reevaluate()

    assert [(title, body) for _, _, title, body in sorted(inbox("tier_changed"), key=lambda row: row[2])] == [
        ("Welcome to Gold", "Hi Asha, you moved up to Gold in Rewards."),  # O-2: 1100 lifetime points
        ("Welcome to Silver", "Hi Asha, you moved up to Silver in Rewards."),  # O-1: the first tier
        ("Your Rewards tier changed", "Hi Asha, your Rewards tier is now Silver (it was Gold)."),
    ]


def test_tier_messages_switched_off_send_nothing(integration_client, django_capture_on_commit_callbacks):
    program_make(tiers=TIERS, settings={"tier_change_on": False})

    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "1500.00")])

    assert LoyaltyAccount.objects.get().tier.name == "Gold"
    assert not Message.objects.filter(source_type="tier_changed").exists()


# --- The program's announcement ------------------------------------------------------------------


def test_a_program_switched_on_announces_itself_with_each_members_balance(
    admin_client, integration_client, django_capture_on_commit_callbacks
):
    program = program_make(name="Rewards", status="INACTIVE")
    program.status = "ACTIVE"  # earn once, as if it had been on
    LoyaltyProgram.objects.filter(pk=program.pk).update(status="ACTIVE")
    ingest(integration_client, django_capture_on_commit_callbacks, "O-1", lines=[("A", 1, "80.00")])
    LoyaltyProgram.objects.filter(pk=program.pk).update(status="INACTIVE")
    User.objects.create_user("new@example.com", first_name="Neha")
    content = {
        "title": "{{ program_name }} is here",
        "body": "Hi {{ first_name }}, you have {{ points_balance }} points{{ ' (' ~ tier ~ ')' if tier }}.",
        "channels": ["IN_APP"],
    }
    response = admin_client.patch(f"{PROGRAMS}{program.pk}/", {"notification": content}, format="json")
    assert response.status_code == 200, response.content

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.patch(f"{PROGRAMS}{program.pk}/status/", {"status": "ACTIVE"}, format="json")

    assert response.status_code == 200, response.content
    assert [(email, body) for email, _, _, body in inbox("program")] == [
        ("asha@example.com", "Hi Asha, you have 80 points."),
        ("new@example.com", "Hi Neha, you have 0 points."),
    ]
    assert Message.objects.get(source_type="program").key == f"campaign:{program.pk}:announce"


# --- Settings over HTTP and bad input ------------------------------------------------------------


def program_body(**overrides):
    base = {
        "name": "Gold Club",
        "starts_at": "2025-01-01T00:00:00+05:30",
        "status": "ACTIVE",
        "rules": [{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1"}],
    }
    return {**base, **overrides}


def test_the_message_settings_are_answered_and_changed_over_http(admin_client):
    created = admin_client.post(PROGRAMS, program_body(), format="json")
    assert created.status_code == 201, created.content
    assert {key: created.json()[key] for key in ("message_channels", "points_earned_on", "points_expiring_days")} == {
        "message_channels": ["IN_APP"],
        "points_earned_on": True,
        "points_expiring_days": 7,
    }

    changed = admin_client.patch(
        f"{PROGRAMS}{created.json()['id']}/",
        {"message_channels": ["IN_APP", "EMAIL"], "tier_change_on": False, "tier_up_title": "Up to {{ tier }}"},
        format="json",
    )

    assert changed.status_code == 200, changed.content
    terms = ProgramSettings.objects.get()
    assert (terms.message_channels, terms.tier_change_on, terms.tier_up_title) == (
        ["IN_APP", "EMAIL"], False, "Up to {{ tier }}",
    )  # fmt: skip


BAD = [
    ({"points_earned_title": "{{ points"}, "points_earned_title"),
    ({"points_earned_body": "{{ expiring_points }} soon"}, "points_earned_body"),
    ({"points_expiring_body": "{{ password }}"}, "points_expiring_body"),
    ({"tier_down_title": "{% for %}"}, "tier_down_title"),
    ({"message_channels": ["FAX"]}, "message_channels[0]"),
    ({"points_expiring_days": 0}, "points_expiring_days"),
    ({"points_expiring_days": 91}, "points_expiring_days"),
    ({"notification": {"title": "t", "body": "Use {{ code }}", "channels": ["IN_APP"]}}, "notification.body"),
    ({"notification": {"title": "{{ x", "body": "b", "channels": ["IN_APP"]}}, "notification.title"),
    (
        {"notification": {"title": "t", "body": "b", "cta_text": "Go", "cta_url": "javascript:alert(1)"}},
        "notification.cta_url",
    ),
]


@pytest.mark.parametrize(("fields", "field"), BAD)
def test_a_program_create_with_content_that_could_not_be_sent_is_a_400_naming_the_field(admin_client, fields, field):
    response = admin_client.post(PROGRAMS, program_body(**fields), format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error
    assert not LoyaltyProgram.objects.exists()


@pytest.mark.parametrize(("fields", "field"), BAD)
def test_a_program_update_with_content_that_could_not_be_sent_is_a_400_naming_the_field(admin_client, fields, field):
    program = program_make(status="INACTIVE")

    response = admin_client.patch(f"{PROGRAMS}{program.pk}/", {**fields, "status": "ACTIVE"}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error
    program.refresh_from_db()
    terms = ProgramSettings.objects.get(program=program)
    assert (program.status, program.notify_title, terms.points_earned_title, terms.points_expiring_days) == (
        "INACTIVE", "", "", 7,
    )  # fmt: skip
    assert not Message.objects.exists()


# --- The console -----------------------------------------------------------------------------------


def settings_errors(response) -> dict:
    return response.context["inline_admin_formsets"][0].formset.forms[0].errors


def test_the_console_saves_a_programs_message_settings(console):
    data = program_data(
        [{"points_per_rupee": "1"}],
        settings={
            "message_channels": ["IN_APP", "PUSH"],
            "points_earned_on": "on",
            "points_expiring_days": "3",
            "tier_up_title": "Up to {{ tier }}",
        },  # fmt: skip
    )

    response = console.post(ADD, data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    terms = ProgramSettings.objects.get()
    assert (terms.message_channels, terms.points_earned_on, terms.points_expiring_on) == (
        ["IN_APP", "PUSH"],
        True,
        False,
    )
    assert (terms.points_expiring_days, terms.tier_up_title) == (3, "Up to {{ tier }}")


@pytest.mark.parametrize(
    ("fields", "settings", "where"),
    [
        ({"notify_title": "t", "notify_body": "Use {{ code }}", "notify_channels": ["IN_APP"]}, {}, "notify_body"),
        ({"notify_title": "{{ t", "notify_body": "b", "notify_channels": ["IN_APP"]}, {}, "notify_title"),
        ({}, {"points_earned_body": "{{ expires_on }}"}, "points_earned_body"),
        ({}, {"tier_down_title": "{% if %}"}, "tier_down_title"),
    ],
)
def test_the_console_shows_content_that_could_not_be_sent_on_its_field(console, fields, settings, where):
    response = console.post(ADD, program_data([{"points_per_rupee": "1"}], settings=settings, **fields))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors if where.startswith("notify_") else settings_errors(response)
    assert where in errors, (response.context["adminform"].form.errors, settings_errors(response))
    assert nothing_saved()


def test_the_points_earned_message_costs_a_few_statements_per_program_per_batch(integration_client):
    """The bulk ingest's loyalty hook was 7 statements per batch (bench/README.md); telling the
    batch's earners adds one message per program: message_send's lookups, two inserts (the
    message, its outbox task) and their savepoints, whatever the batch's size."""
    program = program_make(name="Rewards")

    def batch(tag: str) -> int:
        orders = [order_for(f"{tag}-{n}", person(f"{tag}{n}"), [("A", 1, "100.00")]) for n in range(5)]
        integration_client.post(BULK, {"orders": orders[:1]}, format="json")
        with CaptureQueriesContext(connection) as queries:
            integration_client.post(BULK, {"orders": orders[1:]}, format="json")
        return len(queries)

    telling = batch("on")
    ProgramSettings.objects.filter(program=program).update(points_earned_on=False)
    snapshot_invalidate()
    silent = batch("off")

    assert 0 < telling - silent <= 10


def test_filling_a_points_earned_batch_takes_as_many_queries_for_many_recipients_as_for_few(
    integration_client, settings
):
    """The context provider reads every recipient's points, balance and tier in one query."""
    settings.NOTIFICATIONS_FANOUT_BATCH = 1000
    program_make(name="Rewards")

    def fanout(tag: str, count: int) -> int:
        orders = [order_for(f"{tag}-{n}", person(f"{tag}{n}"), [("A", 1, "100.00")]) for n in range(count)]
        integration_client.post(BULK, {"orders": orders}, format="json")  # fan-out waits for a commit
        message = Message.objects.get(source_type="points_earned", status="PENDING")
        with CaptureQueriesContext(connection) as queries:
            message_fanout(message_id=message.pk)
        assert Delivery.objects.filter(message=message, status=DeliveryStatus.SENT).count() == count
        return len(queries)

    assert fanout("few", 2) == fanout("many", 12)
