"""The segments API (canonical /api/v1/ routes and the seed routes), over PostgreSQL."""

import csv
import io
import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.tests.factories import ProductFactory
from lms.testing import assert_error, run_concurrently
from segments import services
from segments.models import CustomerMembership, ProductMembership, Segment
from segments.services import register_segment_usage, segment_refresh, unregister_segment_usage
from segments.tests.factories import (
    CustomerFactory,
    ProductSegmentFactory,
    SegmentFactory,
    StaticSegmentFactory,
    city_in,
    city_is,
    price_at_least,
)

URL = "/api/v1/segments/"
CUSTOMER_MEMBER_FIELDS = {"id", "email", "external_id", "first_name", "last_name"}
PRODUCT_MEMBER_FIELDS = {"id", "sku", "name"}


def detail_url(segment: Segment) -> str:
    return f"{URL}{segment.pk}/"


def member_ids(segment: Segment) -> set[int]:
    if segment.kind == Segment.Kind.PRODUCT:
        return set(ProductMembership.objects.filter(segment=segment).values_list("product_id", flat=True))
    return set(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))


def refreshed(segment: Segment) -> Segment:
    return segment_refresh(segment_id=segment.pk)


# --- Create -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, "/segment/create"])
@pytest.mark.django_db
def test_create_dynamic_segment_answers_pending_and_is_refreshed_on_commit(
    url, admin_client, admin_user, django_capture_on_commit_callbacks
):
    pune = CustomerFactory.create_batch(3, city="Pune")
    CustomerFactory(city="Delhi")
    body = {
        "name": "Pune shoppers",
        "description": "Everyone in Pune",
        "kind": "USER",
        "type": "DYNAMIC",
        "criteria": {"all": [{"field": "city", "op": "eq", "value": " Pune "}]},
    }

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(url, body, format="json")

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["status"] == "PENDING"
    assert answer["member_count"] == 0
    assert answer["criteria"] == city_is("Pune")  # stored normalised
    assert answer["unknown_members"] == []
    assert len(callbacks) == 1
    segment = Segment.objects.get(pk=answer["id"])
    assert segment.name == "Pune shoppers" and segment.created_by == admin_user
    assert segment.status == Segment.Status.READY
    assert segment.member_count == 3
    assert segment.last_refreshed_at is not None
    assert member_ids(segment) == {c.pk for c in pune}


@pytest.mark.django_db
def test_create_product_segment_is_refreshed_on_commit(admin_client, django_capture_on_commit_callbacks):
    dear = [ProductFactory(price="250.00"), ProductFactory(price="100.00")]
    ProductFactory(price="99.99")
    body = {"name": "Not cheap", "kind": "PRODUCT", "criteria": price_at_least("100")}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    segment = Segment.objects.get(pk=response.json()["id"])
    assert (segment.kind, segment.type, segment.status) == ("PRODUCT", "DYNAMIC", "READY")
    assert member_ids(segment) == {p.pk for p in dear}
    assert segment.member_count == 2


@pytest.mark.django_db
def test_create_refuses_a_name_taken_in_any_case(admin_client):
    SegmentFactory(name="VIP Customers")

    response = admin_client.post(URL, {"name": "vip customers", "criteria": city_is("Pune")}, format="json")

    assert_error(response, 409, "segment_name_taken")
    assert Segment.objects.count() == 1


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        (
            {"all": [{"field": "city", "op": "eq", "value": "Pune"}, {"field": "email_verified", "op": "is", "value": "yes"}]},
            "criteria.all[1].value",
        ),
        ({"all": [{"field": "no_such_field", "op": "eq", "value": 1}]}, "criteria.all[0].field"),
        ({"any": [{"field": "city", "op": "gte", "value": "Pune"}]}, "criteria.any[0].op"),
        ({"not": {"all": []}}, "criteria.not.all"),
        ([1, 2], "criteria"),
        ({"all": [{"field": "signed_up", "op": "after", "value": "9999-12-31"}]}, "criteria.all[0].value"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_create_refuses_bad_criteria_naming_the_path(admin_client, criteria, path):
    response = admin_client.post(URL, {"name": "Broken", "criteria": criteria}, format="json")

    body = assert_error(response, 400, "criteria_invalid")
    assert body["details"]["path"] == path
    assert path in body["details"] and body["details"][path]
    assert body["message"].startswith(path)
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "No criteria", "type": "DYNAMIC"}, "criteria_required"),
        ({"name": "Static with criteria", "type": "STATIC", "criteria": city_is("Pune")}, "criteria_not_allowed"),
        (
            {"name": "Dynamic with members", "type": "DYNAMIC", "criteria": city_is("Pune"), "members": ["a@example.com"]},
            "members_not_allowed",
        ),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_create_refuses_criteria_and_members_that_do_not_fit_the_type(admin_client, body, code):
    response = admin_client.post(URL, body, format="json")

    assert_error(response, 400, code)
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_create_refuses_an_unknown_kind(admin_client):
    response = admin_client.post(URL, {"name": "x", "kind": "ORDER", "criteria": city_is("Pune")}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert "kind" in body["details"]
    assert not Segment.objects.exists()


# --- List and detail --------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_paginated_newest_first(admin_client):
    segments = SegmentFactory.create_batch(12)

    response = admin_client.get(URL, {"page": 2, "limit": 5})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (12, 2, 5, 3)
    newest_first = [s.pk for s in reversed(segments)]
    assert [row["id"] for row in body["results"]] == newest_first[5:10]
    assert set(body["results"][0]) >= {"id", "name", "kind", "type", "criteria", "member_count", "status"}


@pytest.mark.django_db
def test_seed_list_route_answers_the_first_page(admin_client):
    SegmentFactory.create_batch(3)

    response = admin_client.get("/segment/get?page=1&limit=10")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (3, 1, 10, 1)
    assert len(body["results"]) == 3


@pytest.mark.django_db
def test_list_filters_by_kind_type_status_and_name(admin_client):
    pune = SegmentFactory(name="Pune buyers", status=Segment.Status.READY)
    SegmentFactory(name="Delhi buyers", status=Segment.Status.FAILED)
    static = StaticSegmentFactory(name="Beta testers", status=Segment.Status.READY)
    product = ProductSegmentFactory(name="Premium products")

    def ids(**params) -> list[int]:
        response = admin_client.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(kind="PRODUCT") == [product.pk]
    assert ids(type="STATIC") == [static.pk]
    assert set(ids(status="READY")) == {pune.pk, static.pk}
    assert ids(search="PUNE") == [pune.pk]
    assert ids(kind="USER", type="DYNAMIC", status="READY") == [pune.pk]


@pytest.mark.django_db
def test_list_refuses_an_unknown_filter_value(admin_client):
    response = admin_client.get(URL, {"status": "SLEEPING"})

    body = assert_error(response, 400, "validation_error")
    assert "status" in body["details"]


@pytest.mark.parametrize("url", ["/api/v1/segments/{}/", "/api/v1/segments/{}", "/segment/{}"])
@pytest.mark.django_db
def test_detail_shows_member_count_and_a_sample_of_members(admin_client, url):
    members = CustomerFactory.create_batch(12, city="Pune")
    CustomerFactory(city="Delhi")
    segment = refreshed(SegmentFactory(criteria=city_is("Pune")))

    response = admin_client.get(url.format(segment.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == segment.pk and body["status"] == "READY"
    assert body["member_count"] == 12
    assert [row["id"] for row in body["sample"]] == sorted(c.pk for c in members)[:10]
    assert set(body["sample"][0]) == CUSTOMER_MEMBER_FIELDS
    first = min(members, key=lambda c: c.pk)
    assert body["sample"][0]["email"] == first.email


@pytest.mark.django_db
def test_detail_of_a_missing_segment_is_404(admin_client):
    assert_error(admin_client.get(f"{URL}999999/"), 404, "not_found")


# --- Update -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_patch_renames_and_describes_without_refreshing(admin_client, django_capture_on_commit_callbacks):
    CustomerFactory(city="Pune")
    segment = refreshed(SegmentFactory(name="Old"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.patch(detail_url(segment), {"name": "New", "description": "Fresh"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "New" and response.json()["status"] == "READY"
    assert callbacks == []
    segment.refresh_from_db()
    assert (segment.name, segment.description, segment.status, segment.member_count) == ("New", "Fresh", "READY", 1)


@pytest.mark.django_db
def test_patch_criteria_answers_pending_and_refreshes_on_commit(admin_client, django_capture_on_commit_callbacks):
    pune = CustomerFactory(city="Pune")
    delhi = CustomerFactory.create_batch(2, city="Delhi")
    segment = refreshed(SegmentFactory(criteria=city_is("Pune")))
    assert member_ids(segment) == {pune.pk}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.patch(detail_url(segment), {"criteria": city_is("Delhi")}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "PENDING"
    assert response.json()["criteria"] == city_is("Delhi")
    assert len(callbacks) == 1
    segment.refresh_from_db()
    assert segment.status == Segment.Status.READY and segment.member_count == 2
    assert member_ids(segment) == {c.pk for c in delhi}


@pytest.mark.django_db
def test_patch_refuses_a_field_that_cannot_change(admin_client):
    segment = SegmentFactory(kind=Segment.Kind.USER)

    response = admin_client.patch(detail_url(segment), {"kind": "PRODUCT", "member_count": 5}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert {"kind", "member_count"} <= set(body["details"])
    segment.refresh_from_db()
    assert segment.kind == Segment.Kind.USER and segment.member_count == 0


@pytest.mark.django_db
def test_patch_refuses_bad_criteria_and_keeps_the_old_ones(admin_client):
    segment = SegmentFactory(criteria=city_is("Pune"))
    bad = {"all": [{"field": "city", "op": "eq", "value": "Pune"}, {"field": "city", "op": "eq", "value": 7}]}

    response = admin_client.patch(detail_url(segment), {"criteria": bad}, format="json")

    body = assert_error(response, 400, "criteria_invalid")
    assert body["details"]["path"] == "criteria.all[1].value"
    segment.refresh_from_db()
    assert segment.criteria == city_is("Pune")


@pytest.mark.django_db
def test_patch_refuses_a_name_another_segment_has(admin_client):
    SegmentFactory(name="Taken")
    segment = SegmentFactory(name="Mine")

    response = admin_client.patch(detail_url(segment), {"name": "TAKEN"}, format="json")

    assert_error(response, 409, "segment_name_taken")
    segment.refresh_from_db()
    assert segment.name == "Mine"


@pytest.mark.django_db
def test_patch_may_change_the_case_of_its_own_name(admin_client):
    segment = SegmentFactory(name="pune")

    response = admin_client.patch(detail_url(segment), {"name": "Pune"}, format="json")

    assert response.status_code == 200, response.content
    segment.refresh_from_db()
    assert segment.name == "Pune"


# --- Delete -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/segments/{}/", "/segment/{}"])
@pytest.mark.django_db
def test_delete_removes_the_segment_and_its_membership(admin_client, url):
    CustomerFactory(city="Pune")
    segment = refreshed(SegmentFactory())
    other = SegmentFactory()

    response = admin_client.delete(url.format(segment.pk))

    assert response.status_code == 204, response.content
    assert list(Segment.objects.values_list("pk", flat=True)) == [other.pk]
    assert not CustomerMembership.objects.filter(segment_id=segment.pk).exists()


@pytest.mark.django_db
def test_delete_is_refused_while_something_targets_the_segment(admin_client):
    CustomerFactory(city="Pune")
    segment = refreshed(SegmentFactory())
    SegmentFactory()

    def usage(target: Segment) -> list[str]:
        return ["campaign 12 'Diwali'", "promotion 3 'Summer'"] if target.pk == segment.pk else []

    register_segment_usage(usage)
    try:
        response = admin_client.delete(detail_url(segment))
    finally:
        unregister_segment_usage(usage)

    body = assert_error(response, 409, "segment_in_use")
    assert body["details"]["targeted_by"] == ["campaign 12 'Diwali'", "promotion 3 'Summer'"]
    assert "campaign 12 'Diwali'" in body["message"]
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert CustomerMembership.objects.filter(segment=segment).count() == 1


# --- Members and export -----------------------------------------------------------------------


@pytest.mark.django_db
def test_members_of_a_customer_segment_are_paginated(admin_client):
    members = CustomerFactory.create_batch(7, city="Pune", external_id=None)
    CustomerFactory(city="Delhi")
    segment = refreshed(SegmentFactory())

    response = admin_client.get(f"{detail_url(segment)}members/", {"page": 2, "limit": 5})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (7, 2, 5, 2)
    ordered = sorted(members, key=lambda c: c.pk)
    assert [row["id"] for row in body["results"]] == [c.pk for c in ordered[5:]]
    assert set(body["results"][0]) == CUSTOMER_MEMBER_FIELDS
    assert body["results"][0]["email"] == ordered[5].email


@pytest.mark.django_db
def test_members_of_a_product_segment_carry_sku_and_name(admin_client):
    product = ProductFactory(sku="SKU-DEAR", name="Dear thing", price="500.00")
    ProductFactory(price="10.00")
    segment = refreshed(ProductSegmentFactory(criteria=price_at_least("100")))

    response = admin_client.get(f"{detail_url(segment)}members")

    assert response.status_code == 200, response.content
    assert response.json()["results"] == [{"id": product.pk, "sku": "SKU-DEAR", "name": "Dear thing"}]


@pytest.mark.django_db
def test_members_export_streams_a_csv_with_one_row_per_member(admin_client):
    members = [
        CustomerFactory(city="Pune", email="a@example.com", external_id="C-1", first_name="Asha", last_name="Rao"),
        CustomerFactory(city="Pune", email="b@example.com", external_id=None, first_name="Ravi, Jr.", last_name=""),
    ]
    CustomerFactory(city="Delhi")
    segment = refreshed(SegmentFactory())

    response = admin_client.get(f"{detail_url(segment)}members/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"segment-{segment.pk}-members.csv" in response["Content-Disposition"]
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["id", "email", "external_id", "first_name", "last_name"],
        [str(members[0].pk), "a@example.com", "C-1", "Asha", "Rao"],
        [str(members[1].pk), "b@example.com", "", "Ravi, Jr.", ""],
    ]


@pytest.mark.django_db
def test_members_export_of_a_product_segment(admin_client):
    product = ProductFactory(sku="SKU-1", name="Phone", price="500.00")
    segment = refreshed(ProductSegmentFactory())

    response = admin_client.get(f"{detail_url(segment)}members/export")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["id", "sku", "name"], [str(product.pk), "SKU-1", "Phone"]]


# --- Preview, refresh, catalogue --------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/segments/preview", "/api/v1/segments/preview/"])
@pytest.mark.django_db
def test_preview_counts_and_samples_without_saving(admin_client, url):
    pune = CustomerFactory.create_batch(2, city="Pune")
    mumbai = CustomerFactory(city="Mumbai")
    CustomerFactory(city="Delhi")

    response = admin_client.post(url, {"kind": "USER", "criteria": city_in("pune", "MUMBAI")}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert [row["id"] for row in body["sample"]] == sorted([c.pk for c in pune] + [mumbai.pk])
    assert set(body["sample"][0]) == CUSTOMER_MEMBER_FIELDS
    assert not Segment.objects.exists()
    assert not CustomerMembership.objects.exists()


@pytest.mark.django_db
def test_preview_of_products(admin_client):
    dear = ProductFactory(price="300.00")
    ProductFactory(price="30.00")

    response = admin_client.post(f"{URL}preview", {"kind": "PRODUCT", "criteria": price_at_least("100")}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"count": 1, "sample": [{"id": dear.pk, "sku": dear.sku, "name": dear.name}]}


@pytest.mark.django_db
def test_preview_refuses_bad_criteria_naming_the_path(admin_client):
    criteria = {
        "any": [{"field": "city", "op": "eq", "value": "Pune"}, {"not": {"field": "city", "op": "is", "value": True}}]
    }

    response = admin_client.post(f"{URL}preview", {"kind": "USER", "criteria": criteria}, format="json")

    body = assert_error(response, 400, "criteria_invalid")
    assert body["details"]["path"] == "criteria.any[1].not.op"


@pytest.mark.parametrize(
    ("kind", "condition", "path"),
    [
        ("USER", {"field": "signed_up", "op": "after", "value": "9999-12-31"}, "criteria.all[0].value"),
        ("USER", {"field": "signed_up", "op": "between", "value": ["2025-01-01", "9999-12-31"]}, "criteria.all[0].value[1]"),
        ("PRODUCT", {"field": "best_seller_percent", "op": "lte", "value": 150}, "criteria.all[0].value"),
        ("PRODUCT", {"field": "best_seller_percent", "op": "lte", "value": 0}, "criteria.all[0].value"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_preview_refuses_out_of_range_values_with_400_naming_the_path(admin_client, kind, condition, path):
    response = admin_client.post(f"{URL}preview", {"kind": kind, "criteria": {"all": [condition]}}, format="json")

    body = assert_error(response, 400, "criteria_invalid")
    assert body["details"]["path"] == path


@pytest.mark.django_db
def test_preview_checks_fields_against_the_kind(admin_client):
    response = admin_client.post(f"{URL}preview", {"kind": "PRODUCT", "criteria": city_is("Pune")}, format="json")

    body = assert_error(response, 400, "criteria_invalid")
    assert body["details"]["path"] == "criteria.all[0].field"


@pytest.mark.parametrize("suffix", ["refresh", "refresh/"])
@pytest.mark.django_db
def test_refresh_answers_202_and_refreshes_on_commit(admin_client, django_capture_on_commit_callbacks, suffix):
    first = CustomerFactory(city="Pune")
    segment = refreshed(SegmentFactory())
    second = CustomerFactory(city="Pune")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(f"{detail_url(segment)}{suffix}")

    assert response.status_code == 202, response.content
    assert response.json() == {"status": "refresh queued"}
    assert len(callbacks) == 1
    segment.refresh_from_db()
    assert segment.member_count == 2
    assert member_ids(segment) == {first.pk, second.pk}


@pytest.mark.django_db
def test_refresh_of_a_missing_segment_is_404(admin_client):
    assert_error(admin_client.post(f"{URL}999999/refresh"), 404, "not_found")


@pytest.mark.django_db
def test_criteria_catalogue_lists_fields_per_kind_and_the_operators(admin_client):
    response = admin_client.get(f"{URL}criteria/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert {"USER", "PRODUCT", "operators"} <= set(body)
    users = {row["field"]: row for row in body["USER"]}
    products = {row["field"]: row for row in body["PRODUCT"]}
    assert users["city"]["value_type"] == "text"
    assert users["city"]["operators"] == ["eq", "ne", "in", "not_in"]
    assert users["city"]["window"] == "none"
    assert users["total_spend"]["unit"] == "INR" and users["total_spend"]["window"] == "optional"
    assert users["logins"]["window"] == "required" and users["logins"]["default_window_days"] == 30
    assert products["price"]["value_type"] == "decimal" and products["price"]["unit"] == "INR"
    assert "city" not in products and "price" not in users
    for row in [*body["USER"], *body["PRODUCT"]]:
        assert {"field", "operators", "value_type", "unit", "window"} <= set(row)
        assert set(row["operators"]) <= set(body["operators"]), row


# --- Permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", ""),
        ("get", "{id}/"),
        ("patch", "{id}/"),
        ("delete", "{id}/"),
        ("get", "{id}/members/"),
        ("get", "{id}/members/export/"),
        ("post", "{id}/refresh"),
        ("post", "preview"),
        ("get", "criteria/"),
    ],
)
@pytest.mark.django_db
def test_a_customer_may_not_use_the_segments_api(customer_client, method, path):
    segment = SegmentFactory()

    response = getattr(customer_client, method)(URL + path.format(id=segment.pk), {}, format="json")

    assert_error(response, 403, "permission_denied")
    assert Segment.objects.filter(pk=segment.pk).exists()


@pytest.mark.parametrize("url", [URL, "/segment/get", "/segment/create"])
@pytest.mark.django_db
def test_anonymous_requests_are_unauthenticated(api_client, url):
    response = api_client.get(url) if url != "/segment/create" else api_client.post(url, {}, format="json")

    assert_error(response, 401, "not_authenticated")


@pytest.mark.django_db
def test_a_staff_user_with_the_view_permission_may_list_but_not_create(client_for):
    staff = CustomerFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_segment", content_type__app_label="segments"))
    client = client_for(staff)
    segment = SegmentFactory()

    listed = client.get(URL)
    created = client.post(URL, {"name": "Mine", "criteria": city_is("Pune")}, format="json")
    deleted = client.delete(detail_url(segment))

    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert_error(created, 403, "permission_denied")
    assert_error(deleted, 403, "permission_denied")
    assert list(Segment.objects.values_list("pk", flat=True)) == [segment.pk]


@pytest.mark.django_db
def test_a_staff_user_without_the_permission_may_not_list(client_for):
    staff = CustomerFactory(is_staff=True)

    assert_error(client_for(staff).get(URL), 403, "permission_denied")


@pytest.mark.django_db
def test_a_staff_user_with_the_add_permission_may_create(client_for, django_capture_on_commit_callbacks):
    staff = CustomerFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_segment", content_type__app_label="segments"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(staff).post(URL, {"name": "Mine", "criteria": city_is("Pune")}, format="json")

    assert response.status_code == 201, response.content
    assert Segment.objects.get().created_by == staff


# --- Query counts -----------------------------------------------------------------------------


def _queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.django_db
def test_list_queries_do_not_grow_with_the_number_of_segments(admin_client, django_assert_max_num_queries):
    SegmentFactory.create_batch(3)
    admin_client.get(URL)  # warm up: anything done once per client is not counted below
    few = _queries(admin_client, URL, {"limit": 100})
    SegmentFactory.create_batch(27)

    with django_assert_max_num_queries(few):
        response = admin_client.get(URL, {"limit": 100})

    assert len(response.json()["results"]) == 30


@pytest.mark.django_db
def test_members_queries_do_not_grow_with_the_number_of_members(admin_client, django_assert_max_num_queries):
    CustomerFactory.create_batch(5, city="Pune")
    segment = refreshed(SegmentFactory())
    url = f"{detail_url(segment)}members/"
    admin_client.get(url)
    few = _queries(admin_client, url, {"limit": 100})
    CustomerFactory.create_batch(45, city="Pune")
    refreshed(segment)

    with django_assert_max_num_queries(few):
        response = admin_client.get(url, {"limit": 100})

    assert response.json()["count"] == 50 and len(response.json()["results"]) == 50


# --- Races on the name (real threads, PostgreSQL) ----------------------------------------------


@pytest.fixture
def name_checks_overlap(monkeypatch):
    """Both requests check that the name is free before either writes it: the race the unique
    constraint (not the check) must settle."""
    original = services._name_taken
    checked = threading.Barrier(2)

    def name_taken_then_wait(name: str, exclude: int | None = None) -> bool:
        taken = original(name, exclude)
        checked.wait(timeout=10)
        return taken

    monkeypatch.setattr(services, "_name_taken", name_taken_then_wait)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_make_one_segment(admin_user, client_for, name_checks_overlap):
    clients = [client_for(admin_user) for _ in range(2)]
    names = ["Diwali shoppers", "DIWALI SHOPPERS"]

    responses = run_concurrently(
        2, lambda i: clients[i].post(URL, {"name": names[i], "criteria": city_is("Pune")}, format="json")
    )

    assert sorted(r.status_code for r in responses) == [201, 409]
    assert_error(next(r for r in responses if r.status_code == 409), 409, "segment_name_taken")
    assert Segment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_renames_to_one_name_leave_one_segment_with_it(admin_user, client_for, name_checks_overlap):
    segments = [SegmentFactory(name="First"), SegmentFactory(name="Second")]
    clients = [client_for(admin_user) for _ in range(2)]
    names = ["Festive", "FESTIVE"]

    responses = run_concurrently(
        2, lambda i: clients[i].patch(detail_url(segments[i]), {"name": names[i]}, format="json")
    )

    assert sorted(r.status_code for r in responses) == [200, 409]
    assert_error(next(r for r in responses if r.status_code == 409), 409, "segment_name_taken")
    assert Segment.objects.filter(name__iexact="festive").count() == 1
