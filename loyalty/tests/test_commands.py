"""Ops commands (expire_points, rebuild_balances), the expiry task on a real worker, and the
PostgreSQL trigger that keeps the points ledger append-only."""

import datetime as dt
import io
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from accounts.tests.factories import UserFactory
from lms.celery import app
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.ledger import points_adjust, points_redeem
from loyalty.services.upkeep import balances_check
from loyalty.tests.factories import order_for, program_make

ORDERS = "/api/v1/commerce/orders/"
ASHA = {"email": "asha@example.com"}
WORKER_WAIT_SECONDS = 15


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def ingest(client, external_id: str, amount: str, placed_at: str, who=ASHA) -> None:
    response = client.post(ORDERS, order_for(external_id, who, [("A", 1, amount)], placed_at=placed_at), format="json")
    assert response.status_code == 201, response.content


# The fixture's orders are placed 10 and 1 days ago, so their lots are live now (points past
# their date are never spent, even before the run) and the runs below judge times around them.
BASE = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).replace(hour=10, minute=0, second=0, microsecond=0)


def at(days: int, seconds: int = 0) -> str:
    """BASE plus a number of days (and seconds), as an ISO time with its offset."""
    return (BASE + dt.timedelta(days=days, seconds=seconds)).isoformat()


def lot(reference: str) -> PointsTransaction:
    return PointsTransaction.objects.get(kind="EARN", reference=reference)


@pytest.fixture
def expiring(integration_client):
    """Asha: OLD (100 points, expires at BASE + 30 days; 30 of them spent) and NEW (200, expires at BASE + 39)."""
    program = program_make(settings={"expiry_days": 30})
    ingest(integration_client, "OLD", "100.00", at(0))
    ingest(integration_client, "NEW", "200.00", at(9))
    account = LoyaltyAccount.objects.get(program=program)
    points_redeem(customer_id=account.customer.pk, program_id=program.pk, points=30, order_id="SPEND")
    return program


# --- expire_points -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_expire_points_expires_what_is_left_of_lots_past_their_date(expiring):
    output = run("expire_points", "--now", at(35))

    assert output.strip() == "expired 70 points in 1 lots of 1 accounts"
    expired = PointsTransaction.objects.get(kind="EXPIRE")
    assert (expired.points, expired.reverses, expired.source) == (-70, lot("OLD"), "EXPIRY")
    assert (lot("OLD").remaining, lot("NEW").remaining) == (0, 200)
    assert LoyaltyAccount.objects.get().balance == 200 == expired.balance_after
    assert balances_check() == []


@pytest.mark.django_db
def test_expire_points_run_again_is_a_no_op(expiring):
    run("expire_points", "--now", at(35))
    rows = PointsTransaction.objects.count()

    output = run("expire_points", "--now", at(35))

    assert output.strip() == "expired 0 points in 0 lots of 0 accounts"
    assert PointsTransaction.objects.count() == rows
    assert LoyaltyAccount.objects.get().balance == 200


@pytest.mark.django_db
def test_expire_points_dry_run_counts_and_writes_nothing(expiring):
    output = run("expire_points", "--dry-run", "--now", at(45))

    assert output.strip() == "would expire 270 points in 2 lots of 1 accounts"
    assert not PointsTransaction.objects.filter(kind="EXPIRE").exists()
    assert LoyaltyAccount.objects.get().balance == 270
    assert lot("OLD").remaining == 70


@pytest.mark.django_db
def test_expire_points_without_now_judges_at_the_present(integration_client):
    program_make(settings={"expiry_days": 30})
    ingest(integration_client, "LAPSED", "100.00", at(-30))  # expired ten days ago
    ingest(integration_client, "LIVE", "200.00", at(9))

    output = run("expire_points")

    assert output.strip() == "expired 100 points in 1 lots of 1 accounts"
    assert LoyaltyAccount.objects.get().balance == 200
    assert list(PointsTransaction.objects.filter(kind="EXPIRE").values_list("points", flat=True)) == [-100]


@pytest.mark.django_db
def test_a_lot_expires_at_its_exact_time_not_before(expiring):
    just_before = run("expire_points", "--now", at(30, seconds=-1))
    at_the_time = run("expire_points", "--now", at(30))

    assert just_before.startswith("expired 0 points")
    assert at_the_time.startswith("expired 70 points")


@pytest.mark.django_db
def test_expire_points_works_through_many_accounts_in_small_batches(integration_client):
    program = program_make(settings={"expiry_days": 1})
    for n in range(5):
        ingest(integration_client, f"O-{n}", "10.00", "2025-06-01T10:00:00Z", who={"email": f"c{n}@example.com"})

    output = run("expire_points", "--batch", "2")

    assert output.strip() == "expired 50 points in 5 lots of 5 accounts"
    assert set(LoyaltyAccount.objects.filter(program=program).values_list("balance", flat=True)) == {0}


@pytest.mark.django_db
def test_points_that_never_expire_are_left_alone(integration_client):
    program_make(settings={"expiry_days": None})
    ingest(integration_client, "O-1", "100.00", "2025-06-01T10:00:00Z")

    output = run("expire_points")

    assert output.strip() == "expired 0 points in 0 lots of 0 accounts"
    assert LoyaltyAccount.objects.get().balance == 100


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ("--now", "yesterday"),
        ("--now", "2025-06-15T00:00:00"),  # no offset: ambiguous
        ("--now", "2025-13-45T00:00:00+00:00"),
        ("--batch", "0"),
    ],
)
def test_expire_points_refuses_a_bad_argument(expiring, args):
    with pytest.raises(CommandError):
        run("expire_points", *args)

    assert not PointsTransaction.objects.filter(kind="EXPIRE").exists()


# --- rebuild_balances --------------------------------------------------------------------------


@pytest.mark.django_db
def test_rebuild_balances_check_reports_every_balance_matches(expiring):
    output = run("rebuild_balances", "--check")

    assert "every balance matches" in output


@pytest.mark.django_db
def test_rebuild_balances_check_reports_a_corrupted_balance_and_exits_1(expiring):
    account = LoyaltyAccount.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_loyaltyaccount SET balance = balance + 5 WHERE id = %s", [account.pk])

    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("rebuild_balances", "--check", stdout=out, stderr=out)

    assert exited.value.code == 1
    assert f"account {account.pk}" in out.getvalue() and "balance 275, transactions sum 270" in out.getvalue()
    assert LoyaltyAccount.objects.get().balance == 275  # --check changes nothing


@pytest.mark.django_db
def test_rebuild_balances_without_check_sets_the_balance_to_the_ledgers_sum(expiring):
    account = LoyaltyAccount.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_loyaltyaccount SET balance = 1 WHERE id = %s", [account.pk])

    output = run("rebuild_balances")

    assert "1 balances set" in output
    assert LoyaltyAccount.objects.get().balance == 270
    assert "every balance matches" in run("rebuild_balances", "--check")


@pytest.mark.django_db
def test_rebuild_balances_check_notices_open_lots_that_do_not_add_up(expiring):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_pointstransaction SET remaining = remaining - 10 WHERE id = %s", [lot("NEW").pk])

    with pytest.raises(SystemExit) as exited:
        run("rebuild_balances", "--check")

    assert exited.value.code == 1


# --- The append-only ledger --------------------------------------------------------------------


def raw(sql: str, params) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def credit(db):
    program = program_make()
    return points_adjust(customer=UserFactory(password=None), program_id=program.pk, points=100, reason="x", by=None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE loyalty_pointstransaction SET points = 1000 WHERE id = %s",
        "UPDATE loyalty_pointstransaction SET reason = 'edited' WHERE id = %s",
        "UPDATE loyalty_pointstransaction SET balance_after = 0, remaining = 0 WHERE id = %s",
        "UPDATE loyalty_pointstransaction SET remaining = 150 WHERE id = %s",
        "DELETE FROM loyalty_pointstransaction WHERE id = %s",
    ],
)
def test_the_database_refuses_to_rewrite_or_delete_a_transaction(credit, sql):
    with pytest.raises(DatabaseError):
        raw(sql, [credit.pk])

    credit.refresh_from_db()
    assert (credit.points, credit.remaining, credit.reason) == (100, 100, "x")


@pytest.mark.django_db
def test_the_database_lets_remaining_go_down_only(credit):
    raw("UPDATE loyalty_pointstransaction SET remaining = 40 WHERE id = %s", [credit.pk])

    with pytest.raises(DatabaseError):
        raw("UPDATE loyalty_pointstransaction SET remaining = 41 WHERE id = %s", [credit.pk])

    credit.refresh_from_db()
    assert credit.remaining == 40


@pytest.mark.django_db
def test_a_debit_never_gets_a_remaining(credit):
    debit = points_adjust(
        customer=credit.account.customer, program_id=credit.account.program_id, points=-10, reason="y", by=None
    )

    with pytest.raises(DatabaseError):
        raw("UPDATE loyalty_pointstransaction SET remaining = 0 WHERE id = %s", [debit.pk])


@pytest.mark.django_db
def test_the_orm_cannot_delete_a_transaction_either(credit):
    with pytest.raises(DatabaseError), transaction.atomic():
        PointsTransaction.objects.filter(pk=credit.pk).delete()

    assert PointsTransaction.objects.filter(pk=credit.pk).exists()


@pytest.mark.django_db
def test_deleting_the_admin_who_made_an_adjustment_is_refused_cleanly_and_keeps_the_adjustment(credit):
    admin = UserFactory(role="ADMIN", is_staff=True, password=None)
    made = points_adjust(
        customer=credit.account.customer, program_id=credit.account.program_id, points=5, reason="goodwill", by=admin
    )

    # Django refuses (PROTECT: the console says why), never the trigger's error half way through.
    with pytest.raises(ProtectedError), transaction.atomic():
        admin.delete()

    made = PointsTransaction.objects.get(pk=made.pk)
    assert (made.points, made.reason) == (5, "goodwill")


# --- The daily expiry task on a real worker ------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_points_expire_task_runs_on_a_real_worker(integration_client):
    program = program_make(settings={"expiry_days": 1})
    ingest(integration_client, "O-1", "100.00", "2025-06-01T10:00:00Z")
    app.conf.task_always_eager = False  # the autouse fixture in conftest.py restores it
    app.control.purge()
    from loyalty.tasks import points_expire_task

    points_expire_task.delay()

    # Queued, not run in this process: nothing has expired yet.
    assert not PointsTransaction.objects.filter(kind="EXPIRE").exists()
    with start_worker(
        app, pool="solo", concurrency=1, queues=["default"], perform_ping_check=False, shutdown_timeout=10
    ):
        deadline = time.monotonic() + WORKER_WAIT_SECONDS
        while not PointsTransaction.objects.filter(kind="EXPIRE").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    expired = PointsTransaction.objects.filter(kind="EXPIRE")
    assert [row.points for row in expired] == [-100], f"no expiry within {WORKER_WAIT_SECONDS} s"
    assert LoyaltyAccount.objects.get(program=program).balance == 0


@pytest.mark.django_db
def test_seeding_the_demo_program_again_makes_no_second_one():
    from loyalty.models import LoyaltyProgram

    first = run("seed_demo_loyalty")
    again = run("seed_demo_loyalty")

    assert first.startswith("Created LMS Rewards")
    assert again.startswith("The demo program LMS Rewards exists") and "nothing to do" in again
    assert LoyaltyProgram.objects.filter(name="LMS Rewards").count() == 1
