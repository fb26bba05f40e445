"""Small steps the browser flows are made of, each driving one page the way a person would:
by labels, roles and visible text where the page offers them.

The console is being rebuilt page by page; when a page changes, its step here is the one place
to adapt (the selectors that lean on today's markup are marked "markup:")."""

import os
import re
from pathlib import Path

from django.conf import settings
from playwright.sync_api import Locator, Page, expect

STAFF_PASSWORD = "Staff-Password-1"  # console/tests/conftest.py's staff users
NAME = re.compile(r"^Name\b")  # a required field's label ends with "*"


def snapshot(page: Page, name: str) -> None:
    """With BROWSER_SNAPSHOTS=1, a full-page screenshot of this step in
    var/artifacts/browser/steps/ (to look at the pages; failures are saved either way)."""
    if os.environ.get("BROWSER_SNAPSHOTS") == "1":
        folder = Path(settings.BASE_DIR) / "var" / "artifacts" / "browser" / "steps"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=folder / f"{name}.png", full_page=True)


# --- Signing in and finding one's way -----------------------------------------------------------


def login(page: Page, user, password: str = STAFF_PASSWORD) -> None:
    """Sign in through the console's real login form; lands on the dashboard."""
    page.goto("/admin/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def sidebar(page: Page) -> Locator:
    # markup: unfold's sidebar is the page's <nav> holding the section titles.
    return page.locator("nav").filter(has_text="Overview")


def open_from_sidebar(page: Page, title: str) -> None:
    # A link's name starts with its icon's ligature ("sell Campaigns"): match its label.
    sidebar(page).get_by_role("link").filter(has=page.get_by_text(title, exact=True)).click()
    page.wait_for_load_state()


def list_row(page: Page, name: str) -> Locator:
    # markup: Django's changelist table.
    return page.locator("#result_list tbody tr").filter(has_text=name)


def run_list_action(page: Page, row_name: str, action: str) -> None:
    """Tick a row of the list, pick an action by its description and run it."""
    list_row(page, row_name).locator("input.action-select").check()  # markup: the row's checkbox
    page.locator("select[name=action]").select_option(label=action)
    page.get_by_role("button", name="Run").click()
    page.wait_for_load_state()


def success_message(page: Page, starting: str) -> str:
    message = page.get_by_text(starting).first
    expect(message).to_be_visible()
    return message.inner_text()


def pick_autocomplete(page: Page, field_id: str, text: str) -> None:
    """Choose ``text`` in an autocomplete (select2) field by typing part of it."""
    # markup: Django's autocomplete widget (select2) beside the hidden <select id=field_id>.
    search = page.locator(f'[data-id="related-widget-wrapper-{field_id}"] .select2-search__field')
    search.click()
    search.press_sequentially(text[:3])
    page.locator(".select2-results__option").filter(has_text=text).click()


def save_form(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()


# --- Campaigns ------------------------------------------------------------------------------------


def fill_category_campaign(page: Page, *, name: str, category: str, percent: str) -> None:
    """The campaign form: a coupon campaign with unique codes, ``percent`` % off one category,
    announced in the app when switched on; saved switched off."""
    page.goto("/admin/campaigns/campaign/add/")
    page.get_by_label(NAME).fill(name)
    page.get_by_label("Status").select_option(label="Inactive")
    page.get_by_label("Timezone").fill("UTC")
    page.get_by_label("Redemption type").select_option(label="With a coupon code")
    page.get_by_label("Code type").select_option(label="Unique single-use codes")
    # markup: the first rule row's fields, by id (the rule rows have no labels of their own yet).
    page.locator("#id_rules-0-rule_type").select_option(label="Category")
    page.locator("#id_rules-0-discount_type").select_option(label="Percentage")
    page.locator("#id_rules-0-value").fill(percent)
    pick_autocomplete(page, "rules-0-categories", category)
    page.get_by_label("Notify title").fill("{{ campaign_name }} is on")
    page.get_by_label("Notify body").fill("Hi {{ first_name }}, {{ code }} takes " + percent + "% off.")
    page.get_by_label("In-app").first.check()


def generate_codes(page: Page, campaign: str, *, count: int, prefix: str) -> list[str]:
    """The list's "Generate unique codes" action; answers the sample codes its message names."""
    page.goto("/admin/campaigns/campaign/")
    run_list_action(page, campaign, "Generate unique codes for the selected campaigns…")
    page.get_by_label("Count").fill(str(count))
    page.get_by_label("Prefix").fill(prefix)
    page.get_by_role("button", name="Generate codes").click()
    message = success_message(page, "Generated codes:")
    return re.findall(rf"{re.escape(prefix)}\w+", message)


def open_campaign(page: Page, name: str) -> None:
    page.goto("/admin/campaigns/campaign/")
    list_row(page, name).get_by_role("link", name=name).click()
    page.wait_for_load_state()


def try_cart(page: Page, campaign: str, *, codes: str, lines: str) -> Locator:
    """The campaign's "Test this campaign" page with a cart; answers the result block."""
    open_campaign(page, campaign)
    page.get_by_role("link", name="Test this campaign").click()
    page.get_by_label("Codes").fill(codes)
    page.get_by_label("Lines").fill(lines)
    page.get_by_role("button", name="Evaluate").click()
    result = page.locator("#test-result")  # markup: the result's id
    expect(result).to_be_visible()
    return result


def switch_on(page: Page, campaign: str) -> None:
    page.goto("/admin/campaigns/campaign/")
    run_list_action(page, campaign, "Switch on the selected campaigns")


# --- Loyalty programs -----------------------------------------------------------------------------


def fill_program(page: Page, *, name: str, points_per_rupee: str, tier: str, threshold: str, expiry_days: str) -> None:
    """The program form: points expiring after ``expiry_days``, one "points per rupee" earning
    rule and one tier; saved switched off."""
    page.goto("/admin/loyalty/loyaltyprogram/add/")
    page.get_by_label(NAME).fill(name)
    page.get_by_label("Status").select_option(label="Inactive")
    page.get_by_label("Timezone").fill("UTC")
    # Today the settings row must differ from its defaults, else "Please submit at least 1 form."
    page.get_by_label("Expiry days").filter(visible=True).fill(expiry_days)  # not the hidden template row
    # markup: the tabular inlines' inputs, by name (their columns have headers, not labels).
    page.locator('[name="earning_rules-0-rule_type"]').select_option(label="Points per rupee spent")
    page.locator('[name="earning_rules-0-points_per_rupee"]').fill(points_per_rupee)
    page.locator('[name="loyalty_tiers-0-name"]').fill(tier)
    page.locator('[name="loyalty_tiers-0-threshold"]').fill(threshold)
