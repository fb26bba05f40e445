"""The replica router without a replica, and with one that does not answer (the replica's
reads themselves: lms/tests/test_replica.py)."""

import logging
import socket
from copy import deepcopy

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction

from console.dashboard import dashboard_figures
from lms import db_router
from lms.db_router import REPLICA, replica_reads
from lms.reports import DateRange
from segments.models import CustomerMembership, Segment
from segments.services import segment_refresh
from segments.tests.factories import CustomerFactory, SegmentFactory, StaticSegmentFactory, city_is


def test_migrations_run_on_the_primary_only():
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "loyalty", model_name="pointstransaction")
    assert not router.allow_migrate(REPLICA, "loyalty", model_name="pointstransaction")


@pytest.mark.django_db
def test_without_a_replica_the_scope_reads_the_primary():
    assert REPLICA not in settings.DATABASES
    StaticSegmentFactory(name="On the primary")

    with replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
        assert Segment.objects.filter(name="On the primary").exists()


@pytest.mark.django_db
def test_segment_refresh_without_a_replica_evaluates_on_the_primary():
    pune = CustomerFactory(city="Pune")
    CustomerFactory(city="Delhi")

    segment = segment_refresh(segment_id=SegmentFactory(criteria=city_is("Pune")).pk)

    assert segment.member_count == 1
    assert list(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)) == [pune.pk]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_replica(django_db_setup):
    conf = deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    conf["PORT"] = _closed_port()
    if "pool" in conf["OPTIONS"]:
        conf["OPTIONS"]["pool"] = {**conf["OPTIONS"]["pool"], "min_size": 0, "timeout": 0.5}
    settings.DATABASES[REPLICA] = conf
    db_router.replica_retry_now()
    yield
    connections[REPLICA].close()
    if "pool" in conf["OPTIONS"]:
        # Not Django's close_pool() alone: it waits 5 s for the pool's worker, which is still
        # trying the closed port.
        connections[REPLICA].pool.close(timeout=0)
    connections[REPLICA].close_pool()
    del connections[REPLICA]
    del settings.DATABASES[REPLICA]
    db_router.replica_retry_now()


def test_an_unreachable_replica_falls_back_to_the_primary_with_a_warning(dead_replica, django_db_blocker, caplog):
    # Not a django_db test: Django's test case refuses connections to databases it does not
    # manage before the router could meet the refusal. The primary's rows are rolled back.
    with django_db_blocker.unblock(), transaction.atomic(), caplog.at_level(logging.WARNING, logger="lms.db_router"):
        StaticSegmentFactory(name="Primary shoppers", member_count=12)
        first = dashboard_figures(DateRange.last_days(7))
        second = dashboard_figures(DateRange.last_days(7))
        transaction.set_rollback(True)

    assert [name for _, name, _, _ in first["segments"]] == [name for _, name, _, _ in second["segments"]]
    assert "Primary shoppers" in [name for _, name, _, _ in first["segments"]]
    warnings = [r.getMessage() for r in caplog.records if r.name == "lms.db_router"]
    assert len(warnings) == 1  # the second report does not wait for the dead replica again
    assert warnings[0].startswith("Read replica unavailable, reading from the primary")
