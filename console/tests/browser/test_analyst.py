"""An Analyst in the browser: reads everything a marketer sees and can change (or simulate) nothing."""

import pytest
from playwright.sync_api import expect

from campaigns.tests.factories import CampaignFactory
from console.navigation import SECTIONS
from console.tests.browser.steps import NAME, list_row, login, open_campaign, open_from_sidebar, sidebar, snapshot
from loyalty.tests.factories import program_make
from segments.tests.factories import SegmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker, one Chromium


def test_the_analyst_reads_a_campaign_segment_and_program_and_may_change_none(page, analyst):
    CampaignFactory(name="Diwali 10")
    segment = SegmentFactory(name="Pune shoppers")
    program = program_make(name="Rewards")

    login(page, analyst)
    nav = sidebar(page)
    for section, _ in SECTIONS:
        expect(nav.get_by_role("heading", name=section, exact=True)).to_be_visible()
    expect(nav.get_by_role("heading", name="System", exact=True)).to_have_count(0)
    expect(nav.get_by_role("link", name="Sign-in codes")).to_have_count(0)

    open_from_sidebar(page, "Campaigns")
    expect(list_row(page, "Diwali 10")).to_be_visible()
    open_campaign(page, "Diwali 10")
    expect(page.get_by_text("Diwali 10").first).to_be_visible()
    expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    expect(page.get_by_role("textbox", name=NAME)).to_have_count(0)  # shown as text, not a field

    snapshot(page, "analyst-campaign")
    page.get_by_test_id("simulate-button").click()  # may look, may not run one
    expect(page.get_by_test_id("simulate-view-only")).to_be_visible()
    expect(page.get_by_test_id("simulate-run")).to_have_count(0)
    refused = page.goto("/admin/campaigns/campaign/add/")
    assert refused.status == 403

    for url in (f"/admin/segments/segment/{segment.pk}/change/", f"/admin/loyalty/loyaltyprogram/{program.pk}/change/"):
        page.goto(url)
        expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
        expect(page.locator("form input[name=name]")).to_have_count(0)
