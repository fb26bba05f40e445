from decimal import Decimal

from rest_framework import serializers

from campaigns.engine.rules import RULE_TYPES, tiered_types_text
from campaigns.models import (
    WEEKDAYS,
    Audience,
    Campaign,
    CampaignKind,
    CampaignStatus,
    Channel,
    CodeType,
    DiscountRule,
    Period,
    RedemptionStatus,
    RedemptionType,
    Validity,
)
from lms.api.fields import DateTimeField
from lms.api.serializers import (
    MONEY,
    POSITIVE_MONEY,
    CurrencyField,
    CustomerRefInput,
    StrictInput,
    lift_group,
    notification_shapes,
    text_list,
)
from lms.api.validation import FlatListSerializer

NotificationInput, NotificationOutput = notification_shapes(tuple(Channel.choices), "notify_")
TIERS_HELP = f"Units or cart amount, per rule type: {tiered_types_text(' or ')}."
MAX_CART = Decimal("9999999999.99")  # what a redemption can store (12 digits)


class TierInput(StrictInput):
    threshold = serializers.DecimalField(**POSITIVE_MONEY, help_text=TIERS_HELP)
    value = serializers.DecimalField(**POSITIVE_MONEY)


class RuleInput(StrictInput):
    rule_type = serializers.ChoiceField(choices=DiscountRule.RuleType.choices)
    discount_type = serializers.ChoiceField(choices=DiscountRule.DiscountType.choices)
    value = serializers.DecimalField(**MONEY, required=False, allow_null=True, help_text="Percent (0-100] or amount.")
    max_discount = serializers.DecimalField(**POSITIVE_MONEY, required=False, allow_null=True)
    min_quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    max_quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    tiers = TierInput(many=True, required=False, max_length=20)
    category_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
    brand_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
    product_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=10000)
    product_segment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=100,
        help_text="Product segments (kind PRODUCT): their members as last refreshed. Taken by "
        + ", ".join(
            kind.key for kind in RULE_TYPES.values() if "product_segment_ids" in {t.field for t in kind.target_kinds}
        )
        + " rules.",
    )
    buy_quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True)
    get_quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True)
    max_applications = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True)


class CampaignBaseInput(StrictInput):
    """The fields every kind shares (loyalty programs too), all optional."""

    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False)
    starts_at = DateTimeField(required=False)
    ends_at = DateTimeField(required=False, allow_null=True)
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA, e.g. Asia/Kolkata.")
    weekdays = serializers.ListField(
        child=serializers.ChoiceField(choices=WEEKDAYS), required=False, max_length=7, help_text="Empty = every day."
    )
    daily_start = serializers.TimeField(required=False, allow_null=True)
    daily_end = serializers.TimeField(
        required=False, allow_null=True, help_text="Before daily_start: crosses midnight."
    )
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    segment_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)
    countries = text_list()
    states = text_list()
    cities = text_list()
    currency = CurrencyField(required=False)
    notification = NotificationInput(required=False)

    def validate(self, attrs):
        return lift_group(attrs, "notification", "notify_")


class CampaignFieldsInput(CampaignBaseInput):
    """The campaign fields, all optional: creation requires some (below), a change sends any."""

    redemption_type = serializers.ChoiceField(choices=RedemptionType.choices, required=False)
    code_type = serializers.ChoiceField(choices=CodeType.choices, required=False)
    code = serializers.CharField(max_length=32, required=False, allow_blank=True, help_text="The shared public code.")
    min_cart_value = serializers.DecimalField(**MONEY, min_value=Decimal("0"), required=False, allow_null=True)
    max_discount = serializers.DecimalField(**POSITIVE_MONEY, required=False, allow_null=True)
    validity = serializers.ChoiceField(choices=Validity.choices, required=False)
    usage_limit = serializers.IntegerField(min_value=1, max_value=2_000_000_000, required=False, allow_null=True)
    customer_limit = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    period_limit = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    period = serializers.ChoiceField(choices=Period.choices, required=False)
    budget = serializers.DecimalField(**POSITIVE_MONEY, required=False, allow_null=True)
    exclusive = serializers.BooleanField(required=False)
    stackable = serializers.BooleanField(required=False)
    rules = RuleInput(many=True, required=False, max_length=50)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        for rule in attrs.get("rules", []):
            rule["tiers"] = [dict(tier) for tier in rule.get("tiers", [])]
        return attrs


class CampaignCreateInput(CampaignFieldsInput):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(
        choices=[CampaignKind.DISCOUNT_COUPON, CampaignKind.FREE_SHIPPING], default=CampaignKind.DISCOUNT_COUPON
    )
    starts_at = DateTimeField()
    rules = RuleInput(many=True, max_length=50)


class CampaignUpdateInput(CampaignFieldsInput):
    """A change: any of the fields; ``rules``, when sent, replace all the rules."""


class CampaignStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices)


class TierOutput(serializers.Serializer):
    threshold = serializers.DecimalField(**MONEY)
    value = serializers.DecimalField(**MONEY)


class RuleOutput(serializers.ModelSerializer):
    tiers = TierOutput(many=True)
    category_ids = serializers.SerializerMethodField()
    brand_ids = serializers.SerializerMethodField()
    product_ids = serializers.SerializerMethodField()
    product_segment_ids = serializers.SerializerMethodField()

    class Meta:
        model = DiscountRule
        fields = [
            "id", "rule_type", "discount_type", "value", "max_discount", "min_quantity", "max_quantity", "tiers",
            "category_ids", "brand_ids", "product_ids", "product_segment_ids", "buy_quantity", "get_quantity",
            "max_applications",
        ]  # fmt: skip

    # Prefetched by the views: no query per rule.
    def get_category_ids(self, rule) -> list[int]:
        return [c.pk for c in rule.categories.all()]

    def get_brand_ids(self, rule) -> list[int]:
        return [b.pk for b in rule.brands.all()]

    def get_product_ids(self, rule) -> list[int]:
        return [p.pk for p in rule.products.all()]

    def get_product_segment_ids(self, rule) -> list[int]:
        return [s.pk for s in rule.product_segments.all()]


class UsageOutput(serializers.Serializer):
    uses = serializers.IntegerField()
    discount_spent = serializers.DecimalField(**MONEY)


class CampaignOutput(serializers.ModelSerializer):
    segment_ids = serializers.SerializerMethodField()
    notification = NotificationOutput(source="*")
    usage = serializers.SerializerMethodField()
    rules = RuleOutput(many=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "description", "kind", "status", "archived", "archived_at", "priority",
            "starts_at", "ends_at", "timezone", "weekdays", "daily_start", "daily_end",
            "audience", "segment_ids", "countries", "states", "cities",
            "redemption_type", "code_type", "code", "currency", "min_cart_value", "max_discount",
            "validity", "usage_limit", "customer_limit", "period_limit", "period", "budget",
            "exclusive", "stackable", "notification", "usage", "rules", "created_at", "updated_at",
        ]  # fmt: skip

    def get_segment_ids(self, campaign) -> list[int]:
        return [s.pk for s in campaign.segments.all()]

    def get_usage(self, campaign) -> UsageOutput:
        counter = getattr(campaign, "counter", None)
        return {
            "uses": counter.uses if counter else 0,
            "discount_spent": f"{counter.discount_spent if counter else Decimal('0'):.2f}",
        }


# --- Cart ------------------------------------------------------------------------------------


class CartCustomerInput(CustomerRefInput):
    pass


class CartLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = serializers.DecimalField(**MONEY, min_value=Decimal("0"))
    category = serializers.CharField(
        max_length=120, required=False, help_text="For a sku we do not mirror: category external id or name."
    )
    brand = serializers.CharField(max_length=120, required=False, help_text="As category.")

    class Meta:
        list_serializer_class = FlatListSerializer  # a cart's lines: the hot path's validation


class LocationInput(serializers.Serializer):
    country = serializers.CharField(max_length=64, required=False, allow_blank=True)
    state = serializers.CharField(max_length=64, required=False, allow_blank=True)
    city = serializers.CharField(max_length=64, required=False, allow_blank=True)


class UsePointsInput(StrictInput):
    program_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The loyalty program's id.")
    points = serializers.IntegerField(
        min_value=1, max_value=1_000_000_000, help_text="At most this many; fewer when the cart costs less."
    )


class CartEvaluateInput(serializers.Serializer):
    customer = CartCustomerInput(required=False, help_text="Optional for a guest; a customer's own token implies it.")
    codes = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=20)
    lines = CartLineInput(many=True, min_length=1, max_length=500)
    shipping = serializers.DecimalField(**MONEY, min_value=Decimal("0"), default=Decimal("0.00"))
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", default="INR")
    location = LocationInput(required=False)
    at = DateTimeField(
        required=False, help_text="Pin the evaluation time (default: now): from a day ago to a year ahead."
    )
    use_points = UsePointsInput(
        required=False, help_text="Spend loyalty points as a discount line on the items (needs the customer)."
    )

    def validate(self, attrs):
        total = sum((line["quantity"] * line["unit_price"] for line in attrs["lines"]), attrs["shipping"])
        if total > MAX_CART:
            raise serializers.ValidationError({"lines": [f"The cart's total is above {MAX_CART:,}."]})
        return attrs


class RedemptionInput(CartEvaluateInput):
    order_id = serializers.RegexField(
        r"^[^/\x00]{1,64}$", max_length=64, help_text="The platform's order id (no '/'): the idempotency key."
    )
    customer = CartCustomerInput()
    expected_total_discount = serializers.DecimalField(
        **MONEY,
        required=False,
        help_text="What checkout showed; a different discount now answers 409 discount_changed.",
    )


class LineDiscountOutput(serializers.Serializer):
    sku = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)


class AppliedOutput(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField(help_text="Empty for automatic campaigns.")
    amount = serializers.DecimalField(**MONEY, help_text="Off the items.")
    shipping_amount = serializers.DecimalField(**MONEY)
    lines = LineDiscountOutput(many=True)


class RejectedOutput(serializers.Serializer):
    campaign_id = serializers.IntegerField(allow_null=True)
    code = serializers.CharField(allow_null=True)
    reason = serializers.CharField(help_text="One of the documented reasons (README).")
    message = serializers.CharField()


class HintOutput(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    message = serializers.CharField()
    missing_amount = serializers.DecimalField(**MONEY, allow_null=True)
    missing_quantity = serializers.IntegerField(allow_null=True)


class PointsUsedOutput(serializers.Serializer):
    program_id = serializers.IntegerField()
    points = serializers.IntegerField(help_text="Points spent (fewer than asked when the cart costs less).")
    value = serializers.DecimalField(**MONEY)
    balance = serializers.IntegerField(help_text="Before spending.")
    balance_after = serializers.IntegerField()


class ExclusiveOutput(serializers.Serializer):
    policy = serializers.ChoiceField(choices=["priority", "best"], help_text="CAMPAIGNS_EXCLUSIVE_POLICY.")
    campaign_id = serializers.IntegerField(
        allow_null=True,
        help_text="The exclusive campaign applied, or the one the stack beat; null: none gave anything.",
    )
    outcome = serializers.ChoiceField(choices=["exclusive", "stack"])
    message = serializers.CharField()


class CartEvaluateOutput(serializers.Serializer):
    subtotal = serializers.DecimalField(**MONEY)
    shipping = serializers.DecimalField(**MONEY)
    discounts = AppliedOutput(many=True)
    shipping_discount = serializers.DecimalField(**MONEY)
    total_discount = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    rejected = RejectedOutput(many=True)
    hints = HintOutput(many=True)
    points = PointsUsedOutput(allow_null=True, help_text="Points used as a discount line (use_points), else null.")
    exclusive = ExclusiveOutput(
        allow_null=True, required=False, help_text="How an eligible exclusive campaign was weighed, else null."
    )


class RedemptionOutput(CartEvaluateOutput):
    order_id = serializers.CharField()
    status = serializers.ChoiceField(choices=RedemptionStatus.choices)


class RedemptionVoidInput(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
