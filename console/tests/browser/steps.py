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


def open_tab(page: Page, title: str) -> None:
    """Show one tab of a tabbed change form: a page tab ("Points, redemption and messages") or a
    tab of its fieldsets ("Schedule"); the fields of the others stay in the form."""
    # markup: unfold's tabs are links in a <nav> of the page's #content (the sidebar is outside it).
    page.locator("#content nav a").filter(has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")).click()


def save_form(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()


# --- Segments -------------------------------------------------------------------------------------


def builder_condition(page: Page, *, field: str, operator: str, value: str, window: str | None = None) -> None:
    """Add a condition to the criteria builder's top group: ``field`` by its code (the options'
    values), ``operator`` by its words ("is at least"), then the value and the window in days."""
    builder = page.get_by_test_id("criteria-builder")
    # The top group's own button is its last: a nested group's buttons come before it.
    builder.get_by_test_id("criteria-group").first.get_by_test_id("criteria-add-condition").last.click()
    # Each change of field or operator redraws the rows: the new row is found again each time.
    row = lambda: builder.get_by_test_id("criteria-condition").last  # noqa: E731
    row().get_by_test_id("criteria-field").select_option(value=field)
    row().get_by_test_id("criteria-operator").select_option(label=operator)
    row().get_by_test_id("criteria-value").fill(value)
    if window is not None:
        row().get_by_test_id("criteria-window").fill(window)


def builder_count(page: Page) -> Locator:
    """The builder's live member count (asked of the server a moment after each change)."""
    return page.get_by_test_id("criteria-builder").get_by_test_id("criteria-preview-count")


def start_segment(page: Page, *, name: str) -> None:
    """A new dynamic customer segment's form (its criteria built next with ``builder_condition``)."""
    page.goto("/admin/segments/segment/add/")
    page.get_by_label(NAME).fill(name)
    page.get_by_label("Kind").select_option(label="Customers")
    page.get_by_label("Type").select_option(label="Dynamic (criteria)")


# --- Simulation -----------------------------------------------------------------------------------


def simulate(page: Page, *, days: int) -> Locator:
    """From a campaign's or program's page: "Simulate" over the last ``days``; answers the result
    block (a small window is replayed while the page waits)."""
    page.get_by_test_id("simulate-button").click()
    page.get_by_test_id("simulate-days").fill(str(days))
    page.get_by_test_id("simulate-run").click()
    result = page.get_by_test_id("simulate-result")
    expect(result).to_be_visible()
    return result


# --- Campaigns ------------------------------------------------------------------------------------


def fill_category_campaign(page: Page, *, name: str, category: str, percent: str) -> None:
    """The campaign form: a coupon campaign with unique codes, ``percent`` % off one category,
    announced in the app when switched on; saved switched off."""
    page.goto("/admin/campaigns/campaign/add/")
    page.get_by_label(NAME).fill(name)
    page.get_by_label("Status").select_option(label="Inactive")
    open_tab(page, "Schedule")
    page.get_by_label("Timezone").fill("UTC")
    open_tab(page, "Redemption & limits")
    page.get_by_label("Redemption type").select_option(label="With a coupon code")
    page.get_by_label("Code type").select_option(label="Unique single-use codes")
    # markup: the first rule row's fields, by id (the hidden template row has the same labels).
    page.locator("#id_rules-0-rule_type").select_option(label="Category")
    page.locator("#id_rules-0-discount_type").select_option(label="Percentage")
    page.locator("#id_rules-0-value").fill(percent)
    pick_autocomplete(page, "rules-0-categories", category)
    open_tab(page, "Notification")
    page.get_by_label("Notify title").fill("{{ campaign_name }} is on")
    page.get_by_label("Notify body").fill("Hi {{ first_name }}, {{ code }} takes " + percent + "% off.")
    page.get_by_label("In-app").first.check()


def target_segment(page: Page, segment: str) -> None:
    """On the campaign form: the audience is a segment, picked by name."""
    open_tab(page, "Audience & places")
    page.get_by_label("Audience").select_option(label="Segments (dynamic or static)")
    pick_autocomplete(page, "segments", segment)


def generate_codes(page: Page, campaign: str, *, count: int, prefix: str) -> list[str]:
    """The list's "Generate unique codes" action; answers the sample codes its message names."""
    page.goto("/admin/campaigns/campaign/")
    run_list_action(page, campaign, "Generate unique codes for the selected campaigns…")
    page.get_by_label("Count").fill(str(count))
    page.get_by_label("Prefix").fill(prefix)
    page.get_by_role("button", name="Generate codes").click()
    message = success_message(page, "Generated codes:")
    return re.findall(rf"{re.escape(prefix)}\w+", message)


def assign_codes(page: Page, campaign: str, *, segment: str) -> str:
    """The list's "Assign codes to a segment" action: each member gets their own free code;
    answers the message that counts them."""
    page.goto("/admin/campaigns/campaign/")
    run_list_action(page, campaign, "Assign codes to a segment (each member their own code)…")
    page.get_by_label("Segment").select_option(label=segment)
    page.get_by_role("button", name="Assign codes").click()
    return success_message(page, f"{campaign} to {segment}:")


def open_campaign(page: Page, name: str) -> None:
    page.goto("/admin/campaigns/campaign/")
    list_row(page, name).get_by_role("link", name=name).click()
    page.wait_for_load_state()


def try_cart(page: Page, campaign: str, *, codes: str, lines: str, customer: str = "") -> Locator:
    """The campaign's "Test this campaign" page with a cart (a guest's, or ``customer``'s by
    email); answers the result block."""
    open_campaign(page, campaign)
    page.get_by_role("link", name="Test this campaign").click()
    if customer:
        page.get_by_label("Customer").fill(customer)
    page.get_by_label("Codes").fill(codes)
    page.get_by_label("Lines").fill(lines)
    page.get_by_role("button", name="Evaluate").click()
    result = page.locator("#test-result")  # markup: the result's id
    expect(result).to_be_visible()
    return result


def try_live_cart(
    page: Page, *, products: list[tuple[str, int]], customer: str = "", codes: str = "", sample_code_of: str = ""
) -> Locator:
    """The list's "Test a cart" page (every live campaign together): products picked by name
    from the suggestions with their quantities, a customer by email, codes typed or a sample
    code of ``sample_code_of`` filled; answers the result block."""
    page.goto("/admin/campaigns/campaign/")
    page.get_by_test_id("cart-test-open").click()
    for row, (name, quantity) in zip(page.get_by_test_id("cart-line").all(), products, strict=False):
        search = row.get_by_test_id("cart-product-search")
        search.press_sequentially(name[:4])
        # markup: the suggestions are the <datalist>'s options (value: the sku); picking one
        # puts its sku in the box, which fills the catalogue's price.
        suggestion = page.locator("#cart-products option").filter(has_text=name).first
        search.fill(suggestion.get_attribute("value"))
        expect(row.locator("[data-price]")).not_to_have_value("")
        row.locator('input[name$="-quantity"]').fill(str(quantity))
    page.get_by_label("Customer").fill(customer)
    if codes:
        page.get_by_test_id("cart-codes").fill(codes)
    if sample_code_of:
        page.get_by_test_id("cart-sample-code").filter(has_text=sample_code_of).click()
        expect(page.get_by_test_id("cart-sample-message")).to_contain_text("Filled")
    page.get_by_test_id("cart-run").click()
    result = page.get_by_test_id("cart-result")
    expect(result).to_be_visible()
    return result


def switch_on(page: Page, campaign: str) -> None:
    page.goto("/admin/campaigns/campaign/")
    run_list_action(page, campaign, "Switch on the selected campaigns")


def open_program(page: Page, name: str) -> None:
    page.goto("/admin/loyalty/loyaltyprogram/")
    list_row(page, name).get_by_role("link", name=name).click()
    page.wait_for_load_state()


def switch_program_on(page: Page, program: str) -> None:
    page.goto("/admin/loyalty/loyaltyprogram/")
    run_list_action(page, program, "Switch on the selected loyalty programs")


# --- Loyalty programs -----------------------------------------------------------------------------


def fill_program(page: Page, *, name: str, points_per_rupee: str, tier: str, threshold: str, expiry_days: str) -> None:
    """The program form: points expiring after ``expiry_days``, one "points per rupee" earning
    rule and one tier; saved switched off."""
    page.goto("/admin/loyalty/loyaltyprogram/add/")
    page.get_by_label(NAME).fill(name)
    page.get_by_label("Status").select_option(label="Inactive")
    open_tab(page, "Schedule")
    page.get_by_label("Timezone").fill("UTC")
    # markup: the tabular inlines' inputs, by name (their columns have headers, not labels).
    page.locator('[name="earning_rules-0-rule_type"]').select_option(label="Points per rupee spent")
    page.locator('[name="earning_rules-0-points_per_rupee"]').fill(points_per_rupee)
    page.locator('[name="loyalty_tiers-0-name"]').fill(tier)
    page.locator('[name="loyalty_tiers-0-threshold"]').fill(threshold)
    open_tab(page, "Points, redemption and messages")
    page.get_by_label("Expiry days").filter(visible=True).fill(expiry_days)  # not the hidden template row


# --- Measuring: the dashboard and the reports -----------------------------------------------------


def figures_row(page: Page, testid: str) -> Locator:
    """The figures of one row of a dashboard or report panel, e.g. ``redemptions-1d``: a table
    row's cells, or the values of a list of "name: value" lines (``orders-with``)."""
    # markup: a list's line is <dd><span>name</span><span>value</span></dd>.
    return page.get_by_test_id(testid).locator("td, dd > span:last-child")


def open_report(page: Page, kind: str) -> Locator:
    """From a campaign's or program's page, its "Report" (``kind``: campaign or program)."""
    page.get_by_test_id("report-link").click()
    report = page.get_by_test_id(f"{kind}-report")
    expect(report).to_be_visible()
    return report
