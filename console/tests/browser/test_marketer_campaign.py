"""A Marketer in the browser launches a category campaign: creates it, generates its codes,
tests a cart, switches it on (which announces it) and finds it live in the list."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CouponCode
from commerce.tests.factories import CategoryFactory
from console.tests.browser.steps import (
    fill_category_campaign,
    generate_codes,
    list_row,
    login,
    open_from_sidebar,
    save_form,
    snapshot,
    success_message,
    switch_on,
    try_cart,
)
from notifications.models import Delivery

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker, one Chromium

CART = "SKU-SHOE, 2, 500.00, Shoes\nSKU-SHIRT, 1, 300.00, Shirts"


def test_a_marketer_creates_tests_and_launches_a_category_campaign(page, marketer):
    CategoryFactory(name="Shoes")
    CategoryFactory(name="Shirts")
    UserFactory(email="asha@example.com", first_name="Asha")

    login(page, marketer)
    fill_category_campaign(page, name="Shoes 10", category="Shoes", percent="10")
    snapshot(page, "campaign-form")
    save_form(page)
    success_message(page, "was added successfully")
    campaign = Campaign.objects.get(name="Shoes 10")
    assert [list(rule.categories.values_list("name", flat=True)) for rule in campaign.rules.all()] == [["Shoes"]]

    codes = generate_codes(page, "Shoes 10", count=5, prefix="SHOE-")
    assert codes and CouponCode.objects.filter(campaign=campaign).count() == 5

    result = try_cart(page, "Shoes 10", codes=codes[0], lines=CART)  # switched off: refused, and why
    expect(result.locator("#total-discount")).to_have_text("0.00")
    expect(result).to_contain_text("switched off")

    switch_on(page, "Shoes 10")
    expect(list_row(page, "Shoes 10")).to_contain_text("Active")

    result = try_cart(page, "Shoes 10", codes=codes[0], lines=CART)
    expect(result.locator("#total-discount")).to_have_text("100.00")  # 10 % of the shoes' 1,000.00
    expect(result).to_contain_text("SKU-SHOE: 100.00")
    snapshot(page, "campaign-test-cart")

    # Switched on, it announced itself: the customer has it in the app, with their own code.
    (delivery,) = Delivery.objects.filter(message__key=f"campaign:{campaign.pk}:announce")
    assert (delivery.recipient.email, delivery.title) == ("asha@example.com", "Shoes 10 is on")
    open_from_sidebar(page, "Messages")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    snapshot(page, "campaign-messages")
