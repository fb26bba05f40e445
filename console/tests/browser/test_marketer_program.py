"""A Marketer in the browser creates a loyalty program with an earning rule and a tier, then
simulates it over the last week of orders.

The orders are few enough to check by hand, at 2 points a rupee (a point worth ₹0.10):

    customer  orders in the last week           points
    asha      ₹500, then ₹200                   1,000 + 400 (Gold after the first: ×1)
    ravi      ₹300                              600
    priya     $40 (another currency)            none

so 2,000 points worth ₹200.00, to 2 customers, on 3 of the week's 4 orders (75 %).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from commerce.tests.factories import OrderFactory, ProductFactory
from console.tests.browser.steps import fill_program, list_row, login, save_form, simulate, snapshot, success_message
from loyalty.models import LoyaltyProgram

pytestmark = pytest.mark.browser


def a_week_of_orders() -> None:
    asha, ravi, priya = (UserFactory(email=f"{name}@example.com", password=None) for name in ("asha", "ravi", "priya"))
    days_ago = lambda days: timezone.now() - dt.timedelta(days=days)  # noqa: E731
    for who, days, rupees in ((asha, 3, "500.00"), (ravi, 2, "300.00"), (asha, 1, "200.00")):
        OrderFactory(customer=who, placed_at=days_ago(days), lines=[(ProductFactory(price=Decimal(rupees)), 1)])
    OrderFactory(
        customer=priya, placed_at=days_ago(2), currency="USD", lines=[(ProductFactory(price=Decimal("40.00")), 1)]
    )


def test_a_marketer_creates_a_program_with_an_earning_rule_and_a_tier_and_simulates_it(page, marketer):
    a_week_of_orders()
    login(page, marketer)
    fill_program(page, name="Shoe club", points_per_rupee="2", tier="Gold", threshold="1000", expiry_days="365")
    snapshot(page, "program-form")
    save_form(page)
    success_message(page, "was added successfully")
    expect(list_row(page, "Shoe club")).to_be_visible()

    program = LoyaltyProgram.objects.get(name="Shoe club")
    rules = list(program.earning_rules.values_list("rule_type", "points_per_rupee"))
    assert rules == [("POINTS_PER_RUPEE", Decimal("2"))]
    assert list(program.loyalty_tiers.values_list("name", "threshold")) == [("Gold", 1000)]
    assert program.loyalty_settings.expiry_days == 365

    # Simulated while still switched off (see the table above).
    list_row(page, "Shoe club").get_by_role("link", name="Shoe club").click()
    result = simulate(page, days=7)
    expect(result.get_by_test_id("simulate-points")).to_have_text("2,000")
    expect(result.get_by_test_id("simulate-points-value")).to_have_text("₹200.00")
    expect(result.get_by_test_id("simulate-customers")).to_have_text("2")
    expect(result.get_by_test_id("simulate-share")).to_have_text("75.0 %")
    expect(result.get_by_test_id("simulate-orders")).to_have_text("3 of 4 orders")
    expect(result.get_by_test_id("simulate-refused")).to_contain_text("another currency")
    snapshot(page, "program-simulation")
