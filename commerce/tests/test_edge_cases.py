"""Edge cases found in review: refund arithmetic, category paths, customer references,
and the integration's own throttle."""

from decimal import Decimal

import pytest
from rest_framework.throttling import SimpleRateThrottle

from commerce.models import Category, Order, OrderStatus, Product
from commerce.tests.factories import OrderFactory, ProductFactory, order_body, order_line_body
from conftest import client_with_key
from lms.testing import assert_error

ORDERS = "/api/v1/commerce/orders/"
PRODUCTS_BULK = "/api/v1/commerce/products/bulk"

pytestmark = pytest.mark.django_db


def test_a_whole_refund_refunds_the_total_with_shipping_and_tax_and_no_rounding_left(integration_client):
    lines = [order_line_body(sku, 1, "1.00") for sku in ("A", "B", "C")]
    body = order_body("ORD-R", lines=lines, discount_total="1.00", shipping="40.00", tax_total="7.20", status="PAID")
    assert integration_client.post(ORDERS, body).status_code == 201

    response = integration_client.patch(f"{ORDERS}ORD-R/", {"status": "REFUNDED"})

    assert response.status_code == 200, response.json()
    order = Order.objects.get(external_id="ORD-R")
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_total == order.total == Decimal("49.20")


def test_a_discount_larger_than_the_goods_never_makes_a_negative_refund(integration_client):
    body = order_body(
        "ORD-D", lines=[order_line_body("A", 2, "5.00")], discount_total="20.00", shipping="40.00", status="PAID"
    )
    assert integration_client.post(ORDERS, body).status_code == 201

    partial = integration_client.patch(
        f"{ORDERS}ORD-D/", {"status": "REFUNDED", "refund_lines": [{"sku": "A", "quantity": 1}], "change_id": "R-1"}
    )

    assert partial.status_code == 200, partial.json()
    assert Order.objects.get(external_id="ORD-D").refunded_total == Decimal("0.00")


@pytest.mark.parametrize("category", [">", " > > ", "Electronics > " + "x" * 121])
def test_a_bad_category_path_rejects_its_item_and_keeps_the_others(integration_client, category):
    response = integration_client.post(
        PRODUCTS_BULK,
        {
            "products": [
                {"sku": "OK-1", "name": "Fine", "price": "1.00"},
                {"sku": "BAD-1", "name": "Bad", "price": "1.00", "category": category},
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    outcomes = [(r["key"], r["outcome"]) for r in response.json()["results"]]
    assert outcomes == [("OK-1", "created"), ("BAD-1", "rejected")]
    assert list(Product.objects.values_list("sku", flat=True)) == ["OK-1"]
    assert not Category.objects.exists()


def test_an_email_that_belongs_to_another_external_id_is_a_conflict_not_a_silent_merge(integration_client):
    OrderFactory(external_id="ORD-0", customer__email="x@example.com", customer__external_id="CX")

    response = integration_client.post(
        ORDERS, order_body("ORD-1", customer={"external_id": "CY", "email": "x@example.com"})
    )

    assert_error(response, 409, "customer_conflict")
    assert not Order.objects.filter(external_id="ORD-1").exists()


def test_the_integration_has_its_own_throttle_apart_from_anonymous_traffic(integration_key, monkeypatch, api_client):
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "anon": "1/m", "integration": "3/m"}
    )
    client = client_with_key(integration_key)
    ProductFactory(sku="P-1")
    api_client.post("/api/v1/auth/otp/send", {"email": "a@example.com"})  # uses up the anonymous budget

    statuses = [client.get("/api/v1/commerce/products/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
