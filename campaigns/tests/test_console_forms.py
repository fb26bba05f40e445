"""The campaign form a marketer can use: rule rows with their type's fields only, tiers as rows
of numbers, countries by name and states/cities from the data, errors in marketer words (on the
field and at the top), readable change history, and who may save."""

import json
import re

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, DiscountRule
from campaigns.tests.test_admin import ADD, campaign_data, change_url, service_campaign
from commerce.tests.factories import BrandFactory, CategoryFactory, OrderFactory, ProductFactory
from console.tests.conftest import analyst, analyst_console, marketer, marketer_console  # noqa: F401

pytestmark = pytest.mark.django_db

ENUM_NAME = re.compile(r"\b[A-Z]{2,}(?:_[A-Z]+)+\b|\bPERCENTAGE\b|\bnull\b|\bNone\b")


def _rule_errors(response, index: int) -> dict:
    return response.context["inline_admin_formsets"][0].formset.forms[index].errors


def _all_errors(response) -> list[str]:
    texts = [str(e) for errors in response.context["adminform"].form.errors.values() for e in errors]
    formset = response.context["inline_admin_formsets"][0].formset
    texts += [str(e) for e in formset.non_form_errors()]
    texts += [str(e) for form in formset.forms for errors in form.errors.values() for e in errors]
    return texts


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Rule rows: only their type's fields -------------------------------------------------------------

# What each type keeps of a row with every field filled: tiers, targets, buy-x-get-y fields.
KEEPS = {
    "WHOLE_CART": (False, set(), False),
    "BULK_PURCHASE": (True, {"categories", "brands", "products"}, False),
    "CATEGORY": (False, {"categories"}, False),
    "PRODUCT": (False, {"products"}, False),
    "BRAND": (False, {"brands"}, False),
    "CUSTOM_CART_TOTAL": (True, set(), False),
    "BUY_X_GET_Y": (False, {"categories", "brands", "products"}, True),
}


@pytest.mark.parametrize("rule_type", list(KEEPS))
def test_a_rule_row_of_each_type_saves_only_its_fields(console, rule_type):
    category, brand, product = CategoryFactory(), BrandFactory(), ProductFactory()
    row = {
        "rule_type": rule_type,
        "value": "10",
        "tiers": [("3", "5"), ("6", "10")],
        "categories": [category.pk],
        "brands": [brand.pk],
        "products": [product.pk],
        "buy_quantity": "2",
        "get_quantity": "1",
        "max_applications": "3",
    }

    response = console.post(ADD, campaign_data([row]))

    assert response.status_code == 302, response.context and _all_errors(response)
    rule = DiscountRule.objects.get()
    tiers, targets, buy_get = KEEPS[rule_type]
    assert rule.rule_type == rule_type and rule.value == 10
    assert rule.tiers == ([{"threshold": "3", "value": "5"}, {"threshold": "6", "value": "10"}] if tiers else [])
    kept = {name for name in ("categories", "brands", "products") if getattr(rule, name).exists()}
    assert kept == targets
    expected = (2, 1, 3) if buy_get else (None, None, None)
    assert (rule.buy_quantity, rule.get_quantity, rule.max_applications) == expected


def test_the_rule_type_select_tells_the_page_each_types_fields(console):
    response = console.get(ADD)

    page = response.content.decode()
    select = re.search(r'<select[^>]*name="rules-0-rule_type"[^>]*>', page)[0]
    by_type = json.loads(re.search(r"data-type-fields=\"([^\"]*)\"", select)[1].replace("&quot;", '"'))
    assert "tiers" in by_type["BULK_PURCHASE"] and "tiers" not in by_type["WHOLE_CART"]
    assert "buy_quantity" in by_type["BUY_X_GET_Y"] and "buy_quantity" not in by_type["CATEGORY"]
    assert "brands" in by_type["BRAND"] and "categories" not in by_type["BRAND"]
    assert "/static/lms/js/type_fields.js" in page


# --- Tiers as rows -------------------------------------------------------------------------------------


def test_tier_rows_show_the_stored_tiers_and_save_them_back_unchanged(console):
    campaign = service_campaign(
        rules=[{"rule_type": "BULK_PURCHASE", "discount_type": "PERCENTAGE", "tiers": [
            {"threshold": "3", "value": "5"}, {"threshold": "6", "value": "12.50"}]}],
    )  # fmt: skip
    rule = DiscountRule.objects.get(campaign=campaign)

    page = console.get(change_url(campaign)).content.decode()

    assert re.search(r'name="rules-0-tiers-1-value"[^>]*value="12.50"', page)
    assert 'id="id_rules-0-tiers-0-threshold"' in page and 'name="rules-0-tiers-2-threshold"' in page  # a spare row
    data = campaign_data(
        [{"id": rule.pk, "rule_type": "BULK_PURCHASE", "tiers": [("3", "5"), ("6", "12.50"), ("", "")]}],
        initial_rules=1, campaign_id=campaign.pk, name="Renamed", starts_at_0=campaign.starts_at.date().isoformat(),
    )  # fmt: skip
    data.pop("kind")
    assert console.post(change_url(campaign), data).status_code == 302
    assert DiscountRule.objects.get(campaign=campaign).tiers == [
        {"threshold": "3", "value": "5"},
        {"threshold": "6", "value": "12.50"},
    ]


def test_a_bad_tier_row_is_named_by_its_number(console):
    rows = [{"rule_type": "BULK_PURCHASE", "tiers": [("3", "5"), ("abc", "10"), ("6", ""), ("7", "1.005")]}]

    response = console.post(ADD, campaign_data(rows))

    errors = _rule_errors(response, 0)["tiers"]
    assert "Tier 2, from: “abc” is not a number." in errors
    assert "Tier 3: give the discount." in errors
    assert "Tier 4, discount: at most 2 decimal places." in errors
    assert not Campaign.objects.exists()


# --- Countries, states and cities --------------------------------------------------------------------


def test_countries_are_iso_codes_shown_by_name(console):
    campaign = service_campaign(countries=["IN"])

    page = console.get(change_url(campaign)).content.decode()

    assert re.search(r'<option value="IN"[^>]*selected[^>]*>India</option>', page)
    assert re.search(r'<option value="AE"[^>]*>United Arab Emirates</option>', page)


@pytest.mark.parametrize("typed", ["India", "india", "IND", "in"])
def test_a_country_typed_by_name_is_saved_as_its_code(console, typed):
    response = console.post(ADD, campaign_data([{"value": "10"}], countries=[typed, "AE"]))

    assert response.status_code == 302
    assert Campaign.objects.get().countries == ["IN", "AE"]


def test_an_unknown_country_is_refused_in_words(console):
    response = console.post(ADD, campaign_data([{"value": "10"}], countries=["Atlantis"]))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["countries"]
    assert errors == ["We do not know the country “Atlantis”: pick countries from the list."]
    assert not Campaign.objects.exists()


def test_states_and_cities_are_the_datas_and_the_campaigns_own(console):
    UserFactory(state="Maharashtra", city="Pune")
    OrderFactory(shipping_state="Karnataka", shipping_city="Bengaluru")
    campaign = service_campaign(cities=["Nagpur"])  # stored before the choices existed: still shown

    form = console.get(change_url(campaign)).context["adminform"].form

    assert [value for value, _ in form.fields["states"].choices] == ["Karnataka", "Maharashtra"]
    assert [value for value, _ in form.fields["cities"].choices] == ["Bengaluru", "Nagpur", "Pune"]


def test_a_city_the_data_does_not_hold_is_refused_and_case_follows_the_data(console):
    UserFactory(city="Pune")

    refused = console.post(ADD, campaign_data([{"value": "10"}], cities=["Atlantis City"]))
    saved = console.post(ADD, campaign_data([{"value": "10"}], cities=["pune"]))

    assert (
        "No customer or order is in the city “Atlantis City”" in refused.context["adminform"].form.errors["cities"][0]
    )
    assert saved.status_code == 302 and Campaign.objects.get().cities == ["Pune"]


# --- Errors in marketer words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "rules", "expected"),
    [
        ({}, [{"rule_type": "BUY_X_GET_Y", "discount_type": "FIXED_AMOUNT", "value": "10", "buy_quantity": "1",
               "get_quantity": "1"}], "Buy X get Y takes a “Percentage” off"),
        ({}, [{"rule_type": "CATEGORY", "value": "5"}], "A “Category” rule needs at least one target."),
        ({"kind": "FREE_SHIPPING"}, [{"value": "10"}], "“Free shipping”"),
        ({}, [{"discount_type": "FREE_SHIPPING"}], "“Free shipping”"),
        ({"audience": "SEGMENTS"}, [{"value": "10"}], "segment"),
        ({}, [{"rule_type": "BULK_PURCHASE", "tiers": [("5", "10"), ("3", "20")]}], "Tier 2"),
    ],
    ids=["bxgy-fixed", "category-without-target", "shipping-campaign-percent", "shipping-rule-in-coupon",
         "segments-without-segments", "tiers-down"],
)  # fmt: skip
def test_errors_are_in_marketer_words_on_the_field_and_at_the_top(console, fields, rules, expected):
    response = console.post(ADD, campaign_data(rules, **fields))

    assert response.status_code == 200 and not Campaign.objects.exists()
    errors = _all_errors(response)
    assert any(expected in text for text in errors), errors
    assert not [text for text in errors if ENUM_NAME.search(text)], errors
    top = _messages(response)
    assert top and top[0].startswith("Nothing was saved.") and expected in top[0]
    assert not ENUM_NAME.search(top[0])


# --- History -------------------------------------------------------------------------------------------


def test_the_history_names_the_user_and_the_changed_fields_and_the_rules(console):
    campaign = service_campaign(name="Before")
    rule = DiscountRule.objects.get(campaign=campaign)
    data = campaign_data(
        [{"id": rule.pk, "value": "15", "discount_type": "FIXED_AMOUNT"}],
        initial_rules=1, campaign_id=campaign.pk, name="After", starts_at_0=campaign.starts_at.date().isoformat(),
    )  # fmt: skip
    data.pop("kind")
    assert console.post(change_url(campaign), data).status_code == 302

    page = console.get(reverse("admin:campaigns_campaign_history", args=[campaign.pk])).content.decode()

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "root@example.com" in text
    assert re.search(r"Name: Before → After", text) or re.search(r"Name: Before arrow_right_alt After", text)
    assert "Changes to its parts" in text and "Rule: " in text
    assert "Discount type: Fixed amount" in text  # the new rule, in the choice's words
    assert "Change reason" not in text and "None" not in text


# --- Who may save --------------------------------------------------------------------------------------


def test_an_analyst_sees_the_form_read_only_and_cannot_save(analyst_console):  # noqa: F811
    campaign = service_campaign(name="Keep", countries=["IN"])

    page = analyst_console.get(change_url(campaign))
    post = analyst_console.post(change_url(campaign), campaign_data([{"value": "20"}], name="Changed"))

    html = page.content.decode()
    assert page.status_code == 200 and 'name="rules-0-rule_type"' not in html and 'name="_save"' not in html
    assert "India" in html  # the stored code, shown by name
    assert post.status_code == 403
    assert Campaign.objects.get().name == "Keep"


def test_a_marketer_saves_the_form(marketer_console):  # noqa: F811
    UserFactory(city="Pune")

    response = marketer_console.post(ADD, campaign_data([{"value": "10"}], countries=["India"], cities=["Pune"]))

    assert response.status_code == 302
    assert (Campaign.objects.get().countries, Campaign.objects.get().cities) == (["IN"], ["Pune"])
