"""Earning rules end to end: orders and logins come in through the commerce and auth APIs and
the ledger, balances and tiers are checked in the database."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from commerce.tests.factories import CategoryFactory, ProductFactory
from lms.errors import Conflict
from lms.testing import assert_error
from loyalty.models import LoyaltyAccount, PointsTransaction
from loyalty.services.ledger import points_adjust, points_redeem
from loyalty.services.tiers import tiers_reevaluate
from loyalty.services.upkeep import balances_check, points_expire
from loyalty.tests.factories import asha_account, change, ingest, order_for, program_make
from segments.models import CustomerMembership
from segments.tests.factories import StaticSegmentFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/commerce/orders/"
BULK = "/api/v1/commerce/orders/bulk"
EVENTS = "/api/v1/commerce/events/"
SIGNIN = "/api/v1/auth/signin"
ASHA = {"external_id": "C-ASHA", "email": "asha@example.com"}
RAVI = {"external_id": "C-RAVI", "email": "ravi@example.com"}


def rate(points_per_rupee: str, **extra) -> dict:
    return {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal(points_per_rupee), **extra}


def account_of(program, email: str = "asha@example.com") -> LoyaltyAccount | None:
    return LoyaltyAccount.objects.filter(program=program, customer__email=email).first()


def balance(program, email: str = "asha@example.com") -> int:
    account = account_of(program, email)
    return account.balance if account else 0


def earned(program, reference: str | None = None) -> list[tuple[str, int]]:
    rows = PointsTransaction.objects.filter(account__program=program, kind="EARN").order_by("id")
    if reference is not None:
        rows = rows.filter(reference=reference)
    return [(row.rule.rule_type if row.rule else "", row.points) for row in rows.select_related("rule")]


def ago(days: int) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


# --- POINTS_PER_RUPEE -----------------------------------------------------------------------------

# Items 2 x 250 + 1 x 200 = 700, shipping 50 and tax 18 never earn; the discount comes off.
ITEMS = [("A", 2, "250.00"), ("B", 1, "200.00")]


@pytest.mark.parametrize(
    ("rounding", "discount", "points"),
    [
        ("DOWN", "35.00", 332),  # 665.00 x 0.5 = 332.5
        ("NEAREST", "35.00", 333),  # half up
        ("UP", "35.00", 333),
        ("DOWN", "35.50", 332),  # 664.50 x 0.5 = 332.25
        ("NEAREST", "35.50", 332),
        ("UP", "35.50", 333),
    ],
)
def test_a_fractional_rate_earns_on_what_was_paid_for_the_items_rounded_per_rule(
    integration_client, rounding, discount, points
):
    program = program_make(rules=[rate("0.5", rounding=rounding)])

    ingest(integration_client, "O-1", lines=ITEMS, discount_total=discount, shipping="50.00", tax_total="18.00")

    assert earned(program) == [("POINTS_PER_RUPEE", points)]
    row = PointsTransaction.objects.get(kind="EARN")
    assert row.basis == Decimal("700.00") - Decimal(discount)
    assert row.remaining == points and row.balance_after == points and row.reference == "O-1"
    assert balance(program) == points
    assert account_of(program).lifetime_earned == points


def test_an_order_below_the_minimum_order_value_earns_nothing(integration_client):
    program = program_make(rules=[rate("1", min_order_value=Decimal("500.00"))])

    ingest(integration_client, "O-1", lines=[("A", 1, "499.00")], shipping="50.00")
    ingest(integration_client, "O-2", lines=[("A", 1, "500.00")])

    assert earned(program) == [("POINTS_PER_RUPEE", 500)]


def test_points_expire_after_the_programs_days_from_the_order(integration_client):
    program = program_make(settings={"expiry_days": 30})

    ingest(integration_client, "O-1", placed_at="2025-06-02T10:00:00Z")

    lot = PointsTransaction.objects.get(account__program=program)
    assert lot.expires_at == dt.datetime(2025, 7, 2, 10, 0, tzinfo=dt.UTC)


# --- CATEGORY_POINTS ---------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    footwear = CategoryFactory(name="Footwear")
    running = CategoryFactory(name="Running", parent=footwear)
    apparel = CategoryFactory(name="Apparel")
    return {
        "footwear": footwear,
        "running": running,
        "apparel": apparel,
        "boot": ProductFactory(sku="BOOT", category=footwear),
        "shoe": ProductFactory(sku="SHOE", category=running),
        "tee": ProductFactory(sku="TEE", category=apparel),
    }


def test_a_category_rule_overrides_the_base_rate_for_its_lines_and_their_sub_categories(integration_client, catalogue):
    program = program_make(
        rules=[
            rate("1"),
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("3"),
                "category_ids": [catalogue["footwear"].pk],
            },
        ]
    )

    ingest(
        integration_client,
        "O-1",
        lines=[("BOOT", 1, "1000.00"), ("SHOE", 1, "400.00"), ("TEE", 2, "250.00")],
    )

    assert sorted(earned(program)) == [("CATEGORY_POINTS", 4200), ("POINTS_PER_RUPEE", 500)]
    assert balance(program) == 4700
    category = PointsTransaction.objects.get(rule__rule_type="CATEGORY_POINTS")
    assert category.detail["lines"] == {"BOOT": "1000.00", "SHOE": "400.00"}


def test_the_highest_category_rate_wins_when_two_category_rules_match(integration_client, catalogue):
    program_make(
        rules=[
            rate("1"),
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("5"),
                "category_ids": [catalogue["running"].pk],
            },
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("3"),
                "category_ids": [catalogue["footwear"].pk],
            },
        ]
    )

    ingest(integration_client, "O-1", lines=[("SHOE", 1, "100.00"), ("BOOT", 1, "100.00")])

    rows = PointsTransaction.objects.filter(kind="EARN").select_related("rule")
    by_rate = {row.rule.points_per_rupee: (row.points, row.detail["lines"]) for row in rows}
    assert by_rate == {Decimal("5"): (500, {"SHOE": "100.00"}), Decimal("3"): (300, {"BOOT": "100.00"})}


def test_a_category_rule_alone_earns_nothing_on_other_lines(integration_client, catalogue):
    program = program_make(
        rules=[
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("2"),
                "category_ids": [catalogue["apparel"].pk],
            }
        ]
    )

    ingest(integration_client, "O-1", lines=[("SHOE", 1, "100.00"), ("TEE", 1, "100.00")])

    assert earned(program) == [("CATEGORY_POINTS", 200)]


def test_a_category_rule_below_its_minimum_leaves_its_lines_to_the_base_rate(integration_client, catalogue):
    program = program_make(
        rules=[
            rate("1"),
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("5"),
                "min_order_value": Decimal("5000.00"),
                "category_ids": [catalogue["footwear"].pk],
            },
        ]
    )

    ingest(integration_client, "O-1", lines=[("SHOE", 1, "1000.00"), ("TEE", 1, "100.00")])

    # The footwear bonus needs a 5000 order; below it the shoe still earns the base rate.
    assert earned(program) == [("POINTS_PER_RUPEE", 1100)]


# --- FIRST_PURCHASE_BONUS ----------------------------------------------------------------------


def test_a_fixed_first_purchase_bonus_is_given_on_the_first_order_only(integration_client):
    program = program_make(rules=[rate("1"), {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 250}])

    ingest(integration_client, "O-1", lines=[("A", 1, "100.00")], placed_at="2025-06-02T10:00:00Z")
    ingest(integration_client, "O-2", lines=[("A", 1, "100.00")], placed_at="2025-06-03T10:00:00Z")

    assert earned(program, "O-1") == [("POINTS_PER_RUPEE", 100), ("FIRST_PURCHASE_BONUS", 250)]
    assert earned(program, "O-2") == [("POINTS_PER_RUPEE", 100)]
    assert balance(program) == 450


def test_a_percent_first_purchase_bonus_is_a_share_of_what_was_paid_for_the_items(integration_client):
    program = program_make(
        rules=[{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_percent": Decimal("10"), "rounding": "DOWN"}]
    )

    ingest(integration_client, "O-1", lines=ITEMS, discount_total="35.00", shipping="50.00", tax_total="18.00")

    assert earned(program) == [("FIRST_PURCHASE_BONUS", 66)]  # 10% of 665.00 = 66.5, rounded down


def test_a_customer_who_ordered_before_the_program_gets_no_first_purchase_bonus(integration_client):
    program = program_make(
        starts_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
        rules=[rate("1"), {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 250}],
    )

    ingest(integration_client, "OLD", placed_at="2025-01-10T10:00:00Z")  # before the program: earns nothing
    ingest(integration_client, "NEW", lines=[("A", 1, "100.00")], placed_at="2025-06-02T10:00:00Z")

    assert earned(program) == [("POINTS_PER_RUPEE", 100)]
    assert balance(program) == 100


def test_a_first_order_back_filled_after_a_later_one_gets_no_bonus(integration_client):
    program = program_make(rules=[{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 250}])

    ingest(integration_client, "LATER", placed_at="2025-06-10T10:00:00Z")
    ingest(integration_client, "EARLIER", placed_at="2025-06-01T10:00:00Z")

    assert earned(program) == [("FIRST_PURCHASE_BONUS", 250)]
    assert balance(program) == 250


def test_the_first_purchase_bonus_is_given_once_even_for_two_orders_at_the_same_moment(integration_client):
    program = program_make(rules=[{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 250}])
    body = {"orders": [order_for(f"O-{n}", ASHA, placed_at="2025-06-02T10:00:00Z") for n in (1, 2)]}

    response = integration_client.post(BULK, body, format="json")

    assert response.status_code == 200, response.content
    assert earned(program) == [("FIRST_PURCHASE_BONUS", 250)]
    assert balance(program) == 250


def test_a_first_purchase_bonus_goes_to_each_new_customer(integration_client):
    program = program_make(rules=[{"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 250}])

    ingest(integration_client, "O-1", ASHA)
    ingest(integration_client, "O-2", RAVI)

    assert balance(program) == 250 and balance(program, "ravi@example.com") == 250


# --- DAILY_LOGIN_STREAK --------------------------------------------------------------------------

STREAK = {
    "rule_type": "DAILY_LOGIN_STREAK",
    "base_points": 10,
    "streak_steps": [{"days": 3, "multiplier": "2"}, {"days": 5, "multiplier": "3"}],
    "max_multiplier": Decimal("2.5"),
}


def login(client, at: str, who=ASHA):
    response = client.post(EVENTS, {"kind": "LOGIN", "customer": who, "occurred_at": at}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["rejected"] == 0, response.content
    return response


def login_awards(program) -> list[tuple[str, int, int]]:
    rows = PointsTransaction.objects.filter(account__program=program, source="LOGIN").order_by("occurred_at")
    return [(row.reference, row.points, row.detail["streak_days"]) for row in rows]


def test_a_sign_in_awards_the_days_login_points_once(api_client):
    program = program_make(rules=[STREAK])
    UserFactory(email="asha@example.com")
    credentials = {"email": "asha@example.com", "password": DEFAULT_PASSWORD}

    first = api_client.post(SIGNIN, credentials, format="json")
    second = api_client.post(SIGNIN, credentials, format="json")

    assert first.status_code == 200 and second.status_code == 200, (first.content, second.content)
    today = timezone.localtime(timezone.now(), dt.timezone(dt.timedelta(hours=5, minutes=30))).date()
    assert login_awards(program) == [(today.isoformat(), 10, 1)]
    account = account_of(program)
    assert (account.balance, account.streak_days, account.streak_last_day) == (10, 1, today)


@pytest.mark.parametrize("access", [{"is_staff": True}, {"role": "ADMIN"}, {"is_superuser": True, "role": "ADMIN"}])
def test_a_console_account_signing_in_is_not_enrolled_and_earns_nothing(api_client, access):
    # Staff and administrators are not loyalty members: their sign-ins open no account.
    program = program_make(rules=[STREAK])
    UserFactory(email="staff@example.com", **access)

    response = api_client.post(SIGNIN, {"email": "staff@example.com", "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    assert not LoyaltyAccount.objects.filter(program=program).exists()


def test_points_are_never_adjusted_onto_a_console_account():
    program = program_make()
    staff = UserFactory(email="staff@example.com", is_staff=True)

    with pytest.raises(Conflict) as refused:
        points_adjust(customer=staff, program_id=program.pk, points=100, reason="goodwill", by=None)

    assert refused.value.code == "customer_protected"
    assert not LoyaltyAccount.objects.filter(program=program).exists()


def test_the_seed_sign_in_route_awards_too(api_client):
    program = program_make(rules=[STREAK])
    UserFactory(email="asha@example.com")

    response = api_client.post(
        "/auth/signin", {"email": "asha@example.com", "password": DEFAULT_PASSWORD}, format="json"
    )

    assert response.status_code == 200, response.content
    assert balance(program) == 10


def test_a_failed_sign_in_awards_nothing(api_client):
    program = program_make(rules=[STREAK])
    UserFactory(email="asha@example.com")

    response = api_client.post(SIGNIN, {"email": "asha@example.com", "password": "wrong-password"}, format="json")

    assert response.status_code == 401, response.content
    assert balance(program) == 0


def test_login_days_are_the_programs_local_days(integration_client):
    program = program_make(rules=[STREAK])  # Asia/Kolkata, UTC+05:30

    login(integration_client, "2025-06-02T17:00:00Z")  # 22:30 on 2 June in Kolkata
    login(integration_client, "2025-06-02T20:00:00Z")  # 01:30 on 3 June: a new local day, same UTC day
    login(integration_client, "2025-06-03T10:00:00Z")  # 15:30 on 3 June: same local day as the last

    assert login_awards(program) == [("2025-06-02", 10, 1), ("2025-06-03", 10, 2)]
    assert balance(program) == 20


def test_a_streak_grows_the_multiplier_by_its_steps_up_to_the_cap_and_a_missed_day_resets_it(integration_client):
    program = program_make(rules=[STREAK])

    for day in (1, 2, 3, 4, 5, 6):
        login(integration_client, f"2025-06-0{day}T06:00:00Z")
    login(integration_client, "2025-06-08T06:00:00Z")  # the 7th was missed

    assert login_awards(program) == [
        ("2025-06-01", 10, 1),
        ("2025-06-02", 10, 2),
        ("2025-06-03", 20, 3),  # 3 days: x2
        ("2025-06-04", 20, 4),
        ("2025-06-05", 25, 5),  # 5 days: x3, capped at x2.5
        ("2025-06-06", 25, 6),
        ("2025-06-08", 10, 1),
    ]
    account = account_of(program)
    assert (account.balance, account.streak_days, account.streak_last_day) == (120, 1, dt.date(2025, 6, 8))


def test_a_batch_of_login_events_awards_each_local_day_in_order(integration_client):
    program = program_make(rules=[STREAK])
    events = [
        {"kind": "LOGIN", "customer": ASHA, "occurred_at": at}
        for at in ("2025-06-03T06:00:00Z", "2025-06-01T06:00:00Z", "2025-06-02T06:00:00Z", "2025-06-02T07:00:00Z")
    ]

    response = integration_client.post(EVENTS, {"events": events}, format="json")

    assert response.status_code == 200, response.content
    assert login_awards(program) == [("2025-06-01", 10, 1), ("2025-06-02", 10, 2), ("2025-06-03", 20, 3)]


def test_a_replayed_login_event_awards_nothing_more(integration_client):
    program = program_make(rules=[STREAK])
    body = {"kind": "LOGIN", "customer": ASHA, "occurred_at": "2025-06-01T06:00:00Z", "external_id": "EV-1"}

    integration_client.post(EVENTS, body, format="json")
    integration_client.post(EVENTS, body, format="json")
    login(integration_client, "2025-06-01T09:00:00Z")  # another login the same local day

    assert login_awards(program) == [("2025-06-01", 10, 1)]


def test_a_late_login_for_an_awarded_day_awards_nothing_and_keeps_the_streak(integration_client):
    program = program_make(rules=[STREAK])
    for day in (1, 2, 3):
        login(integration_client, f"2025-06-0{day}T06:00:00Z")

    login(integration_client, "2025-06-02T12:00:00Z")

    assert [reference for reference, _, _ in login_awards(program)] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    account = account_of(program)
    assert (account.streak_days, account.streak_last_day, account.balance) == (3, dt.date(2025, 6, 3), 40)


def test_a_late_login_for_a_missed_day_earns_the_base_points_and_leaves_the_streak(integration_client):
    program = program_make(rules=[STREAK])
    login(integration_client, "2025-06-01T06:00:00Z")
    login(integration_client, "2025-06-03T06:00:00Z")  # the 2nd missed: the streak restarts

    login(integration_client, "2025-06-02T06:00:00Z")  # the 2nd's login arrives late

    assert login_awards(program) == [("2025-06-01", 10, 1), ("2025-06-02", 10, 1), ("2025-06-03", 10, 1)]
    account = account_of(program)
    assert (account.streak_days, account.streak_last_day, account.balance) == (1, dt.date(2025, 6, 3), 30)


def test_login_points_count_toward_a_lifetime_tier(integration_client):
    program = program_make(
        rules=[{**STREAK, "base_points": 60, "streak_steps": []}],
        tiers=[{"name": "Regular", "threshold": Decimal("100"), "multiplier": Decimal("1.5")}],
    )

    login(integration_client, "2025-06-01T06:00:00Z")
    before = account_of(program).tier
    login(integration_client, "2025-06-02T06:00:00Z")

    assert before is None
    assert account_of(program).tier.name == "Regular"


def test_logins_before_the_program_starts_award_nothing(integration_client):
    program = program_make(rules=[STREAK], starts_at=dt.datetime(2025, 6, 10, tzinfo=dt.UTC))

    login(integration_client, "2025-06-05T06:00:00Z")

    assert balance(program) == 0


# --- When a program runs: judged on the order's placed_at, in the program's zone ---------------


def test_an_order_outside_the_daily_hours_earns_nothing(integration_client):
    program = program_make(daily_start=dt.time(9, 0), daily_end=dt.time(18, 0))

    ingest(integration_client, "IN-HOURS", placed_at="2025-06-02T10:00:00Z")  # 15:30 in Kolkata
    ingest(integration_client, "EVENING", placed_at="2025-06-02T13:00:00Z")  # 18:30 in Kolkata
    ingest(integration_client, "NIGHT", placed_at="2025-06-02T02:00:00Z")  # 07:30 in Kolkata

    assert [row.reference for row in PointsTransaction.objects.filter(account__program=program)] == ["IN-HOURS"]


def test_weekdays_are_judged_in_the_programs_zone(integration_client):
    program = program_make(weekdays=["MON"])

    # Sunday 19:00 UTC is Monday 00:30 in Kolkata; Monday 19:00 UTC is Tuesday there.
    ingest(integration_client, "SUN-UTC", placed_at="2025-06-01T19:00:00Z")
    ingest(integration_client, "MON-UTC", placed_at="2025-06-02T19:00:00Z")

    assert [row.reference for row in PointsTransaction.objects.filter(account__program=program)] == ["SUN-UTC"]


def test_orders_before_the_start_or_after_the_end_earn_nothing_even_when_ingested_now(integration_client):
    program = program_make(
        starts_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC), ends_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    )

    ingest(integration_client, "BEFORE", placed_at="2025-02-28T23:59:00Z")
    ingest(integration_client, "DURING", placed_at="2025-03-15T10:00:00Z")
    ingest(integration_client, "AFTER", placed_at="2025-04-01T00:01:00Z")

    assert [row.reference for row in PointsTransaction.objects.filter(account__program=program)] == ["DURING"]


def test_a_segments_audience_earns_for_its_members_only(integration_client):
    asha = UserFactory(email="asha@example.com")
    UserFactory(email="ravi@example.com")
    segment = StaticSegmentFactory()
    CustomerMembership.objects.create(segment=segment, customer=asha)
    program = program_make(audience="SEGMENTS", segment_ids=[segment.pk])

    ingest(integration_client, "O-1", ASHA)
    ingest(integration_client, "O-2", RAVI)

    assert balance(program) == 1000
    assert account_of(program, "ravi@example.com") is None


def test_a_geography_earns_for_orders_shipped_there_only(integration_client):
    program = program_make(countries=["IN"])

    ingest(integration_client, "HOME", shipping_country="IN")
    ingest(integration_client, "ABROAD", RAVI, shipping_country="US")
    ingest(integration_client, "NOWHERE", {"email": "mira@example.com"})

    assert balance(program) == 1000
    assert account_of(program, "ravi@example.com") is None
    assert account_of(program, "mira@example.com") is None


def test_a_geography_matches_the_shipping_country_without_regard_to_case(integration_client):
    program = program_make(countries=["IN"])

    ingest(integration_client, "HOME", shipping_country=" in ")

    assert balance(program) == 1000


def test_a_new_users_audience_earns_on_a_first_order_only(integration_client):
    program = program_make(audience="NEW_USERS")

    ingest(integration_client, "FIRST", placed_at="2025-06-01T10:00:00Z")
    ingest(integration_client, "SECOND", placed_at="2025-06-02T10:00:00Z")

    assert [row.reference for row in PointsTransaction.objects.filter(account__program=program)] == ["FIRST"]


def test_an_existing_users_audience_earns_from_the_second_order_on(integration_client):
    program = program_make(audience="EXISTING_USERS")

    ingest(integration_client, "FIRST", placed_at="2025-06-01T10:00:00Z")
    ingest(integration_client, "SECOND", placed_at="2025-06-02T10:00:00Z")

    assert [row.reference for row in PointsTransaction.objects.filter(account__program=program)] == ["SECOND"]


def test_states_and_cities_must_each_hold_the_shipping_address_without_regard_to_case(integration_client):
    program = program_make(countries=["IN"], states=["Karnataka"], cities=["Bengaluru", "Mysuru"])

    ingest(integration_client, "THERE", shipping_country="IN", shipping_state="karnataka", shipping_city=" MYSURU ")
    ingest(
        integration_client, "OTHER-CITY", RAVI, shipping_country="IN", shipping_state="Karnataka", shipping_city="Hubli"
    )
    ingest(integration_client, "OTHER-STATE", {"email": "mira@example.com"}, shipping_country="IN",
           shipping_state="Kerala", shipping_city="Bengaluru")  # fmt: skip

    assert balance(program) == 1000
    assert account_of(program, "ravi@example.com") is None
    assert account_of(program, "mira@example.com") is None


# --- Tiers ----------------------------------------------------------------------------------------

TIERS = [
    {"name": "Silver", "threshold": Decimal("0")},
    {"name": "Gold", "threshold": Decimal("1000"), "multiplier": Decimal("2")},
]


def test_lifetime_points_move_the_tier_up_at_once_and_its_multiplier_applies_to_the_next_order(integration_client):
    program = program_make(tiers=TIERS)

    ingest(integration_client, "O-1", lines=[("A", 1, "1000.00")], placed_at="2025-06-01T10:00:00Z")
    after_first = account_of(program)
    ingest(integration_client, "O-2", lines=[("A", 1, "100.00")], placed_at="2025-06-02T10:00:00Z")

    assert after_first.tier.name == "Gold" and after_first.tier_since is not None
    assert earned(program) == [("POINTS_PER_RUPEE", 1000), ("POINTS_PER_RUPEE", 200)]
    second = PointsTransaction.objects.get(reference="O-2")
    assert second.detail["multiplier"] == "2.00" and second.detail["tier"] == "Gold"
    assert balance(program) == 1200


def test_the_tier_multiplier_does_not_multiply_the_first_purchase_bonus(integration_client):
    program = program_make(
        rules=[rate("1"), {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 100}],
        tiers=[{"name": "Gold", "threshold": Decimal("0"), "multiplier": Decimal("3")}],
    )
    # A login-less adjustment puts the account in Gold before its first order.
    customer = UserFactory(email="asha@example.com")
    points_adjust(customer=customer, program_id=program.pk, points=1, reason="opening", by=None)
    tiers_reevaluate()

    ingest(integration_client, "O-1", lines=[("A", 1, "100.00")])

    assert earned(program, "O-1") == [("POINTS_PER_RUPEE", 300), ("FIRST_PURCHASE_BONUS", 100)]


def test_a_spend_basis_tier_counts_what_was_paid_in_the_window(integration_client):
    program = program_make(
        settings={"tier_basis": "SPEND", "tier_window_days": 365},
        tiers=[
            {"name": "Member", "threshold": Decimal("0")},
            {"name": "VIP", "threshold": Decimal("5000"), "multiplier": Decimal("2")},
        ],
    )

    ingest(integration_client, "OLD", lines=[("A", 1, "9000.00")], placed_at=ago(400))  # outside the window
    assert account_of(program).tier.name == "Member"
    ingest(integration_client, "BIG", lines=[("A", 1, "4000.00")], shipping="1000.00", placed_at=ago(10))
    ingest(integration_client, "NEXT", lines=[("A", 1, "100.00")], placed_at=ago(5))

    assert account_of(program).tier.name == "VIP"  # 4000 + 1000 shipping paid in the window
    assert earned(program, "BIG") == [("POINTS_PER_RUPEE", 4000)]
    assert earned(program, "NEXT") == [("POINTS_PER_RUPEE", 200)]


def test_reevaluation_moves_a_tier_down_after_a_cancel_took_the_points_back(integration_client):
    program = program_make(tiers=TIERS)
    ingest(integration_client, "O-1", lines=[("A", 1, "1500.00")])
    assert account_of(program).tier.name == "Gold"

    change(integration_client, "O-1", status="CANCELLED")
    still = account_of(program).tier.name
    report = tiers_reevaluate()

    assert still == "Gold"  # only the periodic re-evaluation moves a tier down
    account = account_of(program)
    assert (account.balance, account.lifetime_earned, account.tier.name) == (0, 0, "Silver")
    assert report == {"checked": 1, "changed": 1}


def test_reevaluation_moves_a_spend_tier_down_when_the_spend_leaves_the_window(admin_client, integration_client):
    program = program_make(
        settings={"tier_basis": "SPEND", "tier_window_days": 30},
        tiers=[{"name": "VIP", "threshold": Decimal("5000"), "multiplier": Decimal("2")}],
    )
    ingest(integration_client, "BIG", lines=[("A", 1, "6000.00")], placed_at=ago(20))
    assert account_of(program).tier.name == "VIP"
    assert tiers_reevaluate() == {"checked": 1, "changed": 0}

    # Narrowing the window to 10 days puts the order outside it, as 10 more days passing would.
    response = admin_client.patch(f"/api/v1/loyalty/programs/{program.pk}/", {"tier_window_days": 10}, format="json")
    assert response.status_code == 200, response.content
    report = tiers_reevaluate()

    assert account_of(program).tier is None
    assert report == {"checked": 1, "changed": 1}


def test_the_tiers_reevaluate_task_runs_the_reevaluation(integration_client):
    from loyalty.tasks import tiers_reevaluate_task

    program = program_make(tiers=TIERS)
    ingest(integration_client, "O-1", lines=[("A", 1, "1500.00")])
    change(integration_client, "O-1", status="CANCELLED")

    result = tiers_reevaluate_task.delay().get()

    assert result == {"checked": 1, "changed": 1}
    assert account_of(program).tier.name == "Silver"


# --- Refunds and cancels -------------------------------------------------------------------------


def reversals(program, reference: str) -> list[int]:
    rows = PointsTransaction.objects.filter(account__program=program, kind="REVERSAL", reference=reference)
    return [row.points for row in rows.order_by("id")]


def test_partial_refunds_reverse_in_proportion_to_the_refunded_units_and_the_rest_goes_on_the_full_refund(
    integration_client,
):
    program = program_make(rules=[rate("10"), {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_percent": Decimal("7")}])
    # Bases after the 40.00 discount: A 300 - 30 = 270, B 100 - 10 = 90; paid 360.
    ingest(integration_client, "O-1", lines=[("A", 3, "100.00"), ("B", 1, "100.00")], discount_total="40.00")
    assert earned(program) == [("POINTS_PER_RUPEE", 3600), ("FIRST_PURCHASE_BONUS", 25)]  # 7% of 360 = 25.2
    change(integration_client, "O-1", status="PAID")

    change(integration_client, "O-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}], change_id="R1")
    after_one = balance(program)
    change(integration_client, "O-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}], change_id="R2")
    after_two = balance(program)
    change(integration_client, "O-1", status="REFUNDED", change_id="R3")  # the rest

    # A third of A's basis (90 of 360): 900 of 3600 and 6 of 25 (25 x 90 / 360 = 6.25, down).
    assert after_one == 3625 - 900 - 6
    assert after_two == 3625 - 1800 - 12
    assert balance(program) == 0
    assert sum(reversals(program, "O-1")) == -3625
    account = account_of(program)
    assert account.lifetime_earned == 0
    assert balances_check() == []


def test_a_replayed_refund_reverses_once(integration_client):
    program = program_make(rules=[rate("10")])
    ingest(integration_client, "O-1", lines=[("A", 2, "100.00")])
    change(integration_client, "O-1", status="PAID")

    for _ in range(2):
        change(integration_client, "O-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}], change_id="R1")

    assert reversals(program, "O-1") == [-1000]
    assert balance(program) == 1000


def test_a_cancel_reverses_exactly_what_the_order_earned(integration_client):
    program = program_make(rules=[rate("0.33", rounding="UP")])
    ingest(integration_client, "KEEP", lines=[("A", 1, "100.00")], placed_at="2025-06-01T10:00:00Z")
    ingest(integration_client, "O-1", lines=[("A", 3, "33.33"), ("B", 1, "0.99")], placed_at="2025-06-02T10:00:00Z")
    earned_by_order = sum(points for _, points in earned(program, "O-1"))

    change(integration_client, "O-1", status="CANCELLED")

    assert sum(reversals(program, "O-1")) == -earned_by_order
    assert balance(program) == 33  # what KEEP earned stays
    assert balances_check() == []


def test_a_reversal_of_points_already_spent_takes_what_is_left_and_records_the_rest(integration_client):
    program = program_make(rules=[rate("1")])
    ingest(integration_client, "O-1", lines=[("A", 1, "1000.00")])
    customer = account_of(program).customer
    points_redeem(customer_id=customer.pk, program_id=program.pk, points=800, order_id="SPEND-1")

    change(integration_client, "O-1", status="CANCELLED")

    reversal = PointsTransaction.objects.get(kind="REVERSAL")
    assert reversal.points == -200
    assert (reversal.detail["due"], reversal.detail["unrecovered"]) == (1000, 800)
    assert balance(program) == 0
    assert balances_check() == []


def test_a_cancelled_orders_points_stop_counting_for_the_tier_even_when_already_spent(integration_client):
    program = program_make(rules=[rate("1")], tiers=TIERS)
    ingest(integration_client, "O-1", lines=[("A", 1, "1000.00")])
    points_redeem(customer_id=account_of(program).customer_id, program_id=program.pk, points=800, order_id="SPEND-1")

    change(integration_client, "O-1", status="CANCELLED")
    tiers_reevaluate()

    # The order was never paid for: none of its 1000 points were earned, spent or not.
    account = account_of(program)
    assert account.lifetime_earned == 0
    assert account.tier.name == "Silver"


def test_a_reversal_takes_the_orders_own_lot_first_then_the_oldest(integration_client):
    program = program_make(rules=[rate("1")])
    ingest(integration_client, "OLD", lines=[("A", 1, "300.00")], placed_at="2025-06-01T10:00:00Z")
    ingest(integration_client, "O-1", lines=[("A", 1, "500.00")], placed_at="2025-06-02T10:00:00Z")
    customer = account_of(program).customer
    points_redeem(
        customer_id=customer.pk, program_id=program.pk, points=400, order_id="SPEND-1"
    )  # 300 of OLD, 100 of O-1

    change(integration_client, "O-1", status="CANCELLED")

    reversal = PointsTransaction.objects.get(kind="REVERSAL")
    assert reversal.points == -400 and reversal.detail["unrecovered"] == 100
    assert balance(program) == 0
    lots = dict(PointsTransaction.objects.filter(kind="EARN").values_list("reference", "remaining"))
    assert lots == {"OLD": 0, "O-1": 0}


# --- Ingestion paths ------------------------------------------------------------------------------


def test_an_order_ingested_twice_earns_once(integration_client):
    program = program_make()

    first = ingest(integration_client, "O-1")
    again = ingest(integration_client, "O-1")

    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert earned(program) == [("POINTS_PER_RUPEE", 1000)]
    assert balance(program) == 1000


def test_an_order_ingested_again_with_another_body_is_refused_and_earns_nothing_more(integration_client):
    program = program_make()
    ingest(integration_client, "O-1")

    response = integration_client.post(ORDERS, order_for("O-1", ASHA, [("A", 1, "5000.00")]), format="json")

    assert_error(response, 409, "order_conflict")
    assert balance(program) == 1000


def test_orders_through_the_bulk_route_earn_each_and_a_repeated_one_once(integration_client):
    program = program_make()
    body = {
        "orders": [
            order_for("B-1", ASHA, [("A", 1, "100.00")], placed_at="2025-06-01T10:00:00Z"),
            order_for("B-2", RAVI, [("A", 1, "200.00")], placed_at="2025-06-01T11:00:00Z"),
            order_for("B-1", ASHA, [("A", 1, "100.00")], placed_at="2025-06-01T10:00:00Z"),
        ]
    }

    response = integration_client.post(BULK, body, format="json")
    again = integration_client.post(BULK, body, format="json")

    assert response.status_code == 200 and again.status_code == 200, (response.content, again.content)
    assert balance(program) == 100 and balance(program, "ravi@example.com") == 200
    assert PointsTransaction.objects.count() == 2


def test_an_order_in_another_currency_earns_no_rupee_points(integration_client):
    program = program_make()  # INR

    ingest(integration_client, "USD-1", lines=[("A", 1, "1000.00")], currency="USD")

    assert balance(program) == 0
    assert not PointsTransaction.objects.exists()


def test_an_order_earns_in_every_live_program(integration_client):
    first = program_make(name="One", rules=[rate("1")])
    second = program_make(name="Two", rules=[rate("2")])
    program_make(name="Off", status="INACTIVE")

    ingest(integration_client, "O-1", lines=[("A", 1, "100.00")])

    assert (balance(first), balance(second)) == (100, 200)
    assert LoyaltyAccount.objects.count() == 2


def test_an_order_ingested_already_cancelled_earns_nothing(integration_client):
    program = program_make()

    ingest(integration_client, "O-1", status="CANCELLED")

    assert balance(program) == 0 and not PointsTransaction.objects.exists()


# --- Late logins, reversals after spending, two spend tiers ---------------------------------------


FLAT_STREAK = {"rule_type": "DAILY_LOGIN_STREAK", "base_points": 10}


def test_two_late_logins_for_the_same_past_day_in_one_batch_award_that_day_once(integration_client):
    program = program_make(rules=[FLAT_STREAK])
    first = integration_client.post(
        EVENTS, {"kind": "LOGIN", "customer": ASHA, "occurred_at": "2025-06-05T06:00:00Z"}, format="json"
    )
    assert first.status_code == 200, first.content
    late = [
        {"kind": "LOGIN", "customer": ASHA, "occurred_at": at}
        for at in ("2025-06-03T06:00:00Z", "2025-06-03T07:00:00Z")  # the same Kolkata day, before the last
    ]

    response = integration_client.post(EVENTS, {"events": late}, format="json")

    assert response.status_code == 200, response.content
    rows = PointsTransaction.objects.filter(account__program=program, source="LOGIN").order_by("occurred_at")
    assert [(row.reference, row.points) for row in rows] == [("2025-06-03", 10), ("2025-06-05", 10)]
    assert asha_account(program).balance == 20


def test_a_batch_of_logins_takes_as_many_queries_for_many_customers_as_for_few(integration_client):
    program_make(rules=[FLAT_STREAK])

    def batch(tag: str, count: int) -> int:
        events = [
            {"kind": "LOGIN", "customer": {"email": f"{tag}{n}@example.com"}, "occurred_at": "2025-06-03T06:00:00Z"}
            for n in range(count)
        ]
        integration_client.post(EVENTS, {"events": events}, format="json")  # the customers now exist
        events = [{**event, "occurred_at": "2025-06-04T06:00:00Z"} for event in events]
        with CaptureQueriesContext(connection) as queries:
            response = integration_client.post(EVENTS, {"events": events}, format="json")
        assert response.status_code == 200, response.content
        return len(queries)

    few, many = batch("few", 2), batch("many", 12)

    assert PointsTransaction.objects.filter(source="LOGIN").count() == 28
    assert many == few


def test_refunding_the_rest_of_an_order_after_its_category_lines_were_refunded_and_spent_is_accepted(
    integration_client, customer
):
    footwear = CategoryFactory(name="Footwear")
    ProductFactory(sku="BOOT", category=footwear)
    ProductFactory(sku="TEE", category=CategoryFactory(name="Apparel"))
    program = program_make(
        rules=[
            rate("1"),
            {"rule_type": "CATEGORY_POINTS", "points_per_rupee": Decimal("2"), "category_ids": [footwear.pk]},
        ]
    )
    ingest(integration_client, "O-1", lines=[("BOOT", 1, "1000.00"), ("TEE", 1, "500.00")])
    change(integration_client, "O-1", status="PAID")
    account = asha_account(program)
    assert account.balance == 2500
    points_redeem(customer_id=account.customer.pk, program_id=program.pk, points=2500, order_id="CHK-ELSEWHERE")

    # Every unit of the category rule's lines back: its 2000 points are due, none can be taken.
    change(integration_client, "O-1", status="REFUNDED", refund_lines=[{"sku": "BOOT", "quantity": 1}], change_id="r1")
    # The last line back: the order is REFUNDED, a full reversal asks for what is still left.
    response = integration_client.patch(
        f"{ORDERS}O-1/",
        {"status": "REFUNDED", "refund_lines": [{"sku": "TEE", "quantity": 1}], "change_id": "r2"},
        format="json",
    )

    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert (account.balance, account.lifetime_earned) == (0, 0)
    assert balances_check() == []


def test_a_reversal_never_takes_points_past_their_date_so_the_customer_keeps_no_expired_points(integration_client):
    program = program_make(settings={"expiry_days": 365})
    ingest(integration_client, "O-1", lines=[("SKU-1", 1, "100.00")], placed_at=timezone.now().isoformat())
    change(integration_client, "O-1", status="PAID")
    # A lot that runs out in a few seconds (its order was placed almost a year ago).
    soon = timezone.now() - dt.timedelta(days=365) + dt.timedelta(seconds=3)
    ingest(integration_client, "O-OLD", lines=[("SKU-1", 1, "100.00")], placed_at=soon.isoformat())
    account = asha_account(program)
    fresh = points_adjust(customer=account.customer, program_id=program.pk, points=100, reason="goodwill", by=None)
    points_redeem(customer_id=account.customer.pk, program_id=program.pk, points=100, order_id="CHK-1")  # O-1's lot
    old_lot = PointsTransaction.objects.get(reference="O-OLD", kind="EARN")
    time.sleep(max((old_lot.expires_at - timezone.now()).total_seconds(), 0) + 0.2)

    change(integration_client, "O-1", status="CANCELLED")
    points_expire()

    account.refresh_from_db()
    fresh.refresh_from_db()
    # O-OLD's 100 points expired on their own; the cancel takes O-1's 100 back from the fresh lot.
    assert (account.balance, fresh.remaining) == (0, 0)
    assert PointsTransaction.objects.get(kind="EXPIRE", reverses=old_lot).points == -100


def test_an_order_counts_once_towards_the_spend_tier_of_each_of_two_programs_with_the_same_window(
    integration_client,
):
    spend = {"tier_basis": "SPEND", "tier_window_days": 365}
    tiers = [{"name": "Silver", "threshold": Decimal("0")}, {"name": "Gold", "threshold": Decimal("1500")}]
    first = program_make(name="First", settings=spend, tiers=tiers)
    second = program_make(name="Second", settings=spend, tiers=tiers)

    ingest(integration_client, "O-1", lines=[("SKU-1", 1, "1000.00")], placed_at=timezone.now().isoformat())

    # 1000 rupees spent: Silver in both programs (Gold starts at 1500).
    assert [asha_account(p).tier.name for p in (first, second)] == ["Silver", "Silver"]
