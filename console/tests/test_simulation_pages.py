"""The console's "Simulate" pages for campaigns and programs: a Marketer runs one and sees the
figures and chart; an Analyst sees the last result but cannot start one; bad input is a message."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from campaigns.models import SimulationRun, SimulationStatus
from campaigns.simulation.runs import simulation_start
from campaigns.tests.factories import CampaignFactory
from commerce.models import OrderStatus
from commerce.tests.factories import CategoryFactory, OrderFactory, ProductFactory
from loyalty.tests.factories import program_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    apparel = CategoryFactory(name="Apparel")
    shirt = ProductFactory(sku="SHIRT", category=apparel)
    for days, price in ((6, "500.00"), (3, "800.00")):
        OrderFactory(
            customer=UserFactory(password=None), placed_at=timezone.now() - dt.timedelta(days=days),
            status=OrderStatus.PAID, lines=[(shirt, 1, Decimal(price))],
        )  # fmt: skip
    rule = {"rule_type": "CATEGORY", "value": Decimal("10"), "categories": [apparel]}
    return CampaignFactory(name="Shirts 10", rules=[rule], budget=Decimal("60.00"))


def page(pk: int) -> str:
    return f"/admin/campaigns/campaign/{pk}/simulate/"


def test_the_change_form_has_a_simulate_button(marketer_console, campaign):
    html = marketer_console.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    assert 'data-testid="simulate-button"' in html
    assert page(campaign.pk) in html


def test_a_marketer_runs_a_simulation_and_sees_its_figures_and_chart(marketer_console, campaign):
    response = marketer_console.post(page(campaign.pk), {"days": "7"})

    assert response.status_code == 302
    html = marketer_console.get(page(campaign.pk)).content.decode()
    assert 'data-testid="simulate-result"' in html
    assert re.search(r'<input[^>]*name="days"[^>]*value="7"', html)  # the field offers the last window again
    assert 'data-testid="simulate-cost">₹50.00<' in html  # 10 % of 500; the 80.00 would pass the 60.00 budget
    assert 'data-testid="simulate-redemptions">1<' in html
    assert 'data-testid="simulate-share">50.0 %<' in html
    assert 'data-testid="simulate-runs-out">' in html and "budget runs out" in html
    assert "The budget could not cover it" in html  # the reason in marketer words, not budget_exhausted
    chart = html.split('data-type="line" data-value="')[1].split('"')[0]
    data = json.loads(chart.replace("&quot;", '"'))
    assert [d["label"] for d in data["datasets"]] == [
        "Discount per day (₹)",
        "Running total (₹)",
        "Budget (₹)",
        "Budget runs out",
    ]
    assert [x for x in data["datasets"][3]["data"] if x is not None] == [50.0]  # marked on the running total
    assert any("(budget runs out)" in label for label in data["labels"])
    assert SimulationRun.objects.get().created_by.email == "mira@example.com"


@pytest.mark.parametrize("days", ["", "0", "366", "seven", "7.5"])
def test_bad_days_are_a_message_on_the_field(marketer_console, campaign, days):
    response = marketer_console.post(page(campaign.pk), {"days": days})

    assert response.status_code == 200
    assert 'data-testid="simulate-days-error"' in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_an_analyst_sees_the_last_result_but_cannot_start_one(analyst_console, campaign):
    simulation_start(campaign=campaign, days=7, user_id=None)

    html = analyst_console.get(page(campaign.pk)).content.decode()
    refused = analyst_console.post(page(campaign.pk), {"days": "7"})

    assert 'data-testid="simulate-result"' in html
    assert 'data-testid="simulate-run"' not in html
    assert 'data-testid="simulate-view-only"' in html
    assert refused.status_code == 403
    assert SimulationRun.objects.count() == 1


def test_an_analyst_may_not_start_one_through_the_api_either(analyst, marketer, campaign):
    as_analyst, as_marketer = APIClient(), APIClient()
    as_analyst.force_authenticate(analyst)
    as_marketer.force_authenticate(marketer)

    refused = as_analyst.post(f"/api/v1/campaigns/{campaign.pk}/simulate", {"days": 7}, format="json")
    started = as_marketer.post(f"/api/v1/campaigns/{campaign.pk}/simulate", {"days": 7}, format="json")

    assert refused.status_code == 403
    assert started.status_code == 200, started.json()
    assert as_analyst.get(f"/api/v1/simulations/{started.json()['id']}").status_code == 200


def test_a_pending_run_shows_progress_and_its_status_is_polled(marketer_console, campaign):
    run = SimulationRun.objects.create(campaign=campaign, days=7, status=SimulationStatus.RUNNING, progress=40)

    html = marketer_console.get(page(campaign.pk)).content.decode()
    status = marketer_console.get(f"{page(campaign.pk)}status/{run.pk}/")

    assert 'data-testid="simulate-progress"' in html
    assert status.json() == {"status": "RUNNING", "progress": 40, "done": False}
    assert marketer_console.get(f"{page(campaign.pk)}status/999999/").status_code == 404


def test_an_archived_campaign_has_no_run_button(marketer_console, campaign):
    campaign.status, campaign.archived = "INACTIVE", True
    campaign.save()

    html = marketer_console.get(page(campaign.pk)).content.decode()

    assert 'data-testid="simulate-archived"' in html
    assert marketer_console.post(page(campaign.pk), {"days": "7"}).status_code == 403


def test_an_unknown_campaign_goes_back_to_the_list_with_a_message(marketer_console):
    response = marketer_console.get(page(424242), follow=True)

    assert response.redirect_chain[-1][0] == "/admin/campaigns/campaign/"
    assert "No campaign with id 424242" in response.content.decode()


def test_a_program_page_shows_points(marketer_console, analyst):
    program = program_make()
    OrderFactory(customer=UserFactory(password=None), placed_at=timezone.now() - dt.timedelta(days=1),
                 status=OrderStatus.PAID, lines=[(ProductFactory(price=Decimal("250.00")), 2)])  # fmt: skip

    form = marketer_console.get(f"/admin/loyalty/loyaltyprogram/{program.pk}/change/").content.decode()
    marketer_console.post(f"/admin/loyalty/loyaltyprogram/{program.pk}/simulate/", {"days": "30"})
    html = marketer_console.get(f"/admin/loyalty/loyaltyprogram/{program.pk}/simulate/").content.decode()

    assert 'data-testid="simulate-button"' in form
    assert 'data-testid="simulate-points">500<' in html  # 1 point per rupee on 500.00
    assert 'data-testid="simulate-cost"' not in html
    marketer_console.force_login(analyst)  # the same client (the two fixtures share it), now as the Analyst
    refused = marketer_console.post(f"/admin/loyalty/loyaltyprogram/{program.pk}/simulate/", {"days": "7"})
    assert refused.status_code == 403
