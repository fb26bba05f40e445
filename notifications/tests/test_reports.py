"""Delivery rates for the dashboard (notifications/reports.py), counted by hand."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from notifications.models import Delivery, Message
from notifications.reports import delivery_rates

pytestmark = pytest.mark.django_db


def test_rates_per_channel_and_in_all():
    message = Message.objects.create(key="m:1", source_type="promotion", channels=["EMAIL", "IN_APP"])
    now = timezone.now()
    rows = [
        ("EMAIL", "SENT", None, None),
        ("EMAIL", "READ", now, None),
        ("EMAIL", "CLICKED", now, now),
        ("EMAIL", "FAILED", None, None),
        ("EMAIL", "SKIPPED", None, None),  # no consent: neither delivered nor failed
        ("IN_APP", "SENT", None, None),
        ("IN_APP", "READ", now, None),
    ]
    for channel, status, read_at, clicked_at in rows:
        Delivery.objects.create(
            message=message, recipient=UserFactory(password=None), channel=channel, status=status,
            read_at=read_at, clicked_at=clicked_at,
        )  # fmt: skip
    Delivery.objects.create(  # older than the range
        message=message, recipient=UserFactory(password=None), channel="EMAIL", status="SENT",
        created_at=now - dt.timedelta(days=40),
    )  # fmt: skip

    rates = {r.channel: r for r in delivery_rates(since=now - dt.timedelta(days=30), until=now + dt.timedelta(days=1))}

    email, in_app, every = rates["Email"], rates["In-app"], rates["All"]
    assert (email.deliveries, email.delivered, email.failed, email.read, email.clicked) == (5, 3, 1, 2, 1)
    assert (email.delivery_rate, email.read_rate, email.click_rate) == (0.75, 2 / 3, 1 / 3)
    assert (every.deliveries, every.delivered, every.read) == (7, 5, 3)
    assert (in_app.deliveries, in_app.delivered, in_app.read, in_app.click_rate) == (2, 2, 1, 0.0)


def test_no_deliveries_give_no_rows_and_no_division_by_zero():
    now = timezone.now()
    assert delivery_rates(since=now - dt.timedelta(days=1), until=now) == []
