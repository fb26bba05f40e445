"""A Marketer in the browser creates a loyalty program with an earning rule and a tier."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from console.tests.browser.steps import fill_program, list_row, login, save_form, snapshot, success_message
from loyalty.models import LoyaltyProgram

pytestmark = pytest.mark.browser


def test_a_marketer_creates_a_program_with_an_earning_rule_and_a_tier(page, marketer):
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
