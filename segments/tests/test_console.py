"""The segment console: the criteria builder's form round-trip, its live count and sample, the
members pages and export, what uses a segment, and the history (who changed what)."""

import csv
import html
import io
import json

import pytest
from django.contrib.auth.models import Group

from accounts.tests.factories import UserFactory
from campaigns.models import CampaignKind
from campaigns.tests.factories import CampaignFactory
from commerce.tests.factories import BrandFactory, CategoryFactory, OrderFactory, ProductFactory
from console.groups import ANALYST, MARKETER
from segments.models import Segment
from segments.services import segment_refresh
from segments.tests.factories import CustomerFactory, ProductSegmentFactory, SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/segments/segment/add/"
PREVIEW = "/admin/segments/segment/preview/"


def _staff(group: str, email: str):
    user = UserFactory(email=email, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def marketer_console(client):
    client.force_login(_staff(MARKETER, "mira@example.com"))
    return client


@pytest.fixture
def analyst_console(client):
    client.force_login(_staff(ANALYST, "anil@example.com"))
    return client


def _change(segment: Segment) -> str:
    return f"/admin/segments/segment/{segment.pk}/change/"


def _save(console, criteria, *, path=ADD, kind="USER", name="Built"):
    body = {"name": name, "description": "", "kind": kind, "type": "DYNAMIC", "criteria": json.dumps(criteria)}
    return console.post(path, body)


def _preview(console, criteria, kind="USER"):
    return console.post(PREVIEW, json.dumps({"kind": kind, "criteria": criteria}), content_type="application/json")


# --- The builder on the form ------------------------------------------------------------------


def test_a_new_segment_starts_with_an_empty_all_group_and_the_catalogue_in_the_page(marketer_console):
    CategoryFactory(name="Electronics")

    page = marketer_console.get(ADD).content.decode()

    assert 'data-testid="criteria-builder"' in page
    assert "segments/criteria_builder.js" in page and "segments/criteria_builder.css" in page
    textarea = html.unescape(page.split('name="criteria"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])
    assert json.loads(textarea) == {"all": []}
    catalogue = json.loads(
        page.split('id="id_criteria-catalogue" type="application/json">', 1)[1].split("</script>")[0]
    )
    assert {"total_spend", "bought_category", "country"} <= {f["field"] for f in catalogue["fields"]["USER"]}
    assert "price" in {f["field"] for f in catalogue["fields"]["PRODUCT"]}
    assert catalogue["operators"]["gte"] == "is at least"
    assert "Electronics" in {c["name"] for c in catalogue["options"]["categories"]}
    assert catalogue["preview_url"] == PREVIEW


ROUND_TRIPS = [
    # every operator and value type, and nested all / any / not groups
    {"all": [{"field": "orders", "op": "gte", "value": 3, "window_days": 90}]},
    {"all": [{"field": "total_spend", "op": "between", "value": ["1000.50", "5000"], "window_days": 30}]},
    {"all": [{"field": "days_since_signup", "op": "lt", "value": 30}, {"field": "logins", "op": "ne", "value": 0, "window_days": 30}]},
    {"all": [{"field": "country", "op": "in", "value": ["IN", "LK"]}, {"field": "city", "op": "not_in", "value": ["Pune"]}]},
    {"all": [{"field": "email_verified", "op": "is", "value": False}]},
    {"all": [{"field": "signed_up", "op": "between", "value": ["2026-01-01", "2026-06-30"]}]},
    {"all": [{"field": "signed_up", "op": "before", "value": "2026-01-01"}]},
    {"any": [{"field": "bought_category", "op": "any_of", "value": [1, 2]}, {"field": "bought_brand", "op": "none_of", "value": [3]}]},
    {"all": [{"any": [{"field": "country", "op": "eq", "value": "IN"}, {"not": {"field": "city", "op": "eq", "value": "Pune"}}]}]},
    {"not": {"all": [{"field": "orders", "op": "gt", "value": 0}, {"field": "average_order_value", "op": "lte", "value": "99.99"}]}},
]  # fmt: skip


@pytest.mark.parametrize("criteria", ROUND_TRIPS)
def test_the_builders_json_is_stored_as_sent_and_shown_back_unchanged(marketer_console, criteria):
    response = _save(marketer_console, criteria)

    assert response.status_code == 302, response.content.decode()[-3000:]
    segment = Segment.objects.get(name="Built")
    assert segment.criteria == criteria
    page = marketer_console.get(_change(segment)).content.decode()
    textarea = page.split('name="criteria"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    assert json.loads(html.unescape(textarea)) == criteria
    response = _save(marketer_console, criteria, path=_change(segment))  # saved again unchanged
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.criteria == criteria


def test_a_product_segment_round_trips_with_choices(marketer_console):
    criteria = {
        "all": [{"field": "stock_status", "op": "eq", "value": "low"}, {"field": "active", "op": "is", "value": True}]
    }

    response = _save(marketer_console, criteria, kind="PRODUCT")

    assert response.status_code == 302
    assert Segment.objects.get(name="Built").criteria == criteria


@pytest.mark.parametrize(
    ("criteria", "words"),
    [
        ({"all": []}, "Add at least one condition"),
        ({"all": [{"field": "", "op": "", "value": ""}]}, "Row 1, the field: Choose a field from the list."),
        ({"all": [{"field": "orders", "op": "", "value": 1}]}, "Row 1, the comparison: Choose a comparison"),
        (
            {"all": [{"field": "city", "op": "eq", "value": "Pune"}, {"any": [{"field": "orders", "op": "gte", "value": "x"}]}]},
            "Row 2 › row 1, the value: Expected a whole number.",
        ),
        ({"all": [{"field": "total_spend", "op": "between", "value": ["9", "x"]}]}, "Row 1, the value (entry 2)"),
        ({"all": [{"any": []}]}, "Row 1: This group is empty: add a condition to it or remove it."),
        ({"all": [{"field": "orders", "op": "gte", "value": 1, "window_days": 0}]}, "Row 1, the window: Expected"),
    ],
)  # fmt: skip
def test_bad_criteria_are_refused_on_the_form_in_words_naming_the_row(marketer_console, criteria, words):
    response = _save(marketer_console, criteria)

    assert response.status_code == 200
    assert words in response.content.decode()
    assert not Segment.objects.exists()


def test_bad_json_typed_by_an_expert_is_a_message_on_the_field(marketer_console):
    body = {"name": "Typed", "kind": "USER", "type": "DYNAMIC", "criteria": '{"all": ['}

    response = marketer_console.post(ADD, body)

    assert response.status_code == 200
    assert "Enter a valid JSON" in response.content.decode()


def test_a_static_segment_saved_with_the_builders_empty_group_has_no_criteria(marketer_console):
    body = {"name": "List", "kind": "USER", "type": "STATIC", "criteria": '{"all": []}'}

    response = marketer_console.post(ADD, body)

    assert response.status_code == 302
    assert Segment.objects.get(name="List").criteria is None


def test_an_analyst_sees_the_criteria_in_words_and_cannot_save(analyst_console):
    segment = SegmentFactory(
        criteria={"all": [{"field": "total_spend", "op": "gte", "value": "10000", "window_days": 90}]}
    )

    page = analyst_console.get(_change(segment)).content.decode()

    assert "Total spend (in the last N days) is at least ₹10000 in the last 90 days" in page
    assert 'name="criteria"' not in page and 'name="_save"' not in page
    response = _save(analyst_console, {"all": [{"field": "city", "op": "eq", "value": "Pune"}]}, path=_change(segment))
    assert response.status_code == 403
    assert Segment.objects.get().criteria["all"][0]["field"] == "total_spend"


# --- The live count and sample ----------------------------------------------------------------


def test_the_preview_counts_what_a_refresh_of_the_saved_segment_stores(marketer_console):
    buyers = [OrderFactory(customer__city="Pune", lines=[(ProductFactory(), 2)]).customer for _ in range(3)]
    CustomerFactory(city="Pune")  # no order
    criteria = {"all": [{"field": "city", "op": "eq", "value": "Pune"}, {"field": "orders", "op": "gte", "value": 1}]}

    response = _preview(marketer_console, criteria)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert sorted(member["id"] for member in body["sample"]) == sorted(buyer.pk for buyer in buyers)
    assert all(member["label"] for member in body["sample"])
    saved = segment_refresh(segment_id=SegmentFactory(criteria=criteria).pk)
    assert saved.member_count == body["count"]


def test_the_preview_of_products_answers_skus(marketer_console):
    product = ProductFactory(sku="TV-1", name="Telly", price="5000.00")
    ProductFactory(price="10.00")

    body = _preview(
        marketer_console, {"all": [{"field": "price", "op": "gte", "value": "1000"}]}, kind="PRODUCT"
    ).json()

    assert body["count"] == 1 and body["sample"] == [{"id": product.pk, "label": "TV-1 · Telly"}]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ("{not json", "not_json", "not JSON"),
        ('{"kind": "ANIMALS", "criteria": {"all": []}}', "kind_invalid", "customers or products"),
        ('{"kind": "USER", "criteria": {"all": []}}', "criteria_empty", "Add a condition"),
        ('{"kind": "USER", "criteria": {"all": [{"field": "orders", "op": "gte", "value": "x"}]}}', "criteria_invalid",
         "Row 1, the value: Expected a whole number."),
        ('{"kind": "USER", "criteria": {"all": [{"field": "nope", "op": "eq", "value": 1}]}}', "criteria_invalid",
         "Choose a field"),
        ('{"kind": "USER", "criteria": [1, 2]}', "criteria_invalid", "Expected an object"),
    ],
)  # fmt: skip
def test_bad_criteria_in_a_preview_are_a_400_in_words(marketer_console, body, code, words):
    response = marketer_console.post(PREVIEW, body, content_type="application/json")

    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == code and words in answer["message"]


def test_a_bad_rows_path_comes_with_the_preview_error(marketer_console):
    criteria = {
        "all": [
            {"field": "city", "op": "eq", "value": "Pune"},
            {"field": "orders", "op": "gte", "value": 1, "window_days": 0},
        ]
    }

    answer = _preview(marketer_console, criteria).json()

    assert answer["details"]["path"] == "criteria.all[1].window_days"
    assert answer["message"].startswith("Row 2, the window: ")


def test_an_analyst_may_preview(analyst_console):
    CustomerFactory(city="Pune")

    response = _preview(analyst_console, {"all": [{"field": "city", "op": "eq", "value": "Pune"}]})

    assert response.status_code == 200 and response.json()["count"] == 1


def test_anonymous_and_non_staff_users_are_refused_a_preview(client):
    criteria = {"all": [{"field": "city", "op": "eq", "value": "Pune"}]}

    assert _preview(client, criteria).status_code == 401
    client.force_login(CustomerFactory())
    assert _preview(client, criteria).status_code == 403


def test_staff_without_the_segments_permission_are_refused_a_preview(client):
    client.force_login(UserFactory(is_staff=True))

    response = _preview(client, {"all": [{"field": "city", "op": "eq", "value": "Pune"}]})

    assert response.status_code == 403


def test_a_preview_takes_only_post(marketer_console):
    assert marketer_console.get(PREVIEW).status_code == 405


# --- Members, export, usages ------------------------------------------------------------------


def _members_segment(count: int) -> Segment:
    CustomerFactory.create_batch(count, city="Pune")
    return segment_refresh(segment_id=SegmentFactory().pk)


@pytest.mark.parametrize("count", [3, 60])
def test_the_members_page_reads_in_constant_queries(marketer_console, django_assert_max_num_queries, count):
    segment = _members_segment(count)

    with django_assert_max_num_queries(8):
        response = marketer_console.get(f"/admin/segments/segment/{segment.pk}/members/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-testid="segment-members-count">{count}<' in page
    assert page.count('data-testid="segment-member-row"') == min(count, 50)


def test_the_members_pages_turn_and_a_bad_page_is_the_first(marketer_console):
    segment = _members_segment(55)
    url = f"/admin/segments/segment/{segment.pk}/members/"

    second = marketer_console.get(url + "?page=2").content.decode()
    bad = marketer_console.get(url + "?page=zebra")

    assert "Page 2 of 2" in second and second.count('data-testid="segment-member-row"') == 5
    assert bad.status_code == 200 and "Page 1 of 2" in bad.content.decode()


def test_the_members_export_streams_every_member_as_csv(marketer_console):
    segment = _members_segment(3)
    member = segment.customer_memberships.order_by("customer_id").first().customer
    member.first_name = "=cmd"
    member.save()

    response = marketer_console.get(f"/admin/segments/segment/{segment.pk}/members.csv")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Id", "Email", "First name", "Last name", "External id"]
    assert len(rows) == 4 and rows[1][0] == str(member.pk) and rows[1][1] == member.email
    assert rows[1][2] == "'=cmd"  # a spreadsheet does not run it


def test_an_analyst_may_list_and_export_members_but_a_stranger_may_not(analyst_console, client):
    segment = _members_segment(2)

    assert analyst_console.get(f"/admin/segments/segment/{segment.pk}/members/").status_code == 200
    assert analyst_console.get(f"/admin/segments/segment/{segment.pk}/members.csv").status_code == 200
    client.force_login(UserFactory(is_staff=True))
    assert client.get(f"/admin/segments/segment/{segment.pk}/members/").status_code == 403
    assert client.get(f"/admin/segments/segment/{segment.pk}/members.csv").status_code == 403


def test_an_unknown_segments_members_are_a_404(marketer_console):
    assert marketer_console.get("/admin/segments/segment/999999/members/").status_code == 404


def test_the_segment_page_links_the_campaigns_programs_and_promotions_that_use_it(marketer_console):
    segment = StaticSegmentFactory()
    campaign = CampaignFactory(name="Diwali", segments=[segment])
    program = CampaignFactory(name="Club", kind=CampaignKind.LOYALTY_PROGRAM, segments=[segment])

    page = marketer_console.get(_change(segment)).content.decode()

    assert 'data-testid="segment-usages"' in page
    assert f'href="/admin/campaigns/campaign/{campaign.pk}/change/"' in page and "Diwali" in page
    assert f'href="/admin/loyalty/loyaltyprogram/{program.pk}/change/"' in page and "Club" in page


def test_a_segment_nothing_uses_says_so(marketer_console):
    page = marketer_console.get(_change(ProductSegmentFactory())).content.decode()

    assert "Nothing targets this segment yet." in page


# --- History ----------------------------------------------------------------------------------


def test_the_history_names_who_changed_what(marketer_console):
    _save(marketer_console, {"all": [{"field": "city", "op": "eq", "value": "Pune"}]})
    segment = Segment.objects.get(name="Built")
    _save(marketer_console, {"all": [{"field": "city", "op": "eq", "value": "Mumbai"}]}, path=_change(segment))
    segment_refresh(segment_id=segment.pk)  # a refresh is not an edit

    records = list(segment.history.order_by("history_id"))
    page = marketer_console.get(f"/admin/segments/segment/{segment.pk}/history/").content.decode()

    assert [(r.history_type, r.history_change_reason) for r in records] == [("+", "Created"), ("~", "Changed criteria")]
    assert {r.history_user.email for r in records} == {"mira@example.com"}
    assert "mira@example.com" in page and "Changed criteria" in page and "None" not in page
    assert "City is Pune" in page and "City is Mumbai" in page  # the change in words


def test_demo_categories_and_brands_feed_the_builder(marketer_console):
    BrandFactory(name="Acme")

    page = marketer_console.get(ADD).content.decode()

    assert "Acme" in page


def test_a_segments_page_shows_the_builder_or_the_upload_by_its_type(marketer_console):
    dynamic = marketer_console.get(_change(SegmentFactory())).content.decode()
    static = marketer_console.get(_change(StaticSegmentFactory())).content.decode()

    assert 'data-testid="criteria-builder"' in dynamic and 'name="members_file"' not in dynamic
    assert 'name="members_file"' in static and 'data-testid="criteria-builder"' not in static


def test_saving_a_segment_unchanged_adds_no_history(marketer_console):
    criteria = {"all": [{"field": "city", "op": "eq", "value": "Pune"}]}
    _save(marketer_console, criteria)
    segment = Segment.objects.get(name="Built")

    response = _save(marketer_console, criteria, path=_change(segment))

    assert response.status_code == 302
    assert segment.history.count() == 1


def test_an_analyst_sees_a_static_segments_members_link_but_no_upload(analyst_console):
    segment = StaticSegmentFactory()

    page = analyst_console.get(_change(segment)).content.decode()

    assert 'data-testid="segment-members-link"' in page and 'name="members_file"' not in page
