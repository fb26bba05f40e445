"""A Marketer in the browser, end to end: builds a customer segment in the criteria builder
(the live count matches the data), aims a category campaign at it, generates codes, tests a
cart, simulates the campaign over the last week of orders, switches it on and sees the
announcement reach the segment's members only.

The data is small enough to check by hand. Shoes ₹500 and shirts ₹300; the campaign takes
10 % off shoes for the segment "Pune buyers" (city Pune, at least one order in the last 30 days):

    customer  city    orders in the last week                 in the segment  simulated
    asha      Pune    2 shoes + 1 shirt (₹1,300)              yes             ₹100 off
    ravi      Pune    1 shoe (₹500); 1 shirt (₹300)           yes             ₹50 off; no shoes
    priya     Mumbai  1 shoe (₹500)                           no (city)       not in the segment
    kiran     Pune    none                                    no (no order)   -

so the segment has 2 members, and the simulation 2 redemptions costing ₹150.00 from 2 customers,
on 2 of the week's 4 orders (50 %).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from campaigns.models import Audience, Campaign, CouponCode
from commerce.tests.factories import CategoryFactory, OrderFactory, ProductFactory
from console.tests.browser.steps import (
    assign_codes,
    builder_condition,
    builder_count,
    figures_row,
    fill_category_campaign,
    generate_codes,
    list_row,
    login,
    open_campaign,
    open_from_sidebar,
    open_report,
    save_form,
    simulate,
    snapshot,
    start_segment,
    success_message,
    switch_on,
    target_segment,
    try_live_cart,
)
from console.tests.browser.storefront import shop_checkout
from notifications.models import Delivery
from segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker, one Chromium


def customer(email: str, city: str):
    return UserFactory(email=email, first_name=email.split("@")[0].title(), city=city, password=None)


def shoppers_with_a_week_of_orders() -> None:
    shoes, shirts = CategoryFactory(name="Shoes"), CategoryFactory(name="Shirts")
    shoe = ProductFactory(sku="SKU-SHOE", name="Runner", category=shoes, price=Decimal("500.00"))
    shirt = ProductFactory(sku="SKU-SHIRT", name="Tee", category=shirts, price=Decimal("300.00"))
    asha, ravi = customer("asha@example.com", "Pune"), customer("ravi@example.com", "Pune")
    priya = customer("priya@example.com", "Mumbai")
    customer("kiran@example.com", "Pune")
    days_ago = lambda days: timezone.now() - dt.timedelta(days=days)  # noqa: E731
    OrderFactory(customer=asha, placed_at=days_ago(3), lines=[(shoe, 2), (shirt, 1)])
    OrderFactory(customer=ravi, placed_at=days_ago(2), lines=[(shoe, 1)])
    OrderFactory(customer=ravi, placed_at=days_ago(1), lines=[(shirt, 1)])
    OrderFactory(customer=priya, placed_at=days_ago(2), lines=[(shoe, 1)])


def test_a_marketer_builds_a_segment_and_launches_a_simulated_campaign_for_it(page, marketer, integration_client):
    shoppers_with_a_week_of_orders()
    login(page, marketer)

    # The segment, built row by row: the live count follows each condition.
    start_segment(page, name="Pune buyers")
    builder_condition(page, field="city", operator="is", value="Pune")
    expect(builder_count(page)).to_have_text("3")  # asha, ravi, kiran
    builder_condition(page, field="orders", operator="is at least", value="1", window="30")
    expect(builder_count(page)).to_have_text("2")  # kiran has no order
    snapshot(page, "segment-builder")
    save_form(page)
    success_message(page, "was added successfully")
    segment = Segment.objects.get(name="Pune buyers")
    assert segment.criteria == {
        "all": [
            {"field": "city", "op": "eq", "value": "Pune"},
            {"field": "orders", "op": "gte", "value": 1, "window_days": 30},
        ]
    }
    assert segment.member_count == 2

    # The campaign, aimed at the segment.
    fill_category_campaign(page, name="Pune shoes 10", category="Shoes", percent="10")
    # A category rule's row shows its fields, not the other types' (markup: the first row's ids).
    expect(page.locator("#id_rules-0-value")).to_be_visible()
    expect(page.locator("#id_rules-0-buy_quantity")).to_be_hidden()
    expect(page.get_by_test_id("id_rules-0-tiers-rows")).to_be_hidden()
    target_segment(page, "Pune buyers")
    save_form(page)
    success_message(page, "was added successfully")
    campaign = Campaign.objects.get(name="Pune shoes 10")
    assert campaign.audience == Audience.SEGMENTS
    assert list(campaign.segments.values_list("name", flat=True)) == ["Pune buyers"]

    codes = generate_codes(page, "Pune shoes 10", count=3, prefix="PUNE-")
    assert len(codes) == 3
    given = assign_codes(page, "Pune shoes 10", segment="Pune buyers")
    assert "2 customer(s) given a code" in given

    # Simulated while still switched off, over the last week's orders (see the table above).
    open_campaign(page, "Pune shoes 10")
    result = simulate(page, days=7)
    expect(result.get_by_test_id("simulate-redemptions")).to_have_text("2")
    expect(result.get_by_test_id("simulate-cost")).to_have_text("₹150.00")
    expect(result.get_by_test_id("simulate-customers")).to_have_text("2")
    expect(result.get_by_test_id("simulate-share")).to_have_text("50.0 %")
    expect(result.get_by_test_id("simulate-orders")).to_have_text("2 of 4 orders")
    snapshot(page, "campaign-simulation")

    # Switched on, it announces itself to the segment's members and to no one else.
    switch_on(page, "Pune shoes 10")
    expect(list_row(page, "Pune shoes 10")).to_contain_text("Active")
    announce = Delivery.objects.filter(message__key=f"campaign:{campaign.pk}:announce").select_related("recipient")
    bodies = {delivery.recipient.email: delivery.body for delivery in announce}
    assert sorted(bodies) == ["asha@example.com", "ravi@example.com"]
    ashas = CouponCode.objects.get(campaign=campaign, assigned_to__email="asha@example.com").code
    assert bodies["asha@example.com"] == f"Hi Asha, {ashas} takes 10% off."  # her own code

    # Live, on "Test a cart" (every live campaign together): a member's cart with her code gets
    # 10 % off the shoes; a customer outside the segment with a free code gets nothing, and why.
    cart = [("Runner", 2), ("Tee", 1)]
    result = try_live_cart(page, products=cart, customer="asha@example.com", codes=ashas)
    expect(result.get_by_test_id("cart-total-discount")).to_have_text("100.00")
    expect(result.get_by_test_id("cart-applied")).to_contain_text("SKU-SHOE: 100.00")
    snapshot(page, "segment-campaign-test-cart")
    result = try_live_cart(page, products=cart, customer="priya@example.com", sample_code_of="Pune shoes 10")
    expect(result.get_by_test_id("cart-total-discount")).to_have_text("0.00")
    expect(result.get_by_test_id("cart-refusal")).to_contain_text("segment")

    # Measured: the shop checks Asha's cart out with her code (the real API), and the dashboard
    # and the campaign's report count it: 1 redemption, ₹100 off a ₹1,200 order.
    bought = [("SKU-SHOE", 2, "500.00"), ("SKU-SHIRT", 1, "300.00")]
    discount = shop_checkout(
        integration_client, order_id="WEB-1", email="asha@example.com", lines=bought, codes=[ashas]
    )
    assert discount == Decimal("100.00")
    open_from_sidebar(page, "Dashboard")
    expect(figures_row(page, "redemptions-1d")).to_have_text(["1", "₹100.00"])
    expect(figures_row(page, "revenue-with")).to_have_text(["1", "₹1,200.00", "₹1,200.00"])
    expect(figures_row(page, "revenue-without")).to_have_text(["4", "₹2,600.00", "₹650.00"])  # the week's orders
    expect(page.get_by_test_id("panel-top-redemptions")).to_contain_text("Pune shoes 10")
    expect(figures_row(page, "messages-in-app")).to_have_text(["2", "100 %", "0 %", "0 %"])  # the announcement
    expect(page.get_by_test_id("panel-segments")).to_contain_text("Pune buyers")
    snapshot(page, "dashboard")
    open_campaign(page, "Pune shoes 10")
    report = open_report(page, "campaign")
    expect(report.get_by_test_id("report-redemptions")).to_have_text("1")
    expect(report.get_by_test_id("report-discount")).to_have_text("100.00")
    expect(report.get_by_test_id("report-customers")).to_have_text("1")
    expect(report.get_by_test_id("codes-used")).to_have_text("1")
    expect(report.get_by_test_id("codes-unused")).to_have_text("2")
    expect(figures_row(page, "orders-with")).to_have_text(["1", "₹1,200.00", "₹1,200.00"])
    snapshot(page, "campaign-report")
