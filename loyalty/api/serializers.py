from decimal import Decimal

from django.db import models
from rest_framework import serializers

from campaigns.models import WEEKDAYS, Campaign, CampaignStatus, Channel
from lms.api.fields import DateTimeField
from lms.api.serializers import (
    MONEY,
    CurrencyField,
    CustomerRefInput,
    PlacesInput,
    StrictInput,
    lift_group,
    notification_shapes,
)
from loyalty.models import EarningRule, PointsTransaction, Rounding, Tier, TierBasis
from loyalty.services.messages import ALLOWED
from loyalty.services.programs import MESSAGE_FIELDS

RATE = {"max_digits": 12, "decimal_places": 4}
# What points are worth has no fixed size: balances add up without bound (a program's liability).
POINTS_MONEY = {"max_digits": None, "decimal_places": 2}
MAX_POINTS = 1_000_000_000
NotificationInput, NotificationOutput = notification_shapes(tuple(Channel.choices), "notify_")
# The campaign row's fields a program has (its schedule, audience, geography and notification).
ROW_FIELDS = [
    "name", "description", "status", "priority", "starts_at", "ends_at", "timezone", "weekdays", "daily_start",
    "daily_end", "audience", "segment_ids", "countries", "states", "cities", "currency", "notification",
]  # fmt: skip


def template_field(length: int, event: str) -> serializers.CharField:
    allowed = ", ".join(sorted(ALLOWED[event]))
    return serializers.CharField(
        max_length=length,
        required=False,
        allow_blank=True,
        help_text=f"A template; blank = the default. Placeholders: {allowed}.",
    )


class StreakStepInput(StrictInput):
    days = serializers.IntegerField(min_value=1, max_value=3650)
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2)


class EarningRuleInput(StrictInput):
    rule_type = serializers.ChoiceField(choices=EarningRule.RuleType.choices)
    points_per_rupee = serializers.DecimalField(**RATE, required=False, allow_null=True, help_text="e.g. 10, or 0.5.")
    rounding = serializers.ChoiceField(choices=Rounding.choices, required=False)
    min_order_value = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    bonus_points = serializers.IntegerField(max_value=MAX_POINTS, required=False, allow_null=True)
    bonus_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    base_points = serializers.IntegerField(max_value=MAX_POINTS, required=False, allow_null=True)
    streak_steps = StreakStepInput(many=True, required=False, max_length=20)
    max_multiplier = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, allow_null=True)
    category_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)


class LoyaltyTierInput(StrictInput):
    name = serializers.CharField(max_length=60)
    threshold = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Lifetime points, or rupees spent.")
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, help_text="Default 1.")
    benefits = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ProgramSettingsInput(StrictInput):
    point_value = serializers.DecimalField(**RATE, required=False, help_text="Rupees a point is worth (e.g. 0.10).")
    min_redeem_points = serializers.IntegerField(max_value=MAX_POINTS, required=False)
    expiry_days = serializers.IntegerField(max_value=36500, required=False, allow_null=True)
    tier_basis = serializers.ChoiceField(choices=TierBasis.choices, required=False)
    tier_window_days = serializers.IntegerField(max_value=3650, required=False, allow_null=True)
    hold_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False,
        help_text="Points earned on an order are pending (visible, not spendable) this many days; 0 = none.",
    )  # fmt: skip
    hold_until_fulfilled = serializers.BooleanField(
        required=False, help_text="Points earned on an order are pending until it is FULFILLED plus the window."
    )
    return_window_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, help_text="With hold_until_fulfilled: days after fulfilment."
    )
    message_channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices),
        required=False,
        max_length=4,
        help_text="Channels of the members' messages (points earned, expiring, tier changes); [] = none.",
    )
    points_earned_on = serializers.BooleanField(required=False, help_text="Tell members what an order earned.")
    points_earned_title = template_field(200, "points_earned")
    points_earned_body = template_field(5000, "points_earned")
    points_expiring_on = serializers.BooleanField(required=False, help_text="Remind members of points expiring.")
    points_expiring_days = serializers.IntegerField(
        min_value=1, max_value=90, required=False, help_text="Days before expiry the reminder goes (default 7)."
    )
    points_expiring_title = template_field(200, "points_expiring")
    points_expiring_body = template_field(5000, "points_expiring")
    tier_change_on = serializers.BooleanField(required=False, help_text="Tell members their tier went up or down.")
    tier_up_title = template_field(200, "tier_up")
    tier_up_body = template_field(5000, "tier_up")
    tier_down_title = template_field(200, "tier_down")
    tier_down_body = template_field(5000, "tier_down")


class ProgramStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices)


class ProgramRowInput(StrictInput, PlacesInput, serializers.ModelSerializer):
    """The program's campaign row, all optional: the fields as the model makes them."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }
    weekdays = serializers.ListField(
        child=serializers.ChoiceField(choices=WEEKDAYS), required=False, max_length=7, help_text="Empty = every day."
    )
    segment_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)
    currency = CurrencyField(required=False)
    notification = NotificationInput(required=False)

    class Meta:
        model = Campaign
        fields = ROW_FIELDS
        extra_kwargs = {
            "name": {"required": False},
            "starts_at": {"required": False},
            "description": {"max_length": 5000},
            "priority": {"min_value": -1000, "max_value": 1000, "help_text": None},
            "timezone": {"help_text": "IANA, e.g. Asia/Kolkata."},
            "daily_end": {"help_text": "Before daily_start: crosses midnight."},
        }

    def validate(self, attrs):
        return lift_group(attrs, "notification", "notify_")


class ProgramFieldsInput(ProgramRowInput, ProgramSettingsInput):
    """A program's campaign fields and settings, all optional (a change sends any)."""

    rules = EarningRuleInput(many=True, required=False, max_length=50)
    tiers = LoyaltyTierInput(many=True, required=False, max_length=20)

    class Meta(ProgramRowInput.Meta):
        fields = [*ROW_FIELDS, *ProgramSettingsInput._declared_fields, "rules", "tiers"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs["settings"] = {name: attrs.pop(name) for name in list(ProgramSettingsInput().fields) if name in attrs}
        for rule in attrs.get("rules", []):
            rule["streak_steps"] = [dict(step) for step in rule.get("streak_steps", [])]
        attrs["tiers"] = [dict(tier) for tier in attrs["tiers"]] if "tiers" in attrs else None
        return attrs


class ProgramCreateInput(ProgramFieldsInput):
    name = serializers.CharField(max_length=120)
    starts_at = DateTimeField()
    rules = EarningRuleInput(many=True, max_length=50)


class ProgramUpdateInput(ProgramFieldsInput):
    """A change: any of the fields; ``rules`` or ``tiers``, when sent, replace all of them."""


class EarningRuleOutput(serializers.ModelSerializer):
    category_ids = serializers.SerializerMethodField()

    class Meta:
        model = EarningRule
        fields = [
            "id", "rule_type", "points_per_rupee", "rounding", "min_order_value", "bonus_points", "bonus_percent",
            "base_points", "streak_steps", "max_multiplier", "category_ids",
        ]  # fmt: skip

    def get_category_ids(self, rule) -> list[int]:
        return [c.pk for c in rule.categories.all()]


class LoyaltyTierOutput(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "name", "threshold", "multiplier", "benefits"]


class LiabilityOutput(serializers.Serializer):
    members = serializers.IntegerField()
    outstanding_points = serializers.IntegerField(help_text="Every member's balance, pending points included.")
    pending_points = serializers.IntegerField(help_text="Of them, points on hold (not spendable yet).")
    outstanding_value = serializers.DecimalField(**POINTS_MONEY, help_text="What the outstanding points are worth.")


class ProgramOutput(serializers.ModelSerializer):
    segment_ids = serializers.SerializerMethodField()
    notification = NotificationOutput(source="*")
    point_value = serializers.DecimalField(**RATE, source="loyalty_settings.point_value")
    min_redeem_points = serializers.IntegerField(source="loyalty_settings.min_redeem_points")
    expiry_days = serializers.IntegerField(source="loyalty_settings.expiry_days", allow_null=True)
    tier_basis = serializers.CharField(source="loyalty_settings.tier_basis")
    tier_window_days = serializers.IntegerField(source="loyalty_settings.tier_window_days", allow_null=True)
    hold_days = serializers.IntegerField(source="loyalty_settings.hold_days")
    hold_until_fulfilled = serializers.BooleanField(source="loyalty_settings.hold_until_fulfilled")
    return_window_days = serializers.IntegerField(source="loyalty_settings.return_window_days")
    message_channels = serializers.ListField(child=serializers.CharField(), source="loyalty_settings.message_channels")
    points_earned_on = serializers.BooleanField(source="loyalty_settings.points_earned_on")
    points_earned_title = serializers.CharField(source="loyalty_settings.points_earned_title")
    points_earned_body = serializers.CharField(source="loyalty_settings.points_earned_body")
    points_expiring_on = serializers.BooleanField(source="loyalty_settings.points_expiring_on")
    points_expiring_days = serializers.IntegerField(source="loyalty_settings.points_expiring_days")
    points_expiring_title = serializers.CharField(source="loyalty_settings.points_expiring_title")
    points_expiring_body = serializers.CharField(source="loyalty_settings.points_expiring_body")
    tier_change_on = serializers.BooleanField(source="loyalty_settings.tier_change_on")
    tier_up_title = serializers.CharField(source="loyalty_settings.tier_up_title")
    tier_up_body = serializers.CharField(source="loyalty_settings.tier_up_body")
    tier_down_title = serializers.CharField(source="loyalty_settings.tier_down_title")
    tier_down_body = serializers.CharField(source="loyalty_settings.tier_down_body")
    rules = EarningRuleOutput(many=True, source="earning_rules")
    tiers = LoyaltyTierOutput(many=True, source="loyalty_tiers")
    liability = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "description", "kind", "status", "archived", "archived_at", "priority",
            "starts_at", "ends_at", "timezone", "weekdays", "daily_start", "daily_end",
            "audience", "segment_ids", "countries", "states", "cities", "currency", "notification",
            "point_value", "min_redeem_points", "expiry_days", "tier_basis", "tier_window_days",
            "hold_days", "hold_until_fulfilled", "return_window_days", *MESSAGE_FIELDS,
            "rules", "tiers", "liability", "created_at", "updated_at",
        ]  # fmt: skip

    def get_segment_ids(self, program) -> list[int]:
        return [s.pk for s in program.segments.all()]

    def get_liability(self, program) -> LiabilityOutput:
        found = self.context.get("liability", {}).get(program.pk)
        return LiabilityOutput(
            found or {"members": 0, "outstanding_points": 0, "pending_points": 0, "outstanding_value": Decimal("0.00")}
        ).data


# --- Customers ------------------------------------------------------------------------------------


class TierBriefOutput(serializers.Serializer):
    name = serializers.CharField()
    threshold = serializers.DecimalField(max_digits=14, decimal_places=2)
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2)


class NextTierOutput(TierBriefOutput):
    missing = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Points or rupees still to go.")
    progress_percent = serializers.DecimalField(max_digits=5, decimal_places=1)


class PendingLotOutput(serializers.Serializer):
    order_id = serializers.CharField()
    points = serializers.IntegerField()
    available_at = DateTimeField(
        allow_null=True, help_text="Null: when the order is fulfilled, plus the return window."
    )


class MembershipOutput(serializers.Serializer):
    program_id = serializers.IntegerField()
    program_name = serializers.CharField()
    member = serializers.BooleanField(help_text="False: a live program the customer has not earned in yet.")
    balance = serializers.IntegerField(help_text="Spendable points now (pending and expired points left out).")
    balance_value = serializers.DecimalField(**POINTS_MONEY)
    lifetime_earned = serializers.IntegerField()
    point_value = serializers.DecimalField(**RATE)
    min_redeem_points = serializers.IntegerField()
    tier_basis = serializers.CharField()
    tier_measure = serializers.DecimalField(**POINTS_MONEY, help_text="Lifetime points or window spend.")
    tier = TierBriefOutput(allow_null=True)
    next_tier = NextTierOutput(allow_null=True)
    expiring_30_days = serializers.IntegerField(help_text="Points expiring in the next 30 days.")
    pending_points = serializers.IntegerField(help_text="Earned on orders still inside the program's hold.")
    pending = PendingLotOutput(many=True, help_text="The pending points per order, soonest available first.")
    streak_days = serializers.IntegerField()


class LoyaltyMeOutput(serializers.Serializer):
    programs = MembershipOutput(many=True)


class TransactionOutput(serializers.ModelSerializer):
    program_id = serializers.IntegerField(source="account.program_id")

    class Meta:
        model = PointsTransaction
        fields = [
            "id", "program_id", "kind", "points", "balance_after", "remaining", "expires_at", "held", "available_at",
            "source", "reference", "value", "reason", "occurred_at", "created_at",
        ]  # fmt: skip


class RedeemCustomerInput(StrictInput, CustomerRefInput):
    """The cart's customer reference, refusing keys it does not know (``phone`` names nobody)."""


class RedeemInput(StrictInput):
    program_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    points = serializers.IntegerField(max_value=MAX_POINTS, help_text="1 or more, at least the program's minimum.")
    order_id = serializers.RegexField(r"^[^/\x00]{1,64}$", max_length=64, help_text="The idempotency key.")
    customer = RedeemCustomerInput(
        required=False, help_text="For the integration or an ADMIN; a customer redeems their own."
    )


class RedeemOutput(serializers.Serializer):
    program_id = serializers.IntegerField()
    order_id = serializers.CharField()
    points = serializers.IntegerField()
    value = serializers.DecimalField(**POINTS_MONEY, help_text="Rupees the points pay.")
    balance = serializers.IntegerField(help_text="Spendable points after the redemption (pending ones left out).")
    transaction_id = serializers.IntegerField()


class AdjustInput(StrictInput):
    program_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    points = serializers.IntegerField(
        min_value=-MAX_POINTS, max_value=MAX_POINTS, help_text="Positive adds, negative takes."
    )
    reason = serializers.CharField(max_length=255, help_text="Required: why.")
    idempotency_key = serializers.CharField(max_length=100, required=False, help_text="A retry with it adjusts once.")


class AdjustOutput(serializers.Serializer):
    customer_id = serializers.IntegerField()
    program_id = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Spendable points after the adjustment (pending ones left out).")
    transaction = TransactionOutput()
