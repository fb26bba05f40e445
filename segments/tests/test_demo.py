"""``manage.py seed_demo_segments``: the demo audiences, made once and refreshed."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from commerce.tests.factories import CategoryFactory, OrderFactory, ProductFactory
from segments.models import CustomerMembership, Segment

pytestmark = pytest.mark.django_db


def test_demo_segments_are_made_once_and_refreshed(django_capture_on_commit_callbacks):
    electronics = CategoryFactory(name="Electronics")
    phone = ProductFactory(category=CategoryFactory(name="Phones", parent=electronics), price=Decimal("20000.00"))
    buyer = OrderFactory(lines=[(phone, 1)]).customer
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo_segments", "--if-empty", stdout=out)
    call_command("seed_demo_segments", "--if-empty", stdout=out)

    names = set(Segment.objects.values_list("name", flat=True))
    assert names == {
        "Big spenders (₹10,000+ in 90 days)", "New customers", "Lapsed 60 days", "Low-stock products",
        "Electronics buyers",
    }  # fmt: skip
    assert "nothing to do" in out.getvalue()
    assert set(Segment.objects.values_list("status", flat=True)) == {"READY"}
    for name in ("Electronics buyers", "Big spenders (₹10,000+ in 90 days)", "New customers"):
        segment = Segment.objects.get(name=name)
        assert list(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)) == [
            buyer.pk
        ], name


def test_without_if_empty_only_the_missing_demo_segments_are_made(django_capture_on_commit_callbacks):
    call_command("seed_demo_segments", stdout=StringIO())
    Segment.objects.get(name="New customers").delete()
    out = StringIO()

    call_command("seed_demo_segments", stdout=out)

    assert "Created 1 demo segments: New customers." in out.getvalue()
    assert Segment.objects.count() == 4  # no Electronics category: no electronics buyers
