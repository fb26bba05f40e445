"""The console's "Test a cart" page: every live campaign together, as the evaluate API judges
them, told in words; its product picker and sample codes; bad input and permissions."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns.evaluation import snapshot_invalidate
from campaigns.models import CampaignCounter
from campaigns.tests.factories import CampaignFactory, CouponCodeFactory, redemption_make
from commerce.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PAGE = "admin:campaigns_campaign_test_cart"
EVALUATE = "/api/v1/cart/evaluate"
RAW_REASONS = ("not_stackable", "budget_exhausted", "customer_limit", "min_cart", "code_unknown", "usage_limit")


def page_url() -> str:
    return reverse(PAGE)


def cart_form(*lines: tuple[str, str, str], **extra) -> dict:
    """The page's POST: ``lines`` as (product typed, quantity, unit price), then the other fields."""
    data = {"line-TOTAL_FORMS": "5", "line-INITIAL_FORMS": "0", "currency": "INR", "shipping": "0"}
    for index, (product, quantity, price) in enumerate(lines):
        data.update(
            {f"line-{index}-product": product, f"line-{index}-quantity": quantity, f"line-{index}-unit_price": price}
        )
    return {**data, **extra}


@pytest.fixture
def catalogue():
    return {
        "tee": ProductFactory(sku="TEE", name="Cotton tee", price=Decimal("500.00")),
        "cap": ProductFactory(sku="CAP", name="Sun cap", price=Decimal("100.00")),
    }


@pytest.fixture
def stack(customer):
    """Live campaigns that stack, block, cap and refuse on one cart."""
    campaigns = {
        "ten": CampaignFactory(name="Ten percent", priority=1),
        "fifty": CampaignFactory(
            name="Fifty off", priority=5, rules=[{"discount_type": "FIXED_AMOUNT", "value": Decimal("50")}]
        ),
        "alone": CampaignFactory(name="Loner", priority=-1, stackable=False),
        "coupon": CampaignFactory(
            name="Save twenty",
            redemption_type="COUPON_CODE",
            code="SAVE20",
            max_discount=Decimal("30.00"),
            rules=[{"value": Decimal("20")}],
        ),  # fmt: skip
        "spent": CampaignFactory(name="Budget gone", budget=Decimal("10.00")),
        "once": CampaignFactory(name="Once each", customer_limit=1),
    }
    CampaignCounter.objects.filter(campaign=campaigns["spent"]).update(discount_spent=Decimal("10.00"))
    redemption_make(customer=customer, campaign=campaigns["once"], order_id="EARLIER")
    snapshot_invalidate()
    return campaigns


def test_every_live_campaign_together_gives_what_the_evaluate_api_gives(console, integration_client, catalogue, stack):
    body = {
        "lines": [{"sku": "TEE", "quantity": 2, "unit_price": "500.00"}, {"sku": "CAP", "quantity": 1, "unit_price": "80.00"}],
        "codes": ["save20"], "customer": {"email": "asha@example.com"}, "shipping": "40.00",
    }  # fmt: skip
    api = integration_client.post(EVALUATE, body, format="json").json()

    response = console.post(
        page_url(),
        cart_form(
            ("Cotton tee", "2", ""),
            ("cap", "1", "80.00"),
            codes="save20",
            customer="ASHA@example.com",
            shipping="40.00",
        ),
    )

    assert response.status_code == 200
    report = response.context["report"]
    result = report.result
    applied = [(d.campaign_id, str(d.amount), str(d.shipping_amount)) for d in result.discounts]
    assert applied == [(d["campaign_id"], d["amount"], d["shipping_amount"]) for d in api["discounts"]]
    assert str(result.total_discount) == api["total_discount"] and str(result.total) == api["total"]
    assert {r["reason"] for r in api["rejected"]} <= {r.reason for r in result.rejected}
    page = response.content.decode()
    assert f'data-testid="cart-total-discount">{api["total_discount"]}<' in page
    assert {stack["ten"].pk, stack["fifty"].pk, stack["coupon"].pk} <= {d.campaign_id for d in result.discounts}


def test_refusals_caps_and_stacking_are_said_in_words(console, catalogue, stack):
    response = console.post(page_url(), cart_form(("TEE", "2", ""), codes="SAVE20, NOPE", customer="asha@example.com"))

    page = response.content.decode()
    refused = {r.campaign: r.words for r in response.context["report"].refused}
    assert refused["Loner"] == "Another campaign applied and the two do not combine."
    assert refused["Budget gone"].startswith("Its discount budget would be exceeded")
    assert refused["Once each"] == "This customer has used it as often as allowed."
    assert refused["(no campaign)"] == "No live campaign has this code."
    caps = {(c.campaign, c.cap) for c in response.context["report"].caps}
    assert caps == {("Save twenty", "Maximum discount"), ("Budget gone", "Budget"), ("Once each", "Per-customer limit")}
    assert 'data-testid="cart-stacking"' in page and "Exclusive campaigns are weighed by priority" in page
    considered = [row.campaign for row in response.context["report"].considered]
    assert considered[:2] == ["Fifty off", "Ten percent"]  # priority 5 before 1
    assert not [raw for raw in RAW_REASONS if raw in page]


def test_an_exclusive_campaign_that_wins_is_stated(console, catalogue):
    CampaignFactory(name="Everyday 5%", rules=[{"value": Decimal("5")}])
    CampaignFactory(name="VIP exclusive", exclusive=True, priority=9, rules=[{"value": Decimal("30")}])

    response = console.post(page_url(), cart_form(("TEE", "1", "")))

    report = response.context["report"]
    assert [d.name for d in report.result.discounts] == ["VIP exclusive"]
    assert report.exclusive and 'data-testid="cart-exclusive"' in response.content.decode()


def test_the_product_picker_finds_products_by_name_or_sku(console, catalogue):
    ProductFactory(sku="OLD-TEE", name="Old tee", active=False)
    url = reverse("admin:campaigns_campaign_cart_products")

    by_name = console.get(url, {"q": "tee"}).json()["results"]
    by_sku = console.get(url, {"q": "ca"}).json()["results"]

    assert by_name == [{"sku": "TEE", "name": "Cotton tee", "price": "500.00"}]
    assert [row["sku"] for row in by_sku] == ["CAP"]
    assert console.get(url, {"q": ""}).json() == {"results": []}


def test_the_sample_code_is_unused_and_given_to_nobody(console, customer):
    used = CouponCodeFactory(code="USED1", uses=1)
    campaign = used.campaign
    CouponCodeFactory(campaign=campaign, code="HERS1", assigned_to=customer, assigned_at=timezone.now())
    CouponCodeFactory(campaign=campaign, code="FREE1")
    url = reverse("admin:campaigns_campaign_cart_sample_code", args=[campaign.pk])

    response = console.get(url)
    page = console.get(page_url()).content.decode()

    assert response.json() == {"code": "FREE1"}
    assert 'data-testid="cart-sample-code"' in page and url in page


def test_a_campaign_without_a_free_code_says_so(console, customer):
    campaign = CouponCodeFactory(code="USED1", uses=1).campaign

    response = console.get(reverse("admin:campaigns_campaign_cart_sample_code", args=[campaign.pk]))

    assert (
        response.status_code == 404
        and response.json()["code"] is None
        and "no unused code" in response.json()["message"]
    )


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        ((("Nothing we sell", "1", ""),), {}, "No product has the sku or name “Nothing we sell”."),
        ((("TEE", "-2", ""),), {}, "Ensure this value is greater than or equal to 1."),
        ((("TEE", "1", "abc"),), {}, "Enter a number."),
        ((("TEE", "1", "-5"),), {}, "Ensure this value is greater than or equal to 0."),
        ((("TEE", "1", "1.999"),), {}, "Ensure that there are no more than 2 decimal places."),
        ((("", "2", ""),), {}, "Pick a product for this line."),
        ((), {}, "Add at least one product to the cart."),
        ((("TEE", "1", ""),), {"customer": "ghost@example.com"}, "No customer has the email ghost@example.com."),
        ((("TEE", "1", ""),), {"customer": "not an email"}, "Enter a valid email address."),
        ((("TEE", "1", ""),), {"shipping": "-1"}, "Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_input_is_a_message_on_the_page(console, catalogue, lines, extra, message):
    response = console.post(page_url(), cart_form(*lines, **extra))

    assert response.status_code == 200
    assert response.context["report"] is None
    assert message in response.content.decode()


def test_a_staff_account_is_not_a_customer_to_test_with(console, catalogue):
    UserFactory(email="mira@example.com", is_staff=True)

    response = console.post(page_url(), cart_form(("TEE", "1", ""), customer="mira@example.com"))

    assert response.context["report"] is None
    assert "mira@example.com is a staff account, not a customer" in response.content.decode()


def test_staff_without_campaign_permissions_cannot_test_carts(client, catalogue):
    client.force_login(UserFactory(email="ops@example.com", is_staff=True))

    assert client.get(page_url()).status_code == 403
    assert client.get(reverse("admin:campaigns_campaign_cart_products"), {"q": "tee"}).status_code == 403


def test_the_page_costs_the_same_queries_whatever_the_number_of_campaigns(console, catalogue, customer):
    CampaignFactory(name="First")
    console.post(page_url(), cart_form(("TEE", "1", ""), customer="asha@example.com"))  # warm the snapshot
    with CaptureQueriesContext(connection) as few:
        console.post(page_url(), cart_form(("TEE", "1", ""), customer="asha@example.com"))
    for n in range(8):
        CampaignFactory(name=f"More {n}", priority=n)
    console.post(page_url(), cart_form(("TEE", "1", ""), customer="asha@example.com"))

    with CaptureQueriesContext(connection) as many:
        response = console.post(page_url(), cart_form(("TEE", "1", ""), customer="asha@example.com"))

    assert len(response.context["report"].considered) == 9
    assert len(many) == len(few), [q["sql"][:100] for q in many.captured_queries]
