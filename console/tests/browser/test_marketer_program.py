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
from console.tests.browser.steps import (
    figures_row,
    fill_program,
    list_row,
    login,
    open_program,
    open_report,
    save_form,
    simulate,
    snapshot,
    success_message,
    switch_program_on,
)
from console.tests.browser.storefront import shop_order
from loyalty.models import LoyaltyProgram

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker, one Chromium

PRODUCT_SKU = "SKU-RUNNER"


def a_week_of_orders() -> None:
    asha, ravi, priya = (UserFactory(email=f"{name}@example.com", password=None) for name in ("asha", "ravi", "priya"))
    days_ago = lambda days: timezone.now() - dt.timedelta(days=days)  # noqa: E731
    for who, days, rupees in ((asha, 3, "500.00"), (ravi, 2, "300.00"), (asha, 1, "200.00")):
        OrderFactory(customer=who, placed_at=days_ago(days), lines=[(ProductFactory(price=Decimal(rupees)), 1)])
    OrderFactory(
        customer=priya, placed_at=days_ago(2), currency="USD", lines=[(ProductFactory(price=Decimal("40.00")), 1)]
    )


def test_a_marketer_creates_a_program_with_an_earning_rule_and_a_tier_and_simulates_it(
    page, marketer, integration_client
):
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
    open_program(page, "Shoe club")
    result = simulate(page, days=7)
    expect(result.get_by_test_id("simulate-points")).to_have_text("2,000")
    expect(result.get_by_test_id("simulate-points-value")).to_have_text("₹200.00")
    expect(result.get_by_test_id("simulate-customers")).to_have_text("2")
    expect(result.get_by_test_id("simulate-share")).to_have_text("75.0 %")
    expect(result.get_by_test_id("simulate-orders")).to_have_text("3 of 4 orders")
    expect(result.get_by_test_id("simulate-refused")).to_contain_text("another currency")
    snapshot(page, "program-simulation")

    # Switched on, the program earns on the shop's next order (the real API): ₹500 at 2 points
    # a rupee is 1,000 points, which its report shows.
    switch_program_on(page, "Shoe club")
    expect(list_row(page, "Shoe club")).to_contain_text("Active")
    shop_order(integration_client, order_id="WEB-2", email="asha@example.com", lines=[(PRODUCT_SKU, 1, "500.00")])
    open_program(page, "Shoe club")
    report = open_report(page, "program")
    expect(figures_row(page, "points-earned")).to_have_text(["1,000"])
    expect(figures_row(page, "program-members")).to_have_text(["1"])
    expect(figures_row(page, "program-outstanding")).to_have_text(["1,000"])
    expect(figures_row(page, "program-liability")).to_have_text(["₹100.00"])
    expect(report.get_by_test_id("rule-row")).to_contain_text("1,000")
    expect(report.get_by_test_id("tier-row")).to_contain_text("Gold")  # 1,000 points reach Gold
    expect(figures_row(page, "tier-row")).to_have_text(["1"])
    snapshot(page, "program-report")
