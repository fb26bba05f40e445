"""The console's segments: criteria validated on save, refresh action, CSV upload."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from commerce.tests.factories import OrderFactory, ProductFactory
from segments.models import CustomerMembership, Segment

pytestmark = pytest.mark.django_db

ADD = "/admin/segments/segment/add/"


@pytest.fixture
def buyer():
    return OrderFactory(
        customer__email="buyer@example.com", customer__country="IN", lines=[(ProductFactory(), 3)]
    ).customer


def _post(console, path, **fields):
    body = {"name": "Big spenders", "description": "", "kind": "USER", "type": "DYNAMIC", "criteria": "", **fields}
    return console.post(path, body)


def test_a_dynamic_segment_saved_in_the_console_is_validated_and_refreshed(
    console, buyer, django_capture_on_commit_callbacks
):
    criteria = {
        "all": [{"field": "total_spend", "op": "gte", "value": 100}, {"field": "country", "op": "eq", "value": "in"}]
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(console, ADD, criteria=json.dumps(criteria))

    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get()
    assert (segment.status, segment.member_count) == ("READY", 1)
    assert list(CustomerMembership.objects.values_list("customer_id", flat=True)) == [buyer.pk]
    page = console.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()
    assert 'data-testid="criteria-builder"' in page and "See the 1 members" in page


def test_bad_criteria_are_shown_on_the_form_with_their_path(console):
    response = _post(console, ADD, criteria=json.dumps({"all": [{"field": "orders", "op": "gte", "value": "many"}]}))

    assert response.status_code == 200
    assert "Row 1, the value: Expected a whole number." in response.content.decode()
    assert not Segment.objects.exists()


def test_a_static_segment_takes_its_members_from_an_uploaded_csv(console, buyer):
    upload = SimpleUploadedFile(
        "members.csv", b"email\nBUYER@example.com\nnobody@example.com\n", content_type="text/csv"
    )

    response = _post(console, ADD, name="VIPs", type="STATIC", members_file=upload)

    assert response.status_code == 302
    segment = Segment.objects.get(name="VIPs")
    assert segment.member_count == 1
    assert list(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)) == [buyer.pk]


def test_the_refresh_action_recomputes_membership(console, buyer, django_capture_on_commit_callbacks):
    segment = Segment.objects.create(
        name="IN", kind="USER", type="DYNAMIC", criteria={"all": [{"field": "country", "op": "eq", "value": "IN"}]}
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post("/admin/segments/segment/", {"action": "refresh_now", "_selected_action": [segment.pk]})

    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.status, segment.member_count) == ("READY", 1)


def test_the_segment_list_shows_member_counts(console):
    Segment.objects.create(name="Empty", kind="USER", type="STATIC", member_count=0)

    page = console.get("/admin/segments/segment/").content.decode()

    assert "Empty" in page and "member count" in page.lower()
