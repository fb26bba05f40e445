"""The landing page's figures: who sees them, the range filter, and its cost in queries."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns.tests.factories import CampaignFactory, redemption_make
from commerce.tests.factories import OrderFactory, ProductFactory
from lms.reports import site_today
from segments.tests.factories import CustomerFactory, SegmentFactory

pytestmark = pytest.mark.django_db
INDEX = reverse("admin:index")
PANELS = (
    "panel-live", "panel-redemptions", "panel-revenue", "panel-points", "panel-redemptions-chart",
    "panel-discount-chart", "panel-revenue-chart", "panel-points-chart", "panel-top-redemptions", "panel-top-cost",
    "panel-segments", "panel-messages",
)  # fmt: skip


def _testid(page: str, testid: str) -> str:
    """The text of the element with this data-testid, tags stripped and spaces squeezed."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no {testid}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())


def _sales(n: int, first: int = 0) -> None:
    for i in range(first, first + n):
        campaign, customer = CampaignFactory(name=f"Sale {i}"), CustomerFactory()
        OrderFactory(external_id=f"O-{i}", customer=customer, lines=[(ProductFactory(), 1, Decimal("400.00"))])
        redemption_make(customer=customer, campaign=campaign, amount="40.00", order_id=f"O-{i}")


@pytest.mark.parametrize("who", ["marketer_console", "analyst_console", "console"])
def test_reporting_users_see_every_panel_with_its_figures(request, who):
    client = request.getfixturevalue(who)
    _sales(2)
    SegmentFactory(name="Big spenders", member_count=1234)

    page = client.get(INDEX).content.decode()

    for panel in PANELS:
        assert f'data-testid="{panel}"' in page
    assert _testid(page, "redemptions-1d") == "Today 2 ₹80.00"
    assert _testid(page, "revenue-with") == "With a campaign Orders 2 Revenue ₹800.00 Average order ₹400.00"
    assert _testid(page, "live-campaigns") == "2"
    assert "Big spenders" in page and "1,234" in page
    assert 'data-testid="console-sections"' in page


def test_a_staff_user_without_reports_sees_the_section_links_only(client):
    staff = UserFactory(email="staff@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(staff)

    page = client.get(INDEX).content.decode()

    assert 'data-testid="console-sections"' in page and "Campaigns" in page
    assert "panel-" not in page and "range-filter" not in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-40", "Enter a valid date"),
        ("start=2026-03-10&end=2026-03-01", "The start date is after the end date."),
        ("start=2020-01-01&end=2026-01-01", "Choose at most 366 days."),
        ("days=12", "Select a valid choice"),
    ],
)
def test_bad_dates_give_a_message_and_the_last_30_days(marketer_console, query, message):
    response = marketer_console.get(f"{INDEX}?{query}")

    assert response.status_code == 200
    page = response.content.decode()
    assert message in _testid(page, "range-error")
    today = site_today()
    assert _testid(page, "range-shown") == f"{today - dt.timedelta(days=29):%-d %b %Y} – {today:%-d %b %Y}"


def test_a_preset_and_a_custom_range_choose_the_days(marketer_console):
    today = site_today()
    page = marketer_console.get(f"{INDEX}?days=7").content.decode()
    assert _testid(page, "range-shown") == f"{today - dt.timedelta(days=6):%-d %b %Y} – {today:%-d %b %Y}"

    page = marketer_console.get(f"{INDEX}?start=2026-01-05&end=2026-01-09").content.decode()
    assert _testid(page, "range-shown") == "5 Jan 2026 – 9 Jan 2026"


def test_an_old_range_leaves_out_todays_orders_but_the_windows_stay_on_today(marketer_console):
    _sales(1)
    old = timezone.now() - dt.timedelta(days=60)

    page = marketer_console.get(f"{INDEX}?start={old:%Y-%m-%d}&end={old:%Y-%m-%d}").content.decode()

    assert _testid(page, "revenue-with") == "With a campaign Orders 0 Revenue ₹0.00 Average order –"
    assert _testid(page, "redemptions-1d") == "Today 1 ₹40.00"


def test_the_dashboard_costs_the_same_queries_for_2_or_12_campaigns(marketer_console, django_assert_max_num_queries):
    _sales(2)
    marketer_console.get(INDEX)
    with django_assert_max_num_queries(30) as few:
        marketer_console.get(INDEX)
    _sales(10, first=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        marketer_console.get(INDEX)
