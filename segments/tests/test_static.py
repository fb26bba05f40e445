"""Static segments: members uploaded as a list (customers by email or external id, products by
sku), replaced exactly, and never recomputed from criteria."""

import pytest

from commerce.tests.factories import ProductFactory
from lms.testing import assert_error, run_concurrently
from segments.models import CustomerMembership, ProductMembership, Segment
from segments.services import segment_members_replace, segment_refresh
from segments.tests.factories import CustomerFactory, SegmentFactory, StaticSegmentFactory, city_is

URL = "/api/v1/segments/"


def members_url(segment: Segment) -> str:
    return f"{URL}{segment.pk}/members/"


def customer_ids(segment: Segment) -> set[int]:
    return set(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))


def product_ids(segment: Segment) -> set[int]:
    return set(ProductMembership.objects.filter(segment=segment).values_list("product_id", flat=True))


@pytest.mark.parametrize("url", [URL, "/segment/create"])
@pytest.mark.django_db
def test_create_static_segment_from_emails_in_any_case_and_external_ids(admin_client, url):
    meera = CustomerFactory(email="meera@example.com")
    kabir = CustomerFactory(external_id="C-42")
    CustomerFactory(email="left.out@example.com")
    members = ["MEERA@Example.com", " C-42 ", "ghost@example.com", "C-404", "meera@example.com", "C-42"]

    response = admin_client.post(url, {"name": "Beta testers", "type": "STATIC", "members": members}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "STATIC" and body["criteria"] is None
    assert body["status"] == "READY" and body["member_count"] == 2
    assert body["unknown_members"] == ["ghost@example.com", "C-404"]
    segment = Segment.objects.get(pk=body["id"])
    assert customer_ids(segment) == {meera.pk, kabir.pk}
    assert segment.member_count == 2 and segment.last_refreshed_at is not None


@pytest.mark.django_db
def test_staff_and_administrators_are_never_members_of_a_static_segment(admin_client):
    meera = CustomerFactory(email="meera@example.com")
    CustomerFactory(email="staff@example.com", is_staff=True)
    CustomerFactory(email="boss@example.com", role="ADMIN")
    CustomerFactory(email="root@example.com", is_superuser=True, is_staff=True, role="ADMIN")
    members = ["meera@example.com", "staff@example.com", "boss@example.com", "root@example.com"]

    response = admin_client.post(URL, {"name": "Mixed", "type": "STATIC", "members": members}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["member_count"] == 1
    assert response.json()["unknown_members"] == ["staff@example.com", "boss@example.com", "root@example.com"]
    assert customer_ids(Segment.objects.get(pk=response.json()["id"])) == {meera.pk}


@pytest.mark.django_db
def test_a_customer_named_by_email_and_external_id_is_a_member_once(admin_client):
    both = CustomerFactory(email="both@example.com", external_id="C-7")

    response = admin_client.post(
        URL, {"name": "Once", "type": "STATIC", "members": ["both@example.com", "C-7"]}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["member_count"] == 1 and response.json()["unknown_members"] == []
    assert list(CustomerMembership.objects.values_list("customer_id", flat=True)) == [both.pk]


@pytest.mark.django_db
def test_create_static_segment_without_members(admin_client):
    response = admin_client.post(URL, {"name": "Empty", "type": "STATIC"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["member_count"] == 0 and response.json()["unknown_members"] == []
    assert not CustomerMembership.objects.exists()


@pytest.mark.django_db
def test_create_static_product_segment_by_sku(admin_client):
    phone = ProductFactory(sku="SKU-PHONE")
    case = ProductFactory(sku="SKU-CASE")
    ProductFactory(sku="SKU-OTHER")

    response = admin_client.post(
        URL,
        {"name": "Hand-picked", "kind": "PRODUCT", "type": "STATIC", "members": ["SKU-PHONE", "SKU-CASE", "SKU-NONE"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["member_count"], body["unknown_members"]) == ("PRODUCT", 2, ["SKU-NONE"])
    segment = Segment.objects.get(pk=body["id"])
    assert product_ids(segment) == {phone.pk, case.pk}
    listed = admin_client.get(members_url(segment)).json()["results"]
    assert listed == [
        {"id": phone.pk, "sku": "SKU-PHONE", "name": phone.name},
        {"id": case.pk, "sku": "SKU-CASE", "name": case.name},
    ]


@pytest.mark.parametrize("suffix", ["", "/"])
@pytest.mark.django_db
def test_put_members_replaces_them_exactly(admin_client, suffix):
    leaving, staying = CustomerFactory(), CustomerFactory()
    joining = CustomerFactory(external_id="C-9")
    segment = StaticSegmentFactory()
    segment_members_replace(segment=segment, members=[leaving.email, staying.email])

    response = admin_client.put(
        members_url(segment).rstrip("/") + suffix,
        {"members": [staying.email.upper(), "C-9", "nobody@example.com"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"member_count": 2, "unknown": ["nobody@example.com"]}
    assert customer_ids(segment) == {staying.pk, joining.pk}
    segment.refresh_from_db()
    assert segment.member_count == 2 and segment.status == Segment.Status.READY


@pytest.mark.django_db
def test_put_an_empty_list_empties_the_segment(admin_client):
    member = CustomerFactory()
    segment = StaticSegmentFactory()
    segment_members_replace(segment=segment, members=[member.email])

    response = admin_client.put(members_url(segment), {"members": []}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"member_count": 0, "unknown": []}
    assert customer_ids(segment) == set()
    segment.refresh_from_db()
    assert segment.member_count == 0


@pytest.mark.django_db
def test_put_members_of_a_product_segment_by_sku(admin_client):
    old, new = ProductFactory(sku="SKU-OLD"), ProductFactory(sku="SKU-NEW")
    segment = StaticSegmentFactory(kind=Segment.Kind.PRODUCT)
    segment_members_replace(segment=segment, members=["SKU-OLD"])

    response = admin_client.put(members_url(segment), {"members": ["SKU-NEW", "sku-new"]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"member_count": 1, "unknown": ["sku-new"]}
    assert product_ids(segment) == {new.pk}
    assert old.pk not in product_ids(segment)


@pytest.mark.django_db
def test_put_members_of_a_dynamic_segment_is_refused(admin_client):
    member = CustomerFactory(city="Pune")
    outsider = CustomerFactory(city="Delhi")
    segment = SegmentFactory(criteria=city_is("Pune"))
    segment_refresh(segment_id=segment.pk)

    response = admin_client.put(members_url(segment), {"members": [outsider.email]}, format="json")

    assert_error(response, 409, "segment_not_static")
    assert customer_ids(segment) == {member.pk}


@pytest.mark.django_db
def test_put_members_needs_a_list(admin_client):
    segment = StaticSegmentFactory()

    response = admin_client.put(members_url(segment), {"members": "a@example.com"}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert "members" in body["details"]


@pytest.mark.django_db
def test_put_members_is_for_admins(customer_client):
    segment = StaticSegmentFactory()

    response = customer_client.put(members_url(segment), {"members": ["asha@example.com"]}, format="json")

    assert_error(response, 403, "permission_denied")
    assert customer_ids(segment) == set()


@pytest.mark.django_db
def test_criteria_cannot_be_given_to_a_static_segment(admin_client):
    segment = StaticSegmentFactory()

    response = admin_client.patch(f"{URL}{segment.pk}/", {"criteria": city_is("Pune")}, format="json")

    assert_error(response, 400, "criteria_not_allowed")
    segment.refresh_from_db()
    assert segment.criteria is None


@pytest.mark.django_db
def test_refresh_of_a_static_segment_only_recounts(admin_client, django_capture_on_commit_callbacks):
    first, second = CustomerFactory(city="Pune"), CustomerFactory(city="Pune")
    segment = StaticSegmentFactory()
    segment_members_replace(segment=segment, members=[first.email, second.email])
    CustomerFactory(city="Pune")
    CustomerMembership.objects.filter(segment=segment, customer=second).delete()  # e.g. a row removed by hand

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{URL}{segment.pk}/refresh")

    assert response.status_code == 202, response.content
    segment.refresh_from_db()
    assert (segment.status, segment.member_count, segment.criteria) == ("READY", 1, None)
    assert customer_ids(segment) == {first.pk}


@pytest.mark.django_db
def test_members_of_a_static_segment_are_listed_and_exported(admin_client):
    member = CustomerFactory(email="listed@example.com", external_id="C-1", first_name="Li", last_name="Sted")
    segment = StaticSegmentFactory()
    segment_members_replace(segment=segment, members=["C-1"])

    listed = admin_client.get(members_url(segment))
    exported = admin_client.get(f"{members_url(segment)}export/")

    assert listed.json()["results"] == [
        {"id": member.pk, "email": "listed@example.com", "external_id": "C-1", "first_name": "Li", "last_name": "Sted"}
    ]
    assert b"".join(exported.streaming_content).decode().splitlines() == [
        "id,email,external_id,first_name,last_name",
        f"{member.pk},listed@example.com,C-1,Li,Sted",
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_leave_exactly_one_of_the_lists():
    people = CustomerFactory.create_batch(6)
    lists = [[p.email for p in people[:4]], [p.email for p in people[2:]]]
    segment = StaticSegmentFactory()

    results = run_concurrently(2, lambda i: segment_members_replace(segment=segment, members=lists[i]).unknown)

    assert results == [[], []]
    final = customer_ids(segment)
    assert final in ({p.pk for p in people[:4]}, {p.pk for p in people[2:]})
    segment.refresh_from_db()
    assert segment.member_count == len(final) == CustomerMembership.objects.filter(segment=segment).count()
