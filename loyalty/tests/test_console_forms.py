"""The loyalty program form a marketer can use: earning rule rows with their type's fields only,
streak steps as rows of numbers, countries by name, errors in marketer words, readable history
with the tiers', and who may save."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from commerce.tests.factories import CategoryFactory
from console.tests.conftest import analyst, analyst_console  # noqa: F401
from loyalty.models import EarningRule, Tier
from loyalty.tests.factories import program_make
from loyalty.tests.test_admin import ADD, change_url, program_data

pytestmark = pytest.mark.django_db

ENUM_NAME = re.compile(r"\b[A-Z]{2,}(?:_[A-Z]+)+\b|\bSPEND\b|\bnull\b")

# (rate, minimum order, bonus points, base points, streak steps, max multiplier, has categories)
KEEPS = {
    "POINTS_PER_RUPEE": (Decimal("2"), Decimal("100"), None, None, [], None, False),
    "CATEGORY_POINTS": (Decimal("2"), Decimal("100"), None, None, [], None, True),
    "FIRST_PURCHASE_BONUS": (None, Decimal("100"), 50, None, [], None, False),
    "DAILY_LOGIN_STREAK": (None, None, None, 5, [{"days": 7, "multiplier": "2"}], Decimal("3"), False),
}


def _rule_errors(response, index: int) -> dict:
    return response.context["inline_admin_formsets"][1].formset.forms[index].errors


@pytest.mark.parametrize("rule_type", list(KEEPS))
def test_an_earning_rule_row_of_each_type_saves_only_its_fields(console, rule_type):
    shoes = CategoryFactory(name="Shoes")
    row = {
        "rule_type": rule_type, "points_per_rupee": "2", "min_order_value": "100", "bonus_points": "50",
        "base_points": "5", "streak_steps": [("7", "2")], "max_multiplier": "3", "categories": [shoes.pk],
    }  # fmt: skip

    response = console.post(ADD, program_data([row]))

    assert response.status_code == 302, response.context and response.context["errors"]
    rule = EarningRule.objects.get()
    rate, minimum, bonus, base, steps, cap, categories = KEEPS[rule_type]
    assert (rule.points_per_rupee, rule.min_order_value, rule.bonus_points) == (rate, minimum, bonus)
    assert (rule.base_points, rule.streak_steps, rule.max_multiplier) == (base, steps, cap)
    assert rule.categories.exists() == categories


def test_the_earning_rule_type_select_tells_the_page_each_types_fields(console):
    page = console.get(ADD).content.decode()

    select = re.search(r'<select[^>]*name="earning_rules-0-rule_type"[^>]*>', page)[0]
    assert "data-type-fields" in select and "streak_steps" in select
    assert "/static/lms/js/type_fields.js" in page


def test_streak_step_rows_round_trip_and_a_bad_row_is_named(console):
    program = program_make(
        rules=[{"rule_type": "DAILY_LOGIN_STREAK", "base_points": 5,
                "streak_steps": [{"days": 7, "multiplier": "2"}, {"days": 30, "multiplier": "3.5"}]}],
    )  # fmt: skip
    rule = EarningRule.objects.get(program=program)

    page = console.get(change_url(program)).content.decode()
    bad = console.post(
        change_url(program),
        program_data(
            [{"id": rule.pk, "rule_type": "DAILY_LOGIN_STREAK", "base_points": "5",
              "streak_steps": [("7", "2"), ("x", "3"), ("40", "")]}],
            program_id=program.pk, initial_rules=1,
        ),
    )  # fmt: skip

    assert re.search(r'name="earning_rules-0-streak_steps-1-multiplier"[^>]*value="3.5"', page)
    errors = _rule_errors(bad, 0)["streak_steps"]
    assert "Step 2, days in a row: “x” is not a whole number." in errors
    assert "Step 3: give the points ×." in errors
    assert EarningRule.objects.get(pk=rule.pk).streak_steps == [
        {"days": 7, "multiplier": "2"},
        {"days": 30, "multiplier": "3.5"},
    ]


def test_a_country_typed_by_name_is_saved_as_its_code_and_an_unknown_one_refused(console):
    refused = console.post(ADD, program_data([{"points_per_rupee": "1"}], countries=["Narnia"]))
    saved = console.post(ADD, program_data([{"points_per_rupee": "1"}], countries=["India"]))

    assert refused.context["adminform"].form.errors["countries"] == [
        "We do not know the country “Narnia”: pick countries from the list."
    ]
    assert saved.status_code == 302 and Campaign.objects.get().countries == ["IN"]


def test_program_errors_are_in_marketer_words(console):
    response = console.post(
        ADD,
        program_data(
            [{"points_per_rupee": "1"}, {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "2"}],
            settings={"tier_basis": "SPEND"},
        ),
    )

    assert response.status_code == 200 and not Campaign.objects.exists()
    top = [str(message) for message in response.context["messages"]]
    assert top and top[0].startswith("Nothing was saved.")
    assert "“Category points per rupee”" in top[0] or "“Spend in a rolling window”" in top[0]
    assert not ENUM_NAME.search(top[0]), top[0]


def test_tier_changes_are_in_the_programs_history_with_the_user(console):
    program = program_make(name="Club", tiers=[{"name": "Gold", "threshold": Decimal("1000")}])
    tier = Tier.objects.get(program=program)
    rule = EarningRule.objects.get(program=program)
    data = program_data(
        [{"id": rule.pk, "points_per_rupee": "1"}],
        [{"id": tier.pk, "name": "Gold", "threshold": "2000", "multiplier": "1.50"}],
        program_id=program.pk, initial_rules=1, initial_tiers=1, name="Club",
    )  # fmt: skip
    assert console.post(change_url(program), data).status_code == 302

    page = console.get(reverse("admin:loyalty_loyaltyprogram_history", args=[program.pk])).content.decode()

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert Tier.history.filter(id=tier.pk, history_user__email="root@example.com").exists()
    assert "Tier: Gold" in text and "root@example.com" in text
    assert "Threshold: 1000.00 → 2000.00" in text or "Threshold: 1000.00 → 2000" in text
    assert "Change reason" not in text


def test_an_analyst_sees_the_program_read_only_and_cannot_save(analyst_console):  # noqa: F811
    program = program_make(name="Keep", countries=["IN"])

    page = analyst_console.get(change_url(program))
    post = analyst_console.post(change_url(program), program_data([{"points_per_rupee": "1"}], name="Changed"))

    html = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in html and 'name="earning_rules-0-rule_type"' not in html
    assert "India" in html
    assert post.status_code == 403 and Campaign.objects.get().name == "Keep"


def _drawn(page: str, prefix: str) -> dict:
    """What a browser would post of the inputs named ``prefix...`` as the page drew them."""
    from html import unescape

    data: dict = {}
    for match in re.finditer(rf'<input([^>]*)name="({prefix}[^"]*)"([^>]*)>', page):
        attrs = match.group(1) + match.group(3)
        kind = re.search(r'type="(\w+)"', attrs)
        value = re.search(r'value="([^"]*)"', attrs)
        if kind and kind.group(1) in ("checkbox", "radio"):
            if "checked" in attrs:
                data.setdefault(match.group(2), []).append(unescape(value.group(1)) if value else "on")
            continue
        data[match.group(2)] = unescape(value.group(1)) if value else ""
    for name, body in re.findall(rf'<textarea[^>]*name="({prefix}[^"]*)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = unescape(body.strip("\n"))
    for name, options in re.findall(rf'<select[^>]*name="({prefix}[^"]*)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', options)
        data[name] = chosen[0] if chosen else (re.findall(r'<option value="([^"]*)"', options) or [""])[0]
    return data


def test_a_program_saved_with_its_settings_left_at_their_defaults_is_created(console):
    # A browser posts the settings row exactly as the add page drew it; Django's formset took the
    # untouched new row for no row and refused the page ("Please submit at least 1 form").
    drawn = _drawn(console.get(ADD).content.decode(), "loyalty_settings-")
    data = program_data([{"points_per_rupee": "1"}], name="Defaults club")
    data = {key: value for key, value in data.items() if not key.startswith("loyalty_settings-")}
    data.update(drawn)

    response = console.post(ADD, data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert Campaign.objects.filter(name="Defaults club").exists()
