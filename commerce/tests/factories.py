"""Catalogue and order factories, plus builders of integration API bodies.

``OrderFactory(lines=[(product, 2), (other, 1)], discount_total=Decimal("20.00"))`` makes an
order whose lines and totals add up (the lines capture the product's category and brand, as
ingestion does). Orders made here bypass ingestion: they have no request hash, so posting
"the same" order through the API is a conflict, not a replay.
"""

from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from commerce.models import ZERO, Brand, Category, Order, OrderLine, OrderStatus, OrderStatusChange, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name", "parent")

    name = factory.Sequence(lambda n: f"Category {n}")
    parent = None


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Brand {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    brand = factory.SubFactory(BrandFactory)
    price = Decimal("100.00")
    stock_quantity = 10
    active = True


def _line_for(order: Order, product: Product, quantity: int, unit_price: Decimal | None = None) -> OrderLine:
    unit_price = product.price if unit_price is None else unit_price
    return OrderLine(
        order=order,
        product=product,
        sku=product.sku,
        name=product.name,
        quantity=quantity,
        unit_price=unit_price,
        line_total=(unit_price * quantity).quantize(Decimal("0.01")),
        category=product.category,
        brand=product.brand,
        category_name=product.category.name if product.category else "",
        brand_name=product.brand.name if product.brand else "",
    )


class OrderFactory(factory.django.DjangoModelFactory):
    """``lines``: ``[(product, quantity)]`` or ``[(product, quantity, unit_price)]``; by default
    one unit of a new product. Subtotal and total are computed from the lines."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    external_id = factory.Sequence(lambda n: f"ORD-{n:06d}")
    # A customer the integration created: no password (and no slow password hashing).
    customer = factory.SubFactory(UserFactory, password=None)
    placed_at = factory.LazyFunction(timezone.now)
    status = OrderStatus.PLACED
    subtotal = ZERO
    total = ZERO
    discount_total = ZERO
    shipping = ZERO
    tax_total = ZERO

    @factory.post_generation
    def lines(obj, create, extracted, **kwargs):
        if not create:
            return
        specs = extracted if extracted is not None else [(ProductFactory(), 1)]
        lines = OrderLine.objects.bulk_create([_line_for(obj, *spec) for spec in specs])
        obj.subtotal = sum((line.line_total for line in lines), ZERO)
        obj.total = obj.subtotal - obj.discount_total + obj.shipping + obj.tax_total
        obj.save(update_fields=["subtotal", "total"])
        OrderStatusChange.objects.create(order=obj, from_status="", to_status=obj.status, occurred_at=obj.placed_at)


# --- API bodies -------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def order_line_body(sku: str, quantity: int = 1, unit_price: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "quantity": quantity,
        "unit_price": unit_price,
        "line_total": money(Decimal(unit_price) * quantity),
        **extra,
    }


def order_body(
    external_id: str = "ORD-1",
    *,
    lines: list[dict[str, Any]] | None = None,
    customer: dict[str, Any] | None = None,
    discount_total: str = "0.00",
    shipping: str = "0.00",
    tax_total: str = "0.00",
    **extra: Any,
) -> dict[str, Any]:
    """A valid ``POST /api/v1/commerce/orders/`` body whose amounts add up."""
    lines = lines if lines is not None else [order_line_body("SKU-1")]
    subtotal = sum((Decimal(line["line_total"]) for line in lines), ZERO)
    total = subtotal - Decimal(discount_total) + Decimal(shipping) + Decimal(tax_total)
    return {
        "external_id": external_id,
        "customer": customer if customer is not None else {"external_id": "C-1", "email": "buyer@example.com"},
        "placed_at": "2025-01-15T10:00:00Z",
        "subtotal": money(subtotal),
        "discount_total": discount_total,
        "shipping": shipping,
        "tax_total": tax_total,
        "total": money(total),
        "lines": lines,
        **extra,
    }
