"""The marketer console for loyalty: the program form checked by the API's checks and saved
through the services, the liability figures, read-only accounts and ledger, and "Adjust points"."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CampaignKind
from commerce.tests.factories import CategoryFactory
from lms.testing import list_cells
from loyalty.models import EarningRule, LoyaltyAccount, PointsTransaction, ProgramSettings, Tier
from loyalty.services.ledger import points_adjust
from loyalty.tests.factories import order_for, program_make
from segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db

PROGRAMS = reverse("admin:loyalty_loyaltyprogram_changelist")
ADD = reverse("admin:loyalty_loyaltyprogram_add")
ACCOUNTS = reverse("admin:loyalty_loyaltyaccount_changelist")
TRANSACTIONS = reverse("admin:loyalty_pointstransaction_changelist")


# --- Form data ---------------------------------------------------------------------------------

SETTINGS = {"point_value": "0.25", "min_redeem_points": "100", "expiry_days": "365", "tier_basis": "LIFETIME_POINTS"}
RULE = {
    "rule_type": "POINTS_PER_RUPEE",
    "points_per_rupee": "",
    "rounding": "DOWN",
    "min_order_value": "",
    "bonus_points": "",
    "bonus_percent": "",
    "base_points": "",
    "max_multiplier": "",
}
TIER = {"name": "", "threshold": "", "multiplier": "1.00", "benefits": ""}


def _rows(prefix: str, rows: list[dict], defaults: dict, initial: int, program_id, max_num: int) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": str(max_num),
    }
    for index, row in enumerate(rows):
        row = {**defaults, "id": "", "program": program_id or "", **row}
        for number, (days, multiplier) in enumerate(row.pop("streak_steps", [])):  # the step rows' inputs
            data.update({f"{prefix}-{index}-streak_steps-{number}-days": days})
            data.update({f"{prefix}-{index}-streak_steps-{number}-multiplier": multiplier})
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def program_data(
    rules: list[dict],
    tiers: list[dict] = (),
    settings: dict | None = None,
    *,
    program_id: int | None = None,
    initial_rules: int = 0,
    initial_tiers: int = 0,
    **fields,
) -> dict:
    """The POST body of the program form with its settings, rule and tier rows."""
    data = {
        "name": "Rewards",
        "description": "",
        "status": "ACTIVE",
        "priority": "0",
        "currency": "INR",
        "starts_at_0": "2025-01-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "",
        "ends_at_1": "",
        "timezone": "Asia/Kolkata",
        "daily_start": "",
        "daily_end": "",
        "audience": "ALL",
        "countries": "",
        "states": "",
        "cities": "",
        "notify_title": "",
        "notify_body": "",
        "notify_image_url": "",
        "notify_cta_text": "",
        "notify_cta_url": "",
        **fields,
    }
    settings_row = {"tier_window_days": "", **SETTINGS, **(settings or {})}
    settings_row.pop("id", None)
    data.update(_rows("loyalty_settings", [settings_row], {}, 1 if program_id else 0, program_id, 1))
    data.pop("loyalty_settings-0-id")  # the settings' key is the program itself
    data.update(_rows("earning_rules", rules, RULE, initial_rules, program_id, 50))
    data.update(_rows("loyalty_tiers", list(tiers), TIER, initial_tiers, program_id, 20))
    return data


def change_url(program) -> str:
    return reverse("admin:loyalty_loyaltyprogram_change", args=[program.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def nothing_saved() -> bool:
    return not (
        Campaign.objects.exists()
        or ProgramSettings.objects.exists()
        or EarningRule.objects.exists()
        or Tier.objects.exists()
    )


def member(program, points: int, email: str | None = None) -> LoyaltyAccount:
    customer = UserFactory(**({"email": email} if email else {}))
    points_adjust(customer=customer, program_id=program.pk, points=points, reason="welcome", by=None)
    return LoyaltyAccount.objects.get(customer=customer, program=program)


# --- Adding and changing a program ---------------------------------------------------------------


def test_the_add_form_creates_a_program_with_settings_rules_and_tiers_through_the_service(console, root):
    shoes = CategoryFactory(name="Shoes")
    UserFactory(city="Pune")  # the city choices are the data's
    data = program_data(
        [
            {"points_per_rupee": "2"},
            {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "5", "categories": [shoes.pk]},
            {"rule_type": "DAILY_LOGIN_STREAK", "base_points": "10", "streak_steps": [("7", "2")]},
        ],
        [{"name": "Silver", "threshold": "0"}, {"name": "Gold", "threshold": "5000", "multiplier": "1.5"}],
        weekdays=["SAT", "MON"],
        cities="Pune, ",
    )

    response = console.post(ADD, data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    program = Campaign.objects.get()
    assert (program.kind, program.name, program.created_by) == (CampaignKind.LOYALTY_PROGRAM, "Rewards", root)
    assert (program.weekdays, program.cities) == (["MON", "SAT"], ["Pune"])
    settings = ProgramSettings.objects.get(program=program)
    assert (settings.point_value, settings.min_redeem_points, settings.expiry_days) == (Decimal("0.25"), 100, 365)
    rules = list(EarningRule.objects.filter(program=program).order_by("position"))
    assert [(r.rule_type, r.points_per_rupee, r.base_points) for r in rules] == [
        ("POINTS_PER_RUPEE", Decimal("2.0000"), None),
        ("CATEGORY_POINTS", Decimal("5.0000"), None),
        ("DAILY_LOGIN_STREAK", None, 10),
    ]
    assert list(rules[1].categories.all()) == [shoes]
    assert rules[2].streak_steps == [{"days": 7, "multiplier": "2"}]
    assert list(Tier.objects.filter(program=program).values_list("name", "threshold", "multiplier")) == [
        ("Silver", Decimal("0.00"), Decimal("1.00")),
        ("Gold", Decimal("5000.00"), Decimal("1.50")),
    ]


def test_the_add_page_renders_with_the_settings_and_one_empty_rule_and_tier_row(console):
    response = console.get(ADD)

    assert response.status_code == 200
    settings, rules, tiers = (inline.formset for inline in response.context["inline_admin_formsets"])
    assert [len(settings.forms), len(rules.forms), len(tiers.forms)] == [1, 1, 1]
    assert settings.forms[0]["point_value"].value() == Decimal("0.10")


def test_a_segments_audience_keeps_its_segments(console):
    vips = SegmentFactory(name="VIPs")

    response = console.post(ADD, program_data([{"points_per_rupee": "1"}], audience="SEGMENTS", segments=[vips.pk]))

    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert list(Campaign.objects.get().segments.all()) == [vips]


def test_the_program_pages_autocomplete_categories_and_segments(console):
    CategoryFactory(name="Shoes")
    SegmentFactory(name="Shoppers")
    autocomplete = reverse("admin:autocomplete")

    categories = console.get(
        autocomplete, {"app_label": "loyalty", "model_name": "earningrule", "field_name": "categories", "term": "sho"}
    )
    segments = console.get(
        autocomplete, {"app_label": "loyalty", "model_name": "loyaltyprogram", "field_name": "segments", "term": "sho"}
    )

    assert [r["text"] for r in categories.json()["results"]] == ["Shoes"]
    assert [r["text"] for r in segments.json()["results"]] == ["Shoppers"]


def _program_errors(response) -> dict:
    return response.context["adminform"].form.errors


def _row_errors(response, inline: int, row: int) -> dict:
    return response.context["inline_admin_formsets"][inline].formset.forms[row].errors


def _part_errors(response, inline: int) -> list[str]:
    return list(response.context["inline_admin_formsets"][inline].formset.non_form_errors())


@pytest.mark.parametrize(
    ("rules", "tiers", "settings", "fields", "where", "message"),
    [
        ([{"points_per_rupee": "0"}], [], {}, {}, ("rule", 0, "points_per_rupee"), "The rate is above zero."),
        (
            [{"points_per_rupee": "1"}],
            [{"name": "Silver", "threshold": "1000"}, {"name": "Gold", "threshold": "1000"}],
            {},
            {},
            ("tier", 1, "threshold"),
            "Tiers overlap: 'Silver' and 'Gold' both start at 1000",
        ),
        (
            [{"points_per_rupee": "1"}],
            [{"name": "Silver", "threshold": "0", "multiplier": "2"}, {"name": "Gold", "threshold": "10"}],
            {},
            {},
            ("tier", 1, "multiplier"),
            "A higher tier never earns less than 'Silver'.",
        ),
        (
            [{"points_per_rupee": "1"}],
            [{"name": "Gold", "threshold": "0"}, {"name": "gold", "threshold": "10"}],
            {},
            {},
            ("tier", 1, "name"),
            "Two tiers are called 'gold'",
        ),
        ([{"points_per_rupee": "1"}], [], {"point_value": "0"}, {}, ("settings", 0, "point_value"), "more than zero"),
        (
            [{"points_per_rupee": "1"}],
            [],
            {"tier_basis": "SPEND"},
            {},
            ("settings", 0, "tier_window_days"),
            "needs its rolling window",
        ),
        (
            [{"points_per_rupee": "1"}, {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "2"}],
            [],
            {},
            {},
            ("rule", 1, "categories"),
            "A “Category points per rupee” rule names at least one category.",
        ),
        (
            [{"points_per_rupee": "1"}, {"points_per_rupee": "2"}],
            [],
            {},
            {},
            ("rule", 1, "rule_type"),
            "A program has one “Points per rupee spent” rule (Rule 1).",
        ),
        (
            [{"rule_type": "DAILY_LOGIN_STREAK", "base_points": "5", "streak_steps": [("7", "")]}],
            [],
            {},
            {},
            ("rule", 0, "streak_steps"),
            "Step 1: give the points ×.",
        ),
        (
            [{"rule_type": "DAILY_LOGIN_STREAK", "base_points": "5", "streak_steps": [("1", "2")]}],
            [],
            {},
            {},
            ("rule", 0, "streak_steps"),
            "Streak step 1, days: A step starts at a streak of 2 days or more.",
        ),
        ([{"points_per_rupee": "1"}], [], {}, {"timezone": "Mars/Olympus"}, ("program", "timezone"), "IANA"),
        (
            [{"points_per_rupee": "1"}],
            [],
            {},
            {"audience": "SEGMENTS"},
            ("program", "segments"),
            "at least one segment",
        ),
    ],
    ids=[
        "zero-rate",
        "overlapping-tiers",
        "higher-tier-earning-less",
        "tiers-with-one-name",
        "zero-point-value",
        "spend-basis-without-window",
        "category-rule-without-category",
        "two-points-per-rupee-rules",
        "malformed-streak-step",
        "one-day-streak-step",
        "bad-timezone",
        "segments-audience-without-segments",
    ],
)
def test_a_bad_program_shows_the_error_on_its_field_and_saves_nothing(
    console, rules, tiers, settings, fields, where, message
):
    response = console.post(ADD, program_data(rules, tiers, settings, **fields))

    assert response.status_code == 200
    inline = {"settings": 0, "rule": 1, "tier": 2}
    errors = _program_errors(response) if where[0] == "program" else _row_errors(response, inline[where[0]], where[1])
    assert any(message in text for text in errors[where[-1]]), errors
    assert nothing_saved()


def test_a_program_without_rules_is_refused_on_the_rules(console):
    response = console.post(ADD, program_data([], [{"name": "Silver", "threshold": "0"}]))

    assert response.status_code == 200
    assert _part_errors(response, 1) == ["A program needs at least one earning rule."]
    assert any("Nothing was saved" in message for message in _part_errors(response, 2))
    assert nothing_saved()


def test_the_change_form_updates_the_settings_and_tiers_and_keeps_unchanged_rules(console):
    program = program_make(
        rules=[{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("1")}],
        tiers=[{"name": "Silver", "threshold": Decimal("0")}],
    )
    rule, silver = EarningRule.objects.get(program=program), Tier.objects.get(program=program)
    data = program_data(
        [{"id": rule.pk, "points_per_rupee": "1.0000"}],
        [
            {"id": silver.pk, "name": "Silver", "threshold": "0.00"},
            {"name": "Gold", "threshold": "1000", "multiplier": "2"},
        ],
        {"point_value": "0.50"},
        program_id=program.pk,
        initial_rules=1,
        initial_tiers=1,
        name="Rewards+",
    )

    response = console.post(change_url(program), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    program.refresh_from_db()
    assert program.name == "Rewards+"
    assert ProgramSettings.objects.get(program=program).point_value == Decimal("0.5000")
    assert list(EarningRule.objects.filter(program=program).values_list("pk", flat=True)) == [rule.pk]
    assert list(Tier.objects.filter(program=program).values_list("pk", "name")) == [
        (silver.pk, "Silver"),
        (Tier.objects.get(name="Gold").pk, "Gold"),
    ]


def test_the_change_form_replaces_changed_rules(console):
    program = program_make()
    rule = EarningRule.objects.get(program=program)
    data = program_data(
        [{"id": rule.pk, "points_per_rupee": "3"}, {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": "50"}],
        program_id=program.pk,
        initial_rules=1,
    )

    response = console.post(change_url(program), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert list(
        EarningRule.objects.filter(program=program)
        .order_by("position")
        .values_list("rule_type", "points_per_rupee", "bonus_points")
    ) == [("POINTS_PER_RUPEE", Decimal("3.0000"), None), ("FIRST_PURCHASE_BONUS", None, 50)]


def test_a_bad_change_keeps_the_stored_program(console):
    program = program_make(tiers=[{"name": "Silver", "threshold": Decimal("0")}])
    rule, silver = EarningRule.objects.get(program=program), Tier.objects.get(program=program)
    data = program_data(
        [{"id": rule.pk, "points_per_rupee": "0"}],
        [{"id": silver.pk, "name": "Silver", "threshold": "0"}, {"name": "Gold", "threshold": "0"}],
        program_id=program.pk,
        initial_rules=1,
        initial_tiers=1,
        name="Renamed",
    )

    response = console.post(change_url(program), data)

    assert response.status_code == 200
    assert _row_errors(response, 1, 0)["points_per_rupee"] == ["The rate is above zero."]
    program.refresh_from_db()
    assert program.name == "Rewards"
    assert EarningRule.objects.get(program=program).points_per_rupee == Decimal("1.0000")
    assert list(Tier.objects.filter(program=program).values_list("name", flat=True)) == ["Silver"]


def test_the_change_page_shows_the_programs_liability_and_links_its_accounts(console):
    program = program_make(settings={"point_value": Decimal("0.10")})
    member(program, 1500)

    page = console.get(change_url(program)).content.decode()

    assert "1 member(s) hold 1,500 points, worth ₹150.00" in page
    assert f"{ACCOUNTS}?program__id__exact={program.pk}" in page


def test_the_program_list_is_not_the_campaign_list(console):
    program = program_make(name="Rewards")

    programs = console.get(PROGRAMS)
    campaigns = console.get(reverse("admin:campaigns_campaign_changelist"))

    assert [p.pk for p in programs.context["cl"].result_list] == [program.pk]
    assert list(campaigns.context["cl"].result_list) == []


# --- The list and its liability ------------------------------------------------------------------


def test_the_list_shows_members_outstanding_points_and_their_value_with_a_summary(console):
    rewards = program_make(name="Rewards", settings={"point_value": Decimal("0.10")})
    club = program_make(name="Club", settings={"point_value": Decimal("0.50")})
    program_make(name="Empty")
    member(rewards, 1000)
    member(rewards, 250)
    member(club, 40)

    response = console.get(PROGRAMS)

    rows = {p.name: p.liability_figures for p in response.context["cl"].result_list}
    assert rows["Rewards"] == {
        "members": 2,
        "outstanding_points": 1250,
        "pending_points": 0,
        "outstanding_value": Decimal("125.00"),
    }
    assert rows["Club"] == {
        "members": 1,
        "outstanding_points": 40,
        "pending_points": 0,
        "outstanding_value": Decimal("20.00"),
    }
    assert rows["Empty"]["members"] == 0
    summary = response.context["cl"].liability
    assert [(line.name, line.points_text, line.value_text) for line in summary.lines] == [
        ("Rewards", "1,250", "₹125.00"),
        ("Club", "40", "₹20.00"),
    ]
    page = response.content.decode()
    assert "₹145.00" in page and "1,290" in page  # the totals
    assert "₹125.00" in list_cells(page, "outstanding_value")


def test_the_program_list_answers_in_the_same_queries_for_2_or_10_members(console, django_assert_max_num_queries):
    programs = [program_make(name=f"Program {n}") for n in range(2)]
    for program in programs:
        member(program, 100)
    with CaptureQueriesContext(connection) as few:
        console.get(PROGRAMS)
    programs += [program_make(name=f"Program {n}") for n in range(2, 5)]
    for program in programs:
        for _ in range(2):
            member(program, 10)

    with django_assert_max_num_queries(len(few)):
        response = console.get(PROGRAMS)

    assert response.context["cl"].result_count == 5
    assert sum(line.members for line in response.context["cl"].liability.lines) == 12


# --- Program actions ------------------------------------------------------------------------------


def action(console, url: str, name: str, objects, follow: bool = False, **extra):
    return console.post(url, {"action": name, "_selected_action": [o.pk for o in objects], **extra}, follow=follow)


def test_switch_off_and_on_go_through_the_service(console):
    on, off = program_make(name="On"), program_make(name="Off", status="INACTIVE")

    action(console, PROGRAMS, "deactivate", [on])
    action(console, PROGRAMS, "activate", [off])

    assert Campaign.objects.get(pk=on.pk).status == "INACTIVE"
    assert Campaign.objects.get(pk=off.pk).status == "ACTIVE"


def test_delete_asks_first_then_archives_a_program_with_members_and_deletes_the_other(console):
    joined, empty = program_make(name="Joined"), program_make(name="Empty")
    member(joined, 10)

    confirm = action(console, PROGRAMS, "delete_or_archive", [joined, empty])
    done = action(console, PROGRAMS, "delete_or_archive", [joined, empty], follow=True, post="yes")

    assert "will be archived" in confirm.content.decode()
    assert not Campaign.objects.filter(pk=empty.pk).exists()
    assert not EarningRule.objects.filter(program_id=empty.pk).exists()
    kept = Campaign.objects.get(pk=joined.pk)
    assert (kept.archived, kept.status) == (True, "INACTIVE")
    assert LoyaltyAccount.objects.filter(program=joined, balance=10).exists()
    shown = messages_of(done)
    assert "Deleted: Empty." in shown and any("Archived, not deleted" in m and "Joined" in m for m in shown)


def test_the_delete_page_archives_a_program_with_members(console):
    program = program_make()
    member(program, 10)
    delete = reverse("admin:loyalty_loyaltyprogram_delete", args=[program.pk])

    confirm = console.get(delete)
    done = console.post(delete, {"post": "yes"}, follow=True)

    assert "it has members, so it will be archived" in confirm.content.decode()
    assert Campaign.objects.get(pk=program.pk).archived is True
    assert any("archived, not deleted" in m for m in messages_of(done))
    assert console.post(change_url(program), program_data([{"points_per_rupee": "2"}])).status_code == 403


def test_the_history_page_shows_who_changed_what(console):
    program = program_make(name="Before")
    rule = EarningRule.objects.get(program=program)
    data = program_data(
        [{"id": rule.pk, "points_per_rupee": "1"}], program_id=program.pk, initial_rules=1, name="After"
    )
    assert console.post(change_url(program), data).status_code == 302

    response = console.get(reverse("admin:loyalty_loyaltyprogram_history", args=[program.pk]))

    page = response.content.decode()
    assert response.status_code == 200 and "root@example.com" in page
    assert "Before" in page and "After" in page  # the name's change, old and new
    assert "Change reason" not in page and "None" not in page


# --- Accounts -------------------------------------------------------------------------------------


def test_the_account_list_shows_balances_and_searches_and_filters(console):
    rewards = program_make(name="Rewards", tiers=[{"name": "Gold", "threshold": Decimal("0")}])
    club = program_make(name="Club")
    asha = member(rewards, 500, email="asha@example.com")
    member(club, 70, email="ravi@example.com")
    User.objects.filter(pk=asha.customer_id).update(external_id="C-42")
    LoyaltyAccount.objects.filter(pk=asha.pk).update(tier=Tier.objects.get(program=rewards), streak_days=4)

    by_email = console.get(ACCOUNTS, {"q": "ASHA@example.com"})
    by_external_id = console.get(ACCOUNTS, {"q": "C-42"})
    by_program = console.get(ACCOUNTS, {"program__id__exact": club.pk})
    by_tier = console.get(ACCOUNTS, {"tier__id__exact": Tier.objects.get(program=rewards).pk})

    assert [a.pk for a in by_email.context["cl"].result_list] == [asha.pk]
    assert [a.pk for a in by_external_id.context["cl"].result_list] == [asha.pk]
    assert [a.program_id for a in by_program.context["cl"].result_list] == [club.pk]
    assert [a.pk for a in by_tier.context["cl"].result_list] == [asha.pk]
    page = by_email.content.decode()
    assert list_cells(page, "balance") == ["500"] and "₹50.00" in page and "Rewards: Gold" in page


def test_the_account_and_program_lists_show_pending_points_beside_the_balance(console, integration_client):
    program = program_make(settings={"hold_days": 30})
    member(program, 40, email="asha@example.com")
    placed = (timezone.now() - dt.timedelta(days=1)).isoformat()
    body = order_for("O-1", {"email": "asha@example.com"}, [("TEE", 1, "250.00")], placed_at=placed)
    assert integration_client.post("/api/v1/commerce/orders/", body, format="json").status_code == 201

    accounts = console.get(ACCOUNTS).content.decode()
    programs = console.get(PROGRAMS)

    assert list_cells(accounts, "balance") == ["290"]
    assert list_cells(accounts, "pending_points") == ["250"]
    [row] = programs.context["cl"].result_list
    assert (row.liability_figures["outstanding_points"], row.liability_figures["pending_points"]) == (290, 250)


def test_the_change_form_sets_a_hold_until_fulfilment(console):
    program = program_make()
    rule = EarningRule.objects.get(program=program)
    data = program_data(
        [{"id": rule.pk, "points_per_rupee": "1.0000"}],
        [],
        {"hold_until_fulfilled": "on", "return_window_days": "7"},
        program_id=program.pk,
        initial_rules=1,
    )

    response = console.post(change_url(program), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    stored = ProgramSettings.objects.get(program=program)
    assert (stored.hold_days, stored.hold_until_fulfilled, stored.return_window_days) == (0, True, 7)


def test_the_account_list_answers_in_the_same_queries_for_2_or_10_accounts(console, django_assert_max_num_queries):
    program = program_make(tiers=[{"name": "Silver", "threshold": Decimal("0")}])
    for _ in range(2):
        member(program, 10)
    LoyaltyAccount.objects.update(tier=Tier.objects.get())
    with CaptureQueriesContext(connection) as two:
        console.get(ACCOUNTS)
    for _ in range(8):
        member(program, 10)
    LoyaltyAccount.objects.update(tier=Tier.objects.get())

    with django_assert_max_num_queries(len(two)):
        response = console.get(ACCOUNTS)

    assert response.context["cl"].result_count == 10


def test_an_account_is_read_only(console):
    account = member(program_make(), 100)
    change = reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk])

    page = console.get(change)
    post = console.post(change, {"balance": "1000000"})
    add = console.get(reverse("admin:loyalty_loyaltyaccount_add"))
    delete = console.post(reverse("admin:loyalty_loyaltyaccount_delete", args=[account.pk]), {"post": "yes"})
    actions = [name for name, _ in console.get(ACCOUNTS).context["action_form"].fields["action"].choices]

    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert (post.status_code, add.status_code, delete.status_code) == (403, 403, 403)
    assert actions == ["", "adjust_points"]
    assert LoyaltyAccount.objects.get(pk=account.pk).balance == 100


def test_the_account_page_shows_the_latest_transactions_and_links_them_all(console):
    account = member(program_make(), 100)
    for number in range(55):
        points_adjust(customer=account.customer, program_id=account.program_id, points=1, reason=f"r{number}", by=None)

    response = console.get(reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk]))

    shown = [form.instance for form in response.context["inline_admin_formsets"][0].formset.forms]
    newest = list(PointsTransaction.objects.filter(account=account).order_by("-id")[:50])
    assert shown == newest
    page = response.content.decode()
    assert f"{TRANSACTIONS}?account__id__exact={account.pk}" in page and "All 56 transaction(s)" in page
    assert reverse("admin:loyalty_loyaltyaccount_adjust", args=[account.pk]) in page


# --- Adjust points --------------------------------------------------------------------------------


def adjust(console, accounts, follow: bool = True, **fields):
    body = {"apply": "1", "token": "t-1", **fields}
    return action(console, ACCOUNTS, "adjust_points", accounts, follow=follow, **body)


def test_adjust_asks_for_points_and_a_reason_first(console):
    account = member(program_make(), 100)

    response = action(console, ACCOUNTS, "adjust_points", [account])

    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"points", "reason", "token"}
    assert response.context["form"]["token"].value()  # a fresh key for this page
    assert PointsTransaction.objects.filter(kind="ADJUST").count() == 1  # the welcome points only


def test_adjust_with_a_reason_records_an_adjust_transaction_by_the_marketer(console, root):
    program = program_make()
    first, second = member(program, 100), member(program, 5)

    response = adjust(console, [first, second], points="-20", reason="  Goodwill correction ", token="page-1")

    assert any(m.startswith("Adjusted by -20 points:") for m in messages_of(response)), messages_of(response)
    rows = PointsTransaction.objects.filter(kind="ADJUST", created_by=root)
    assert list(rows.values_list("account_id", "points", "balance_after", "reason", "source")) == [
        (first.pk, -20, 80, "Goodwill correction", "ADMIN")
    ]
    assert LoyaltyAccount.objects.get(pk=first.pk).balance == 80
    assert any("The balance is 5 points; 20 cannot be taken." in m for m in messages_of(response))
    assert LoyaltyAccount.objects.get(pk=second.pk).balance == 5


def test_adjust_without_a_reason_is_refused_and_writes_nothing(console):
    account = member(program_make(), 100)

    response = adjust(console, [account], points="50", reason="   ")

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["Say why the points are adjusted."]
    assert PointsTransaction.objects.filter(created_by__isnull=False).count() == 0
    assert LoyaltyAccount.objects.get(pk=account.pk).balance == 100


def test_adjust_by_zero_points_is_refused(console):
    account = member(program_make(), 100)

    response = adjust(console, [account], points="0", reason="nothing")

    assert response.context["form"].errors["points"] == ["Adjust by a number of points other than zero."]
    assert PointsTransaction.objects.count() == 1


def test_a_debit_above_the_balance_shows_the_error_and_writes_nothing(console):
    account = member(program_make(), 30)

    response = adjust(console, [account], points="-31", reason="fraud")

    assert response.redirect_chain == [(ACCOUNTS, 302)]
    assert any(
        m.startswith("Not adjusted:") and "The balance is 30 points; 31 cannot be taken." in m
        for m in messages_of(response)
    )
    assert PointsTransaction.objects.filter(kind="ADJUST", points__lt=0).count() == 0
    assert LoyaltyAccount.objects.get(pk=account.pk).balance == 30


def test_the_same_adjust_page_posted_twice_adjusts_once(console):
    account = member(program_make(), 100)

    adjust(console, [account], points="25", reason="birthday", token="page-7")
    adjust(console, [account], points="25", reason="birthday", token="page-7")

    assert LoyaltyAccount.objects.get(pk=account.pk).balance == 125
    assert PointsTransaction.objects.filter(account=account, reason="birthday").count() == 1


def test_the_account_page_adjusts_its_account(console, root):
    account = member(program_make(), 100)
    url = reverse("admin:loyalty_loyaltyaccount_adjust", args=[account.pk])

    form = console.get(url)
    done = console.post(url, {"points": "15", "reason": "late delivery", "token": "x-1"}, follow=True)

    assert form.status_code == 200 and "Adjust points" in form.content.decode()
    assert done.redirect_chain == [(reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk]), 302)]
    assert PointsTransaction.objects.filter(account=account, points=15, created_by=root).exists()
    assert LoyaltyAccount.objects.get(pk=account.pk).balance == 115


def test_a_staff_user_who_may_only_view_accounts_cannot_adjust(client):
    account = member(program_make(), 100)
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_loyaltyaccount"))
    client.force_login(viewer)

    action_form = client.get(ACCOUNTS).context["action_form"]
    page = client.get(reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk])).content.decode()
    post = client.post(
        reverse("admin:loyalty_loyaltyaccount_adjust", args=[account.pk]),
        {"points": "15", "reason": "x", "token": "v"},
    )

    assert action_form is None  # no action is left to offer
    assert "Adjust points" not in page
    assert post.status_code == 403
    assert LoyaltyAccount.objects.get(pk=account.pk).balance == 100


# --- The ledger -----------------------------------------------------------------------------------


def test_the_transaction_list_is_read_only(console):
    account = member(program_make(), 100)
    row = PointsTransaction.objects.get(account=account)

    add = console.get(reverse("admin:loyalty_pointstransaction_add"))
    change = console.post(reverse("admin:loyalty_pointstransaction_change", args=[row.pk]), {"points": "5"})
    delete = console.post(reverse("admin:loyalty_pointstransaction_delete", args=[row.pk]), {"post": "yes"})
    action_form = console.get(TRANSACTIONS).context["action_form"]

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert action_form is None  # not even "delete selected"
    assert PointsTransaction.objects.get(pk=row.pk).points == 100


def test_the_transaction_list_filters_and_searches(console):
    rewards, club = program_make(name="Rewards"), program_make(name="Club")
    asha = member(rewards, 100, email="asha@example.com")
    member(club, 30, email="ravi@example.com")
    points_adjust(customer=asha.customer, program_id=rewards.pk, points=-10, reason="fix", by=None)

    by_email = console.get(TRANSACTIONS, {"q": "Asha@example.com"})
    by_program = console.get(TRANSACTIONS, {"account__program__id__exact": club.pk})
    by_kind = console.get(TRANSACTIONS, {"kind__exact": "ADJUST", "source__exact": "ADMIN"})
    by_account = console.get(TRANSACTIONS, {"account__id__exact": asha.pk})
    by_year = console.get(TRANSACTIONS, {"occurred_at__year": "1999"})

    assert [t.points for t in by_email.context["cl"].result_list] == [-10, 100]
    assert [t.points for t in by_program.context["cl"].result_list] == [30]
    assert by_kind.context["cl"].result_count == 3
    assert [t.points for t in by_account.context["cl"].result_list] == [-10, 100]
    assert by_year.context["cl"].result_count == 0


def test_the_transaction_list_answers_in_the_same_queries_for_2_or_10_rows(console, django_assert_max_num_queries):
    program = program_make()
    for _ in range(2):
        member(program, 10)
    with CaptureQueriesContext(connection) as two:
        console.get(TRANSACTIONS)
    for _ in range(8):
        member(program, 10)

    with django_assert_max_num_queries(len(two)):
        response = console.get(TRANSACTIONS)

    assert response.context["cl"].result_count == 10
