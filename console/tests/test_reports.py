"""The campaign and program report pages and their CSV exports: figures, permissions, bad input."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import UserFactory
from campaigns.models import RefusalCount
from campaigns.tests.factories import CampaignFactory, redemption_make
from commerce.tests.factories import OrderFactory, ProductFactory
from lms.reports import site_today
from loyalty.tests.factories import ingest, program_make
from segments.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def campaign():
    campaign = CampaignFactory(name="Spring")
    for i in range(3):
        customer = CustomerFactory(email=f"c{i}@example.com")
        OrderFactory(external_id=f"O-{i}", customer=customer, lines=[(ProductFactory(), 1, Decimal("500.00"))])
        redemption_make(customer=customer, campaign=campaign, amount="50.00", order_id=f"O-{i}")
    RefusalCount.objects.create(campaign=campaign, day=site_today() - dt.timedelta(days=1), reason="min_cart", count=7)
    return campaign


def _report(campaign, suffix="report"):
    return reverse(f"admin:campaigns_campaign_{suffix}", args=[campaign.pk])


@pytest.mark.parametrize("who", ["marketer_console", "analyst_console"])
def test_the_campaign_report_shows_its_figures(request, who, campaign):
    client = request.getfixturevalue(who)

    page = client.get(_report(campaign)).content.decode()

    for testid in ("panel-redemptions", "panel-orders", "panel-codes", "panel-refusals", "panel-redemptions-chart",
                   "panel-refusals-chart", "range-filter", "report-export"):  # fmt: skip
        assert f'data-testid="{testid}"' in page
    assert 'data-testid="report-redemptions">3<' in page
    assert 'data-testid="report-discount">150.00<' in page
    assert "Below the minimum cart" in page and "min_cart" not in page.split('data-testid="panel-refusals"')[1][:40]


def test_the_campaign_change_form_links_to_its_report(marketer_console, analyst_console, campaign):
    page = analyst_console.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert f'href="{_report(campaign)}"' in page and 'data-testid="report-link"' in page


def test_the_analyst_exports_the_redemptions_as_csv(analyst_console, campaign):
    response = analyst_console.get(_report(campaign, "report_csv") + "?days=7")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="campaign-{campaign.pk}-redemptions-')
    rows = _csv(response)
    assert rows[0] == ["redeemed_at", "order_id", "customer_email", "code", "discount_on_items",
                       "discount_on_shipping", "status"]  # fmt: skip
    assert sorted(row[1:] for row in rows[1:]) == [
        [f"O-{i}", f"c{i}@example.com", "", "50.00", "0.00", "redeemed"] for i in range(3)
    ]


def test_a_bad_range_on_the_export_is_a_message_not_a_500(analyst_console, campaign):
    response = analyst_console.get(_report(campaign, "report_csv") + "?start=yesterday", follow=True)

    assert response.redirect_chain[-1][0] == _report(campaign)
    assert "Enter a valid date." in response.content.decode()


@pytest.fixture
def staff_without_reports(client):
    staff = UserFactory(email="staff@example.com", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_campaign", "view_loyaltyprogram"]))
    client.force_login(staff)
    return staff


def test_staff_without_reports_get_403_and_no_link(client, staff_without_reports, campaign):
    assert client.get(_report(campaign)).status_code == 403
    assert client.get(_report(campaign, "report_csv")).status_code == 403
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert 'data-testid="report-link"' not in page


def test_viewing_reports_without_exporting_them_hides_the_button_and_refuses_the_csv(
    client, staff_without_reports, campaign
):
    staff_without_reports.user_permissions.add(Permission.objects.get(codename="view_reports"))

    page = client.get(_report(campaign)).content.decode()

    assert 'data-testid="report-export"' not in page and 'data-testid="panel-redemptions"' in page
    assert client.get(_report(campaign, "report_csv")).status_code == 403


def test_reports_need_the_objects_view_permission_too(client, campaign):
    staff = UserFactory(email="reader@example.com", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_reports", "export_reports"]))
    client.force_login(staff)

    assert client.get(_report(campaign)).status_code == 403


def test_an_unknown_campaign_goes_back_to_the_list_with_a_message(marketer_console):
    response = marketer_console.get(reverse("admin:campaigns_campaign_report", args=[99999]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:campaigns_campaign_changelist")
    assert "No campaign with id 99999." in response.content.decode()


def test_the_campaign_report_costs_the_same_queries_whatever_its_redemptions(
    marketer_console, campaign, django_assert_max_num_queries
):
    marketer_console.get(_report(campaign))
    with django_assert_max_num_queries(30) as few:
        marketer_console.get(_report(campaign))
    for i in range(3, 13):
        customer = CustomerFactory()
        redemption_make(customer=customer, campaign=campaign, order_id=f"O-{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        marketer_console.get(_report(campaign))


# --- Programs ------------------------------------------------------------------------------------


@pytest.fixture
def program(integration_client):
    program = program_make(settings={"point_value": Decimal("0.50")})
    ingest(integration_client, "P-1", placed_at="2026-01-10T10:00:00Z")  # Asha: 1,000 points
    return program


def _program(program, suffix="report"):
    return reverse(f"admin:loyalty_loyaltyprogram_{suffix}", args=[program.pk])


@pytest.mark.parametrize("who", ["marketer_console", "analyst_console"])
def test_the_program_report_shows_members_points_and_liability(request, who, program):
    client = request.getfixturevalue(who)

    page = client.get(_program(program) + "?start=2026-01-01&end=2026-01-31").content.decode()

    for testid in ("panel-points", "panel-liability", "panel-tiers", "panel-rules", "liability-export"):
        assert f'data-testid="{testid}"' in page
    assert "₹500.00" in page and "Points per rupee spent" in page
    change = client.get(reverse("admin:loyalty_loyaltyprogram_change", args=[program.pk])).content.decode()
    assert f'href="{_program(program)}"' in change


def test_finance_exports_the_liability_as_of_a_day(analyst_console, program):
    before = _csv(analyst_console.get(_program(program, "report_csv") + "?as_of=2026-01-09"))
    after = analyst_console.get(_program(program, "report_csv") + "?as_of=2026-01-10")

    assert before == [["account_id", "customer_email", "customer_external_id", "points_outstanding", "value_inr"]]
    assert after["Content-Disposition"] == f'attachment; filename="program-{program.pk}-liability-20260110.csv"'
    assert [row[1:] for row in _csv(after)[1:]] == [["asha@example.com", "C-ASHA", "1000", "500.00"]]


@pytest.mark.parametrize(
    ("as_of", "message"),
    [("2026-02-30", "Choose a valid date"), ("2999-01-01", "today or a past day")],
)
def test_a_bad_as_of_date_is_a_message(analyst_console, program, as_of, message):
    response = analyst_console.get(_program(program, "report_csv") + f"?as_of={as_of}", follow=True)

    assert response.redirect_chain[-1][0] == _program(program)
    assert message in response.content.decode()


def test_staff_without_reports_cannot_open_the_program_report(client, staff_without_reports, program):
    assert client.get(_program(program)).status_code == 403
    assert client.get(_program(program, "report_csv")).status_code == 403
