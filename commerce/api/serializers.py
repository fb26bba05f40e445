"""Input validation and output shapes of the integration API (also used by the importers)."""

from decimal import Decimal

from rest_framework import serializers

from accounts.models import normalize_email
from commerce.models import EventKind, InteractionEvent, Order, OrderLine, OrderStatus, OrderStatusChange, Product
from commerce.services import MAX_BATCH
from commerce.services.catalogue import category_path_parse
from lms.api.fields import DateTimeField

MAX_LINES = 500
ZERO = Decimal("0.00")


def money(**kwargs) -> serializers.DecimalField:
    """A non-negative amount with at most 2 decimal places (more is refused, not rounded)."""
    return serializers.DecimalField(max_digits=12, decimal_places=2, min_value=ZERO, **kwargs)


# --- Catalogue --------------------------------------------------------------------------------


class ProductInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=255, required=False)
    price = money(required=False)
    stock_quantity = serializers.IntegerField(min_value=0, max_value=2_000_000_000, required=False)
    active = serializers.BooleanField(required=False)
    category = serializers.CharField(
        max_length=500, required=False, help_text='A name or a path from the root: "Electronics > Phones".'
    )
    category_id = serializers.IntegerField(min_value=1, required=False)
    brand = serializers.CharField(max_length=120, required=False)
    brand_id = serializers.IntegerField(min_value=1, required=False)

    def validate_category(self, value: str) -> str:
        parts = category_path_parse(value)
        if not parts:
            raise serializers.ValidationError('Name a category, or a path such as "Electronics > Phones".')
        if any(len(part) > 120 for part in parts):
            raise serializers.ValidationError("A category name has at most 120 characters.")
        return value

    def validate(self, attrs):
        for name in ("category", "brand"):
            if attrs.get(name) and attrs.get(f"{name}_id"):
                raise serializers.ValidationError({name: [f"Give {name} or {name}_id, not both."]})
        return attrs


class ProductsBulkInput(serializers.Serializer):
    products = ProductInput(many=True, help_text=f"At most {MAX_BATCH} per call; upserted by sku.")


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ProductOutput(serializers.ModelSerializer):
    category = CategoryRefOutput(allow_null=True)
    brand = CategoryRefOutput(allow_null=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "category",
            "brand",
            "price",
            "stock_quantity",
            "active",
            "created_at",
            "updated_at",
        ]


# --- Customers --------------------------------------------------------------------------------


class CustomerRefInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=64, required=False)
    email = serializers.EmailField(max_length=254, required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate_email(self, value: str) -> str:
        value = normalize_email(value)
        if len(value) > 254:  # lower-casing can lengthen an address
            raise serializers.ValidationError("Ensure this field has no more than 254 characters.")
        return value

    def validate(self, attrs):
        if not attrs.get("external_id") and not attrs.get("email"):
            raise serializers.ValidationError("Name the customer by external_id or email.")
        return attrs


class CustomerInput(CustomerRefInput):
    country = serializers.CharField(max_length=64, required=False, allow_blank=True)
    state = serializers.CharField(max_length=64, required=False, allow_blank=True)
    city = serializers.CharField(max_length=64, required=False, allow_blank=True)
    signed_up_at = DateTimeField(required=False, source="platform_signed_up_at")
    marketing_email = serializers.BooleanField(required=False)
    marketing_sms = serializers.BooleanField(required=False)
    marketing_push = serializers.BooleanField(required=False)


class CustomersBulkInput(serializers.Serializer):
    customers = CustomerInput(
        many=True, help_text=f"At most {MAX_BATCH} per call; upserted by external_id, else email."
    )


# --- Orders -----------------------------------------------------------------------------------


class OrderLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = money()
    line_total = money(required=False, help_text="quantity x unit_price; computed when left out.")
    category = serializers.CharField(max_length=120, required=False, allow_blank=True, help_text="For an unknown sku.")
    brand = serializers.CharField(max_length=120, required=False, allow_blank=True, help_text="For an unknown sku.")


class OrderInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=64)
    customer = CustomerRefInput()
    placed_at = DateTimeField()
    status = serializers.ChoiceField(choices=OrderStatus.choices, default=OrderStatus.PLACED)
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", default="INR", error_messages={"invalid": "An ISO 4217 code such as INR."}
    )
    subtotal = money()
    shipping = money(default=ZERO)
    discount_total = money(default=ZERO)
    tax_total = money(default=ZERO)
    total = money()
    shipping_country = serializers.CharField(max_length=64, required=False, allow_blank=True)
    shipping_state = serializers.CharField(max_length=64, required=False, allow_blank=True)
    shipping_city = serializers.CharField(max_length=64, required=False, allow_blank=True)
    payment_method = serializers.CharField(max_length=32, required=False, allow_blank=True)
    coupon_codes = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20, required=False)
    lines = OrderLineInput(many=True, allow_empty=False, max_length=MAX_LINES)

    def validate(self, attrs):
        errors: dict = {}
        seen: dict[str, int] = {}
        line_errors: dict[int, dict] = {}
        for n, line in enumerate(attrs["lines"]):
            expected = (line["unit_price"] * line["quantity"]).quantize(Decimal("0.01"))
            if "line_total" not in line:
                line["line_total"] = expected
            elif line["line_total"] != expected:
                line_errors[n] = {
                    "line_total": [
                        f"{line['line_total']} does not add up: {line['quantity']} x {line['unit_price']} = {expected}."
                    ]
                }
            if line["sku"] in seen:
                line_errors.setdefault(n, {})["sku"] = [
                    f"Duplicate sku {line['sku']!r} (also lines[{seen[line['sku']]}]); send one line with the total quantity."
                ]
            seen.setdefault(line["sku"], n)
        if line_errors:
            errors["lines"] = line_errors
        lines_sum = sum((line["line_total"] for line in attrs["lines"]), ZERO)
        if not line_errors and attrs["subtotal"] != lines_sum:
            errors["subtotal"] = [f"{attrs['subtotal']} does not add up: the lines sum to {lines_sum}."]
        expected_total = attrs["subtotal"] - attrs["discount_total"] + attrs["shipping"] + attrs["tax_total"]
        if "subtotal" not in errors and attrs["total"] != expected_total:
            errors["total"] = [
                f"{attrs['total']} does not add up: subtotal - discount_total + shipping + tax_total = {expected_total}."
            ]
        if attrs["discount_total"] > attrs["subtotal"] + attrs["shipping"]:
            errors["discount_total"] = ["The discount exceeds what the order costs."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class OrdersBulkInput(serializers.Serializer):
    orders = OrderInput(many=True, help_text=f"At most {MAX_BATCH} per call; idempotent per external_id.")


class RefundLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    amount = money(required=False, help_text="What was refunded; by default the line's share of what was paid.")


class OrderStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    refund_lines = RefundLineInput(many=True, required=False, allow_empty=False, max_length=MAX_LINES)
    change_id = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        help_text=(
            "The platform's id of this change (e.g. a refund id): a retry with it and the same body is a replay, "
            "with another body 409 `idempotency_conflict`. Required with `refund_lines`."
        ),
    )
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    occurred_at = DateTimeField(required=False)

    def validate_refund_lines(self, value):
        skus = [line["sku"] for line in value]
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        if duplicates:
            raise serializers.ValidationError(f"Duplicate sku in refund lines: {', '.join(duplicates)}.")
        return value

    def validate(self, attrs):
        # Without an id, a retried partial refund would refund the same units twice.
        if attrs.get("refund_lines") and not attrs.get("change_id"):
            raise serializers.ValidationError({"change_id": ["Required with refund_lines (the refund's id)."]})
        return attrs


class OrderLineOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = [
            "sku", "name", "quantity", "unit_price", "line_total", "refunded_quantity",
            "category_id", "category_name", "brand_id", "brand_name", "unknown_sku",
        ]  # fmt: skip


class OrderStatusChangeOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "occurred_at", "refund_amount", "external_id", "reason"]


class OrderOutput(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()
    lines = OrderLineOutput(many=True)
    status_changes = OrderStatusChangeOutput(many=True)

    class Meta:
        model = Order
        fields = [
            "id", "external_id", "customer", "placed_at", "status", "currency", "subtotal", "shipping",
            "discount_total", "tax_total", "total", "refunded_total", "shipping_country", "shipping_state",
            "shipping_city", "payment_method", "coupon_codes", "has_unknown_skus", "lines", "status_changes",
            "created_at", "updated_at",
        ]  # fmt: skip

    def get_customer(self, order: Order) -> dict:
        customer = order.customer
        return {"id": customer.pk, "external_id": customer.external_id, "email": customer.email}


class WarningOutput(serializers.Serializer):
    code = serializers.CharField()
    path = serializers.CharField()
    message = serializers.CharField()


class OrderIngestOutput(OrderOutput):
    warnings = serializers.ListField(child=WarningOutput(), read_only=True, default=list)

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "warnings"]


# --- Events -----------------------------------------------------------------------------------


class EventInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    customer = CustomerRefInput()
    sku = serializers.CharField(
        max_length=64, required=False, help_text="Required for product views, wishlist and cart adds."
    )
    occurred_at = DateTimeField()
    external_id = serializers.CharField(max_length=64, required=False, help_text="Makes a retry a replay.")


class EventsBulkInput(serializers.Serializer):
    events = EventInput(many=True, help_text=f"At most {MAX_BATCH} per call.")


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = InteractionEvent
        fields = ["id", "kind", "customer_id", "product_id", "occurred_at", "external_id"]


# --- Bulk results -----------------------------------------------------------------------------


class ItemErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ItemResultOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    key = serializers.CharField(help_text="The item's sku, external_id or email.")
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged", "replayed", "rejected"])
    error = ItemErrorOutput(required=False)
    warnings = WarningOutput(many=True, required=False)


class BulkResultOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    replayed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = ItemResultOutput(many=True)
