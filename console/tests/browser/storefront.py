"""What the shop does between two console pages, through the real integration API (Django's
test client in this process, with the shop's API key): a checkout that redeems a cart's codes,
then the order it placed. The console's figures are then read off its pages."""

from decimal import Decimal

from django.utils import timezone
from rest_framework.test import APIClient

from commerce.tests.factories import order_body, order_line_body

Line = tuple[str, int, str]  # sku, quantity, unit price


def shop_checkout(shop: APIClient, *, order_id: str, email: str, lines: list[Line], codes: list[str]) -> Decimal:
    """``POST /api/v1/redemptions`` (the discount is taken), then ``POST /api/v1/commerce/orders/``
    (the order, with that discount, is placed now); answers the discount."""
    cart = [{"sku": sku, "quantity": quantity, "unit_price": price} for sku, quantity, price in lines]
    body = {"order_id": order_id, "customer": {"email": email}, "lines": cart, "codes": codes}
    redeemed = shop.post("/api/v1/redemptions", body, format="json")
    assert redeemed.status_code == 201, redeemed.content
    discount = redeemed.json()["total_discount"]
    shop_order(shop, order_id=order_id, email=email, lines=lines, discount=discount)
    return Decimal(discount)


def shop_order(shop: APIClient, *, order_id: str, email: str, lines: list[Line], discount: str = "0.00") -> None:
    """``POST /api/v1/commerce/orders/``: the order, placed now."""
    body = order_body(
        order_id,
        customer={"email": email},
        lines=[order_line_body(sku, quantity, price) for sku, quantity, price in lines],
        discount_total=discount,
        placed_at=timezone.now().isoformat(),
    )
    placed = shop.post("/api/v1/commerce/orders/", body, format="json")
    assert placed.status_code == 201, placed.content
