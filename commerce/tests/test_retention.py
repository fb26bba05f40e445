from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from commerce.models import EventKind, InteractionEvent
from lms.retention import records_prune

pytestmark = pytest.mark.django_db


def _event(customer, kind: str, days_ago: float, now) -> InteractionEvent:
    return InteractionEvent.objects.create(customer=customer, kind=kind, occurred_at=now - timedelta(days=days_ago))


def _pruned(now, **kwargs) -> int:
    results = {result.name: result.deleted for result in records_prune(now=now, **kwargs)}
    return results["commerce.interaction_events"]


def test_events_go_past_their_age_and_stay_within_it(settings):
    settings.RETENTION_EVENTS_DAYS = 90
    now = timezone.now()
    customer = UserFactory()
    kept = [_event(customer, EventKind.PRODUCT_VIEW, days, now) for days in (0, 89)]
    _event(customer, EventKind.PRODUCT_VIEW, 91, now)
    _event(customer, EventKind.CART_ADD, 1000, now)

    assert _pruned(now) == 2

    assert sorted(InteractionEvent.objects.values_list("pk", flat=True)) == sorted(e.pk for e in kept)


def test_each_customers_newest_login_is_kept_however_old(settings):
    # "Days since last login" reads the newest platform LOGIN without a window: pruning it
    # would turn someone who signed in long ago into someone who never did.
    settings.RETENTION_EVENTS_DAYS = 30
    now = timezone.now()
    lapsed, active = UserFactory(), UserFactory()
    _event(lapsed, EventKind.LOGIN, 500, now)
    lapsed_last = _event(lapsed, EventKind.LOGIN, 400, now)
    _event(active, EventKind.LOGIN, 400, now)
    active_last = _event(active, EventKind.LOGIN, 1, now)

    assert _pruned(now) == 2
    assert _pruned(now) == 0  # re-run: nothing left to do

    assert set(InteractionEvent.objects.values_list("pk", flat=True)) == {lapsed_last.pk, active_last.pk}


def test_a_backlog_goes_in_batches_of_the_given_size(settings):
    settings.RETENTION_EVENTS_DAYS = 30
    now = timezone.now()
    customer = UserFactory()
    for days in range(40, 45):
        _event(customer, EventKind.PRODUCT_VIEW, days, now)

    with CaptureQueriesContext(connection) as queries:
        assert _pruned(now, batch_size=2) == 5

    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "commerce_interactionevent"')]
    assert len(deletes) == 3  # 2 + 2 + 1, each its own transaction
    assert not InteractionEvent.objects.exists()


def test_a_dry_run_counts_and_deletes_nothing(settings):
    settings.RETENTION_EVENTS_DAYS = 30
    now = timezone.now()
    customer = UserFactory()
    for days in (40, 50, 60):
        _event(customer, EventKind.WISHLIST_ADD, days, now)

    assert _pruned(now, dry_run=True) == 3

    assert InteractionEvent.objects.count() == 3
