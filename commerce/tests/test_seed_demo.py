"""``manage.py seed_demo``: a realistic, deterministic demo set, written set-based (COPY)."""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Min, OuterRef, Subquery, Sum
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from accounts.models import User
from accounts.tests.factories import UserFactory
from commerce import demo
from commerce.api.serializers import OrderInput
from commerce.models import (
    Brand,
    Category,
    EventKind,
    InteractionEvent,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Product,
)
from commerce.services.orders import order_request_hash

pytestmark = pytest.mark.django_db

AS_OF = "2026-06-30"
SMALL = ["--customers", "120", "--orders", "400", "--products", "40", "--as-of", AS_OF, "--no-progress"]


def seed_demo(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def digest() -> str:
    """A fingerprint of the demo rows by their natural keys (ids and write times left out)."""
    h = hashlib.sha256()

    def feed(queryset, *fields: str) -> None:
        for row in queryset.values_list(*fields).iterator():
            h.update(repr(row).encode())

    feed(Category.objects.order_by("parent__name", "name"), "parent__name", "name")
    feed(Brand.objects.order_by("name"), "name")
    feed(
        Product.objects.order_by("sku"),
        *("sku", "name", "category__name", "brand__name", "price", "stock_quantity", "active"),
    )
    feed(
        User.objects.filter(external_id__isnull=False).order_by("external_id"),
        *("external_id", "email", "first_name", "last_name", "phone", "country", "state", "city"),
        *("platform_signed_up_at", "date_joined", "marketing_email", "marketing_sms", "marketing_push"),
    )
    feed(
        Order.objects.order_by("external_id"),
        *("external_id", "customer__external_id", "placed_at", "status", "currency", "subtotal", "shipping"),
        *("discount_total", "tax_total", "total", "refunded_total", "shipping_country", "shipping_state"),
        *("shipping_city", "payment_method", "coupon_codes", "request_hash"),
    )
    feed(
        OrderLine.objects.order_by("order__external_id", "id"),
        *("order__external_id", "product__sku", "sku", "name", "quantity", "unit_price", "line_total"),
        *("refunded_quantity", "category__name", "brand__name", "category_name", "brand_name"),
    )
    feed(
        OrderStatusChange.objects.order_by("order__external_id", "id"),
        *("order__external_id", "from_status", "to_status", "occurred_at", "refund_amount"),
    )
    feed(
        InteractionEvent.objects.order_by("customer__external_id", "occurred_at", "kind", "product__sku"),
        *("customer__external_id", "kind", "product__sku", "occurred_at"),
    )
    return h.hexdigest()


def wipe() -> None:
    InteractionEvent.objects.all().delete()
    Order.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    Brand.objects.all().delete()
    User.objects.filter(external_id__isnull=False).delete()


def integration_client() -> APIClient:
    _, key = APIKey.objects.create_key(name="storefront")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def api_body(order: Order) -> dict:
    """The order as the platform would have posted it, rebuilt from the stored rows."""
    return {
        "external_id": order.external_id,
        "customer": {"external_id": order.customer.external_id},
        "placed_at": order.placed_at.isoformat(),
        "status": order.status,
        "currency": order.currency,
        **{name: str(getattr(order, name)) for name in ("subtotal", "shipping", "discount_total", "tax_total")},
        "total": str(order.total),
        "shipping_country": order.shipping_country,
        "shipping_state": order.shipping_state,
        "shipping_city": order.shipping_city,
        "payment_method": order.payment_method,
        "coupon_codes": order.coupon_codes,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
            }
            for line in order.lines.order_by("id")
        ],
    }


def test_default_demo_set_has_the_promised_shape_and_its_totals_add_up():
    before = datetime.now(UTC)

    output = seed_demo("--no-progress")

    assert re.search(r"Seeded \d+ categories, \d+ brands, 200 products, 500 customers, 3000 orders", output)
    # A category tree: every product sits in a leaf under a root such as Electronics.
    roots = set(Category.objects.filter(parent__isnull=True).values_list("name", flat=True))
    assert {"Electronics", "Groceries", "Fashion", "Home & Kitchen", "Beauty", "Sports"} <= roots
    assert set(Category.objects.filter(parent__name="Electronics").values_list("name", flat=True)) >= {
        "Phones",
        "Laptops",
        "Audio",
    }
    assert not Product.objects.filter(category__parent__isnull=True).exists()
    assert 15 <= Brand.objects.count() <= 30
    assert Product.objects.count() == 200
    assert Product.objects.filter(price__lte=0).count() == 0
    assert Product.objects.filter(category__name="Laptops").aggregate(low=Min("price"))["low"] >= 29_999
    assert Product.objects.filter(category__parent__name="Groceries").aggregate(high=Max("price"))["high"] <= 699
    assert Product.objects.filter(stock_quantity=0).count() >= 5  # out of stock
    assert Product.objects.filter(stock_quantity__range=(1, 9)).count() >= 10  # low
    assert Product.objects.filter(stock_quantity__gte=1_000).count() >= 5  # overstocked

    customers = User.objects.filter(external_id__regex=r"^C\d{6}$")
    assert customers.count() == User.objects.count() == 500
    assert all(not user.has_usable_password() for user in customers)
    assert customers.filter(email__endswith="@example.com").values("email").distinct().count() == 500
    assert customers.filter(state="", city="").count() == 0
    signed_up = customers.aggregate(first=Min("platform_signed_up_at"), last=Max("platform_signed_up_at"))
    assert before - timedelta(days=731) <= signed_up["first"] and signed_up["last"] <= before
    assert 0 < customers.filter(marketing_email=True).count() < 500
    assert customers.filter(role="USER", is_staff=False, is_superuser=False, email_verified_at=None).count() == 500

    orders = Order.objects.all()
    assert orders.count() == 3000
    by_status = dict(orders.values_list("status").annotate(n=Count("id")))
    assert set(by_status) <= set(OrderStatus.values)
    assert by_status[OrderStatus.FULFILLED] + by_status[OrderStatus.PAID] > 0.75 * 3000
    assert by_status[OrderStatus.CANCELLED] > 0 and by_status[OrderStatus.REFUNDED] > 0
    placed = orders.aggregate(first=Min("placed_at"), last=Max("placed_at"))
    assert before - timedelta(days=183) <= placed["first"] and placed["last"] <= before
    assert not orders.filter(placed_at__lt=F("customer__platform_signed_up_at")).exists()
    assert orders.exclude(coupon_codes=[]).count() > 300 and orders.filter(discount_total__gt=0).count() > 300

    # Money adds up on every order and every line.
    line_sums = OrderLine.objects.filter(order=OuterRef("pk")).values("order").annotate(s=Sum("line_total"))
    checked = orders.annotate(lines_sum=Subquery(line_sums.values("s")), line_count=Count("lines"))
    assert not checked.exclude(subtotal=F("lines_sum")).exists()
    assert not orders.exclude(total=F("subtotal") - F("discount_total") + F("shipping") + F("tax_total")).exists()
    assert not checked.filter(line_count__gt=5).exists() and not checked.filter(line_count__lt=1).exists()
    assert not OrderLine.objects.exclude(line_total=F("unit_price") * F("quantity")).exists()
    # Shipping is charged only below the free-shipping threshold, GST on the fee only.
    assert not orders.filter(shipping__gt=0, subtotal__gte=F("discount_total") + 499).exists()
    assert orders.filter(shipping=Decimal("40.00"), tax_total=Decimal("7.20")).exists()
    assert not orders.filter(shipping=0).exclude(tax_total=0).exists()
    refunded = orders.filter(status=OrderStatus.REFUNDED)
    assert not refunded.exclude(refunded_total=F("total")).exists()
    assert not orders.exclude(status=OrderStatus.REFUNDED).exclude(refunded_total=0).exists()

    # Lines capture the product's category and brand (ids and names) at purchase time.
    lines = OrderLine.objects.all()
    assert not lines.filter(product__isnull=True).exists() and not lines.filter(unknown_sku=True).exists()
    assert not lines.exclude(category_id=F("product__category_id")).exists()
    assert not lines.exclude(brand_id=F("product__brand_id")).exists()
    assert not lines.exclude(category_name=F("category__name")).exists()
    assert not lines.exclude(brand_name=F("brand__name")).exists()
    assert not lines.exclude(sku=F("product__sku")).exists()

    # One initial status change per order, as ingestion writes it.
    changes = OrderStatusChange.objects.all()
    assert changes.count() == 3000
    assert not changes.exclude(from_status="").exists()
    assert not changes.exclude(to_status=F("order__status")).exists()
    assert not changes.exclude(occurred_at=F("order__placed_at")).exists()

    # Events: several per customer, every kind, skewed towards heavy users.
    events = InteractionEvent.objects.all()
    assert 1_500 <= events.count() <= 6_000
    assert set(events.values_list("kind", flat=True).distinct()) == set(EventKind.values)
    assert not events.filter(kind=EventKind.LOGIN, product__isnull=False).exists()
    assert not events.exclude(kind=EventKind.LOGIN).filter(product__isnull=True).exists()
    assert not events.filter(occurred_at__lt=F("customer__platform_signed_up_at")).exists()
    per_customer = sorted(events.values("customer").annotate(n=Count("id")).values_list("n", flat=True))
    assert per_customer[-1] >= 8 * per_customer[len(per_customer) // 2]


def test_same_seed_gives_the_same_rows_and_another_seed_does_not():
    seed_demo("--seed", "7", *SMALL)
    first = digest()
    wipe()

    seed_demo("--seed", "7", *SMALL)
    again = digest()
    wipe()
    seed_demo("--seed", "8", *SMALL)
    other = digest()

    assert again == first
    assert other != first


def test_orm_path_and_any_chunk_size_write_the_same_rows_as_copy(monkeypatch):
    spec = demo.DemoSpec(seed=3, products=30, customers=80, orders=300, as_of=datetime(2026, 6, 30, 18, 30, tzinfo=UTC))
    demo.seed(spec, method="copy")
    by_copy = digest()
    wipe()
    demo.seed(spec, method="orm")
    by_orm = digest()
    wipe()
    monkeypatch.setattr(demo.write, "CHUNK", 64)  # where the writer reads it

    summary = demo.seed(spec)

    assert by_orm == by_copy
    assert digest() == by_copy
    assert (summary.products, summary.customers, summary.orders) == (30, 80, 300)


def test_scaled_run_through_copy_loads_every_row():
    output = seed_demo(
        "--customers", "300", "--orders", "2000", "--products", "50", "--seed", "11", "--as-of", AS_OF, "--no-progress"
    )

    assert "(copy)" in output
    assert (Product.objects.count(), User.objects.count(), Order.objects.count()) == (50, 300, 2000)
    assert OrderStatusChange.objects.count() == 2000
    assert OrderLine.objects.count() == Order.objects.aggregate(n=Count("lines"))["n"] > 2000
    assert Order.objects.values("customer").distinct().count() > 200


def test_if_empty_loads_an_empty_database_once_then_skips():
    first = seed_demo("--if-empty", *SMALL)
    orders = Order.objects.count()

    second = seed_demo("--if-empty", *SMALL)

    assert first.startswith("Seeded")
    assert second.strip() == "Demo data not loaded: the database already has 40 products and 400 orders."
    assert Order.objects.count() == orders == 400
    assert User.objects.count() == 120


def test_if_empty_skips_when_only_products_exist():
    Product.objects.create(sku="EXISTING-1", name="Kept", price=Decimal("10.00"))

    output = seed_demo("--if-empty", *SMALL)

    assert "not loaded" in output
    assert Product.objects.count() == 1 and not User.objects.exists() and not Order.objects.exists()


def test_seeding_again_without_if_empty_is_refused_and_writes_nothing():
    seed_demo(*SMALL)
    counts = (User.objects.count(), Product.objects.count(), Order.objects.count(), InteractionEvent.objects.count())

    with pytest.raises(CommandError, match="already loaded: the demo's customer C000001 and product"):
        seed_demo(*SMALL)

    after = (User.objects.count(), Product.objects.count(), Order.objects.count(), InteractionEvent.objects.count())
    assert after == counts


def test_orders_without_customers_are_refused():
    with pytest.raises(CommandError, match="Orders need customers and products"):
        seed_demo("--customers", "0", "--orders", "10", "--no-progress")

    assert not Product.objects.exists()


def test_rows_created_after_a_seed_get_fresh_ids_through_orm_and_api():
    seed_demo(*SMALL)
    top = {model: model.objects.aggregate(top=Max("id"))["top"] for model in (User, Product, Order, OrderLine)}
    client = integration_client()
    customer = User.objects.get(external_id="C000001")

    user = UserFactory()
    product = Product.objects.create(sku="NEW-1", name="New", price=Decimal("99.00"))
    order = Order.objects.create(
        external_id="NEW-ORDER-1", customer=customer, placed_at=datetime.now(UTC), subtotal=1, total=1
    )
    line = OrderLine.objects.create(order=order, sku="NEW-1", quantity=1, unit_price=1, line_total=1)
    products = client.post(
        "/api/v1/commerce/products/bulk", {"products": [{"sku": "NEW-2", "name": "Newer", "price": "5.00"}]}
    )
    customers = client.post(
        "/api/v1/commerce/customers/bulk", {"customers": [{"external_id": "NEW-C", "email": "new-c@example.com"}]}
    )
    posted = client.post(
        "/api/v1/commerce/orders/",
        {
            "external_id": "NEW-ORDER-2",
            "customer": {"external_id": "C000002"},
            "placed_at": "2026-06-29T10:00:00Z",
            "subtotal": "10.00",
            "total": "10.00",
            "lines": [{"sku": "NEW-2", "quantity": 2, "unit_price": "5.00"}],
        },
    )

    assert products.status_code == 200 and products.json()["created"] == 1, products.content
    assert customers.status_code == 200 and customers.json()["created"] == 1, customers.content
    assert posted.status_code == 201, posted.content
    assert user.pk > top[User] and User.objects.get(external_id="NEW-C").pk > top[User]
    assert product.pk > top[Product] and Product.objects.get(sku="NEW-2").pk > top[Product]
    assert order.pk > top[Order] and Order.objects.get(external_id="NEW-ORDER-2").pk > top[Order]
    assert line.pk > top[OrderLine]


def test_a_demo_order_posted_again_is_a_replay_and_changed_is_a_conflict():
    seed_demo(*SMALL)
    client = integration_client()
    order = Order.objects.filter(status=OrderStatus.FULFILLED, discount_total__gt=0).first()
    body = api_body(order)
    changed = {**body, "lines": [{**body["lines"][0], "name": "Something else"}, *body["lines"][1:]]}

    replay = client.post("/api/v1/commerce/orders/", body)
    conflict = client.post("/api/v1/commerce/orders/", changed)

    assert replay.status_code == 201, replay.content
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == order.pk
    assert conflict.status_code == 409 and conflict.json()["code"] == "order_conflict"
    assert Order.objects.count() == 400


def test_order_bodies_are_the_api_shape_of_the_seeded_orders():
    spec = demo.DemoSpec(seed=5, products=40, customers=120, orders=50, as_of=datetime(2026, 6, 30, tzinfo=UTC))
    demo.seed(spec)
    bodies = list(demo.order_bodies(spec))
    client = integration_client()

    response = client.post("/api/v1/commerce/orders/bulk", {"orders": bodies})

    assert response.status_code == 200, response.content
    assert response.json()["replayed"] == 50 and response.json()["created"] == 0
    assert bodies[0] == api_body(Order.objects.get(external_id=bodies[0]["external_id"]))


def test_demo_request_hash_is_the_hash_the_api_computes():
    spec = demo.DemoSpec(seed=9, products=60, customers=50, orders=500, as_of=datetime(2026, 6, 30, tzinfo=UTC))
    planner = demo.OrderPlanner(spec, demo.plan_products(spec), demo.Customers(spec))

    for planned in planner.orders():
        validated = OrderInput(data=demo.order_body(planned.data))
        assert validated.is_valid(), validated.errors
        assert demo.request_hash(demo.order_body(planned.data)) == order_request_hash(validated.validated_data)


def test_if_empty_skips_when_the_demo_customers_are_already_there():
    seed_demo("--products", "0", "--orders", "0", "--customers", "20", "--events-per-customer", "0", "--no-progress")

    output = seed_demo("--if-empty", *SMALL)

    assert output.strip() == "Demo data not loaded: the demo's customer C000001 already exists."
    assert User.objects.count() == 20 and not Product.objects.exists()
