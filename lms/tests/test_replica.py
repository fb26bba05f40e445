"""The read replica (lms/db_router.py) against a real second PostgreSQL database.

The stand-in replica is its own database (``<test database>_replica``) with the test
database's schema and none of its rows, so a figure that shows a row the primary does not
hold can only have been read from it. Its schema is copied with ``pg_dump --schema-only``
(about a second) rather than migrated again.
"""

import csv
import io
import os
import subprocess
from copy import deepcopy

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import reverse

from accounts.models import User
from campaigns.models import Campaign, OrderRedemption, Redemption
from campaigns.tests.factories import CampaignFactory, redemption_make
from lms import db_router
from lms.db_router import REPLICA, read_alias, replica_iter, replica_reads
from loyalty.models import EarningRule, LoyaltyAccount, PointsTransaction, ProgramSettings
from loyalty.tests.factories import ingest, program_make
from segments.models import CustomerMembership, Segment
from segments.services import segment_create, segment_refresh
from segments.tests.factories import CustomerFactory, SegmentFactory, StaticSegmentFactory, city_is

BOTH = [DEFAULT_DB_ALIAS, REPLICA]


def _pg_env(conf: dict) -> dict:
    return {
        **os.environ,
        "PGHOST": str(conf["HOST"] or "127.0.0.1"),
        "PGPORT": str(conf["PORT"] or 5432),
        "PGUSER": conf["USER"] or "postgres",
        "PGPASSWORD": conf["PASSWORD"] or "",
    }


def _add_alias(conf: dict) -> None:
    settings.DATABASES[REPLICA] = conf
    db_router.replica_retry_now()


def _remove_alias() -> None:
    if REPLICA in settings.DATABASES:
        connections[REPLICA].close()
        connections[REPLICA].close_pool()
        del connections[REPLICA]
        del settings.DATABASES[REPLICA]
    db_router.replica_retry_now()


@pytest.fixture(scope="module", autouse=True)
def replica_database(django_db_setup, django_db_blocker):
    """A second database with the test database's tables and no rows, as the replica alias."""
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    # Named after the test database, never after a developer's own (this drops what it names).
    assert primary["NAME"].startswith("test_"), primary["NAME"]
    name = f"{primary['NAME']}_replica"
    env = _pg_env(primary)
    with django_db_blocker.unblock():
        subprocess.run(["dropdb", "--if-exists", name], env=env, check=True)
        subprocess.run(["createdb", name], env=env, check=True)
        schema = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", primary["NAME"]], env=env, check=True, capture_output=True
        ).stdout
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", name], input=schema, env=env, check=True, capture_output=True
        )
        saved = settings.DATABASES.get(REPLICA)  # REPLICA_URL set: a mirror of the test database
        conf = deepcopy(primary)
        conf["NAME"], conf["TEST"] = name, {**conf["TEST"], "MIRROR": None, "NAME": name}
        _add_alias(conf)
        yield conf
        _remove_alias()
        if saved is not None:
            _add_alias(saved)
        subprocess.run(["dropdb", "--if-exists", name], env=env, check=True)


@pytest.fixture
def replica(replica_database):
    db_router.replica_retry_now()
    yield
    db_router.replica_retry_now()


def _copy_to_replica(*sources) -> None:
    """The rows the primary holds now (of a model, or a queryset's), also on the replica. Its
    foreign keys are checked at commit, which the test's transaction never reaches: the order
    of ``sources`` is free."""
    for source in sources:
        rows = source.objects.all() if isinstance(source, type) else source
        rows.model.objects.using(REPLICA).bulk_create(list(rows.using(DEFAULT_DB_ALIAS)))


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- The scope ---------------------------------------------------------------------------------


@pytest.mark.django_db(databases=BOTH)
def test_reads_go_to_the_replica_only_inside_the_scope(replica):
    Segment.objects.using(REPLICA).create(name="Only on the replica", kind="USER", type="STATIC")

    assert not Segment.objects.filter(name="Only on the replica").exists()
    with replica_reads() as alias:
        assert alias == REPLICA
        assert Segment.objects.filter(name="Only on the replica").exists()
    assert read_alias() == DEFAULT_DB_ALIAS
    assert not Segment.objects.filter(name="Only on the replica").exists()


@pytest.mark.django_db(databases=BOTH)
def test_writes_inside_the_scope_land_on_the_primary_never_on_the_replica(replica):
    # The replica's copy of a primary row (same primary key), as streaming replication keeps it.
    mirrored = Segment.objects.create(name="Read in scope", kind="USER", type="STATIC")
    Segment.objects.using(REPLICA).create(pk=mirrored.pk, name="Read in scope", kind="USER", type="STATIC")
    with replica_reads():
        made = segment_create(name="Written in scope", kind="USER", type="STATIC", members=[])
        from_replica = Segment.objects.get(name="Read in scope")
    from_replica.description = "saved after a read from the replica"
    from_replica.save()  # the instance came from the replica; its save goes to the primary

    assert Segment.objects.using(DEFAULT_DB_ALIAS).filter(pk=made.pk, name="Written in scope").exists()
    assert not Segment.objects.using(REPLICA).filter(name="Written in scope").exists()
    assert Segment.objects.using(DEFAULT_DB_ALIAS).get(pk=from_replica.pk).description.startswith("saved after")
    assert Segment.objects.using(REPLICA).get(pk=from_replica.pk).description == ""


@pytest.mark.django_db(databases=BOTH)
def test_a_streamed_read_holds_the_scope_only_while_it_reads_a_row(replica):
    Segment.objects.using(REPLICA).create(name="Streamed", kind="USER", type="STATIC")
    seen_between_rows = []

    rows = replica_iter(Segment.objects.values_list("name", flat=True).iterator(chunk_size=1))
    for name in rows:
        seen_between_rows.append((name, read_alias()))

    assert seen_between_rows == [("Streamed", DEFAULT_DB_ALIAS)]


# --- Segment refresh ---------------------------------------------------------------------------


@pytest.mark.django_db(databases=BOTH)
def test_segment_refresh_evaluates_on_the_replica_and_writes_members_on_the_primary(replica):
    asha = CustomerFactory(email="asha@example.com", city="Delhi")
    ravi = CustomerFactory(email="ravi@example.com", city="Pune")
    segment = SegmentFactory(criteria=city_is("Pune"))
    _copy_to_replica(User)
    # The replica says Asha moved to Pune and Ravi left; and it still holds a customer the
    # primary has deleted since (lag): she is not written, the primary has no such row.
    User.objects.using(REPLICA).filter(pk=asha.pk).update(city="Pune")
    User.objects.using(REPLICA).filter(pk=ravi.pk).update(city="Mumbai")
    gone = CustomerFactory(email="gone@example.com", city="Pune")
    _copy_to_replica(User.objects.filter(pk=gone.pk))
    User.objects.filter(pk=gone.pk).delete()

    refreshed = segment_refresh(segment_id=segment.pk)

    members = set(
        CustomerMembership.objects.using(DEFAULT_DB_ALIAS).filter(segment=segment).values_list("customer_id", flat=True)
    )
    assert members == {asha.pk}
    assert refreshed.member_count == 1
    assert not CustomerMembership.objects.using(REPLICA).exists()


# --- The console's dashboard and reports, the exports -------------------------------------------


@pytest.mark.django_db(databases=BOTH)
def test_the_dashboard_reads_its_figures_from_the_replica(replica, console):
    Segment.objects.using(REPLICA).create(name="Replica shoppers", kind="USER", type="STATIC", member_count=4321)

    page = console.get(reverse("admin:index")).content.decode()
    listed = console.get(reverse("admin:segments_segment_changelist")).content.decode()

    assert "Replica shoppers" in page
    assert "Replica shoppers" not in listed  # the console's lists read the primary


@pytest.mark.django_db(databases=BOTH)
def test_the_campaign_report_and_its_csv_read_the_replica(replica, console):
    campaign = CampaignFactory(name="Spring")
    customers = [CustomerFactory(email=f"c{i}@example.com") for i in range(3)]
    for i, customer in enumerate(customers):
        redemption_make(customer=customer, campaign=campaign, amount="50.00", order_id=f"O-{i}")
    _copy_to_replica(User, Campaign, OrderRedemption, Redemption)
    Redemption.objects.using(DEFAULT_DB_ALIAS).exclude(order_id="O-0").delete()

    page = console.get(reverse("admin:campaigns_campaign_report", args=[campaign.pk]))
    rows = _csv(console.get(reverse("admin:campaigns_campaign_report_csv", args=[campaign.pk])))

    assert 'data-testid="report-redemptions">3<' in page.content.decode()
    assert sorted(row[1] for row in rows[1:]) == ["O-0", "O-1", "O-2"]


@pytest.mark.django_db(databases=BOTH)
def test_the_liability_csv_reads_the_replica(replica, console, integration_client):
    program = program_make()
    ingest(integration_client, "P-1", placed_at="2026-01-10T10:00:00Z")  # Asha: 1,000 points
    _copy_to_replica(User, Campaign, EarningRule, LoyaltyAccount, PointsTransaction, ProgramSettings)
    ingest(integration_client, "P-2", placed_at="2026-01-11T10:00:00Z")  # on the primary only: 2,000

    rows = _csv(console.get(reverse("admin:loyalty_loyaltyprogram_report_csv", args=[program.pk])))

    assert [row[1:4] for row in rows[1:]] == [["asha@example.com", "C-ASHA", "1000"]]


@pytest.mark.django_db(databases=BOTH)
def test_segment_member_exports_read_the_replica(replica, console, admin_client):
    on_primary = CustomerFactory(email="primary@example.com")
    segment = StaticSegmentFactory()
    CustomerMembership.objects.create(segment=segment, customer=on_primary)
    _copy_to_replica(Segment)
    only_there = User.objects.using(REPLICA).create(email="replica@example.com")
    CustomerMembership.objects.using(REPLICA).create(segment_id=segment.pk, customer_id=only_there.pk)

    api = _csv(admin_client.get(f"/api/v1/segments/{segment.pk}/members/export/"))
    page = _csv(console.get(reverse("admin:segments_segment_members_export", args=[segment.pk])))

    assert [row[1] for row in api[1:]] == ["replica@example.com"]
    assert [row[1] for row in page[1:]] == ["replica@example.com"]
