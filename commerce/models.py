"""Mirror of the e-commerce platform: catalogue, orders, refunds and interaction events.

The platform is the source of truth; these rows are what campaigns, loyalty and segments
evaluate against. External ids are the idempotency keys of ingestion.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


class Category(models.Model):
    name = models.CharField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            # A name is unique among its siblings (two partial constraints: NULL parents count).
            models.UniqueConstraint(
                Lower("name"), condition=Q(parent__isnull=True), name="commerce_category_root_name_unique"
            ),
            models.UniqueConstraint(
                "parent", Lower("name"), condition=Q(parent__isnull=False), name="commerce_category_child_name_unique"
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="commerce_category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Brand(models.Model):
    name = models.CharField(max_length=120)
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="commerce_brand_name_unique")]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(**MONEY)
    stock_quantity = models.IntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="commerce_product_price_not_negative"),
            models.CheckConstraint(condition=Q(stock_quantity__gte=0), name="commerce_product_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class OrderStatus(models.TextChoices):
    PLACED = "PLACED", "Placed"
    PAID = "PAID", "Paid"
    FULFILLED = "FULFILLED", "Fulfilled"
    CANCELLED = "CANCELLED", "Cancelled"
    REFUNDED = "REFUNDED", "Refunded"


# The platform's order life cycle. A partial refund keeps the status; refunding what remains
# makes it REFUNDED. Anything not listed (REFUNDED -> PAID, CANCELLED -> PAID, ...) is refused.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.FULFILLED, OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.FULFILLED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


# The one definition of a counted order (a purchase: segments' order counts and spend,
# loyalty's earning and "has ordered", a campaign's new or existing customer): any order not
# cancelled and not fully refunded. A partial refund keeps the order counted (its lines carry
# what was returned). ``Order.objects.counted()`` applies it; the tuples are for the places that
# filter related rows, write raw SQL or look at a status in Python.
UNCOUNTED_STATUSES: tuple[str, ...] = (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
COUNTED_STATUSES: tuple[str, ...] = tuple(status for status in OrderStatus if status not in UNCOUNTED_STATUSES)


class OrderQuerySet(models.QuerySet):
    def counted(self) -> "OrderQuerySet":
        """Orders that count as purchases (not cancelled, not fully refunded)."""
        return self.filter(status__in=COUNTED_STATUSES)  # the same rows as excluding the others; IN uses the index


class Order(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    currency = models.CharField(max_length=3, default="INR")
    subtotal = models.DecimalField(**MONEY)
    shipping = models.DecimalField(**MONEY, default=ZERO)
    discount_total = models.DecimalField(**MONEY, default=ZERO)
    tax_total = models.DecimalField(**MONEY, default=ZERO)
    total = models.DecimalField(**MONEY)
    refunded_total = models.DecimalField(**MONEY, default=ZERO)
    shipping_country = models.CharField(max_length=64, blank=True)
    shipping_state = models.CharField(max_length=64, blank=True)
    shipping_city = models.CharField(max_length=64, blank=True)
    payment_method = models.CharField(max_length=32, blank=True)
    coupon_codes = models.JSONField(default=list, blank=True)
    has_unknown_skus = models.BooleanField(default=False, help_text="A line names a sku the catalogue does not have.")
    # sha256 of the canonical ingested body: a retry with the same body is a replay, a
    # different body under the same external_id is a conflict.
    request_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "placed_at"], name="commerce_order_customer_time"),
            models.Index(fields=["-placed_at", "-id"], name="commerce_order_latest"),  # the default order
            models.Index(fields=["status"], name="commerce_order_status"),
            # The reports' revenue over a range of days (``campaigns.reports.revenue_split``): the
            # counted orders' figures ride in the index, so the scan never reads the table (index-only).
            models.Index(
                fields=["placed_at"],
                include=["total", "refunded_total", "external_id"],
                condition=Q(status__in=COUNTED_STATUSES),
                name="commerce_order_counted_when",
            ),
            # "Orders changed since" (campaigns.revenue_days): ingestion, status changes, refunds.
            models.Index(fields=["updated_at"], name="commerce_order_changed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, shipping__gte=0, discount_total__gte=0, tax_total__gte=0, total__gte=0),
                name="commerce_order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(refunded_total__lte=F("total")), name="commerce_order_refund_within_total"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    line_total = models.DecimalField(**MONEY)
    refunded_quantity = models.PositiveIntegerField(default=0)
    # Captured at purchase time: a product moved to another category later does not
    # rewrite what was bought.
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    category_name = models.CharField(max_length=120, blank=True)
    brand_name = models.CharField(max_length=120, blank=True)
    unknown_sku = models.BooleanField(default=False)

    class Meta:
        ordering = ["order_id", "id"]
        indexes = [
            models.Index(fields=["product", "order"], name="commerce_line_product_order"),
            models.Index(fields=["category"], name="commerce_line_category"),
            models.Index(fields=["brand"], name="commerce_line_brand"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "sku"], name="commerce_line_sku_once_per_order"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="commerce_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=F("quantity")), name="commerce_line_refund_within_quantity"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0, line_total__gte=0), name="commerce_line_amounts"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x{self.quantity}"


class OrderStatusChange(models.Model):
    """One state change of an order, as ingested; a refund carries its lines."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=OrderStatus.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    refund_amount = models.DecimalField(**MONEY, default=ZERO)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="The platform's id of this change (e.g. its refund id)."
    )
    request_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",  # rows COPYed without the column (the demo seed) get it too
        help_text="Fingerprint of the body sent with the change_id (a retry must match).",
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], condition=~Q(external_id=""), name="commerce_change_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="commerce_change_refund_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class RefundLine(models.Model):
    change = models.ForeignKey(OrderStatusChange, on_delete=models.CASCADE, related_name="refund_lines")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="refunds")
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1, amount__gte=0), name="commerce_refundline_quantity")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x line {self.line_id}: {self.amount}"


class EventKind(models.TextChoices):
    LOGIN = "LOGIN", "Login"
    PRODUCT_VIEW = "PRODUCT_VIEW", "Product view"
    WISHLIST_ADD = "WISHLIST_ADD", "Wishlist add"
    CART_ADD = "CART_ADD", "Cart add"
    CART_ABANDON = "CART_ABANDON", "Cart abandon"


PRODUCT_EVENT_KINDS = frozenset({EventKind.PRODUCT_VIEW, EventKind.WISHLIST_ADD, EventKind.CART_ADD})


class InteractionEvent(models.Model):
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interaction_events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # "How many X did this customer / this product have since T?"
            models.Index(fields=["customer", "kind", "occurred_at"], name="commerce_event_customer_kind"),
            models.Index(fields=["product", "kind", "occurred_at"], name="commerce_event_product_kind"),
            models.Index(fields=["-occurred_at", "-id"], name="commerce_event_latest"),  # the console's list
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.customer_id} at {self.occurred_at:%Y-%m-%d %H:%M}"
