"""Who a customer segment may hold, and a member export that spreadsheets cannot run."""

import pytest

from accounts.models import Role
from segments.models import CustomerMembership
from segments.services import segment_refresh
from segments.tests.factories import CustomerFactory, SegmentFactory, city_is

pytestmark = pytest.mark.django_db


def test_segments_hold_active_customers_not_staff_admins_or_deactivated_accounts():
    customer = CustomerFactory(city="Pune")
    CustomerFactory(city="Pune", is_active=False)
    CustomerFactory(city="Pune", is_staff=True)
    CustomerFactory(city="Pune", role=Role.ADMIN)
    segment = SegmentFactory(criteria=city_is("Pune"))

    segment_refresh(segment_id=segment.pk)

    assert list(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)) == [
        customer.pk
    ]


def test_the_csv_export_neutralises_cells_that_look_like_formulas(admin_client):
    CustomerFactory(city="Pune", first_name='=HYPERLINK("http://evil.example","x")', last_name="-2+3")
    segment = SegmentFactory(criteria=city_is("Pune"))
    segment_refresh(segment_id=segment.pk)

    response = admin_client.get(f"/api/v1/segments/{segment.pk}/members/export")

    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(" in text and ",'-2+3" in text
