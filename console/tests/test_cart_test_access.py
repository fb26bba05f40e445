"""Who may use the campaigns' "Test a cart" page: Analysts and Marketers (it writes nothing)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import CampaignCounter
from campaigns.tests.factories import CampaignFactory
from campaigns.tests.test_cart_test_page import cart_form, page_url
from commerce.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    return ProductFactory(sku="TEE", name="Cotton tee", price=Decimal("500.00"))


def test_an_analyst_may_test_carts_and_nothing_is_written(analyst_console, catalogue):
    campaign = CampaignFactory(name="Ten percent")
    counter = CampaignCounter.objects.get(campaign=campaign)

    page = analyst_console.get(page_url())
    response = analyst_console.post(page_url(), cart_form(("TEE", "1", "")))

    assert page.status_code == 200 and 'data-testid="cart-test-page"' in page.content.decode()
    assert [d.name for d in response.context["report"].result.discounts] == ["Ten percent"]
    assert CampaignCounter.objects.get(campaign=campaign).uses == counter.uses == 0


def test_the_campaign_list_has_the_button_for_a_marketer(marketer_console):
    page = marketer_console.get(reverse("admin:campaigns_campaign_changelist")).content.decode()

    assert page_url() in page and 'data-testid="cart-test-open"' in page
