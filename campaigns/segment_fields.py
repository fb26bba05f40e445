"""Discount criteria this app adds to the segments catalogue (registered in ``apps.ready``):
"customers who used a coupon in the last 30 days", "who got more than ₹500 off", "who used
the Diwali campaign"."""

from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Sum

from campaigns.models import Redemption, RedemptionStatus
from segments.builders import aggregate_compare
from segments.criteria import NUMBER_OPS, SET_OPS, USER, Context, Field, register_field

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


def _redemptions(ctx: Context):
    rows = Redemption.objects.filter(status=RedemptionStatus.REDEEMED, redeemed_at__lte=ctx.now)
    return rows.filter(redeemed_at__gte=ctx.since) if ctx.since else rows


def _used_campaign(ctx: Context, op: str, ids: list[int]) -> Q:
    q = Q(Exists(_redemptions(ctx).filter(customer=OuterRef("pk"), campaign_id__in=ids)))
    return q if op == "any_of" else ~q


def _used_coupon(ctx: Context, op: str, used: bool) -> Q:
    q = Q(Exists(_redemptions(ctx).filter(customer=OuterRef("pk")).exclude(code="")))
    return q if used else ~q


FIELDS = [
    Field(
        "redemptions", USER, "discounts", "Discounts used (in the last N days)", "integer", NUMBER_OPS,
        unit="redemptions", window="optional", build=aggregate_compare(_redemptions, "customer", Count("*")),
        help="Campaigns applied to the customer's orders (not voided); lifetime without window_days.",
    ),
    Field(
        "discount_received", USER, "discounts", "Discount received (in the last N days)", "decimal", NUMBER_OPS,
        unit="INR", window="optional",
        build=aggregate_compare(_redemptions, "customer", Sum("amount", output_field=MONEY_FIELD)
                                + Sum("shipping_amount", output_field=MONEY_FIELD)),
        help="Item and shipping discounts given to the customer, not voided.",
    ),
    Field(
        "used_campaign", USER, "discounts", "Used a campaign", "id_list", SET_OPS, window="optional",
        build=_used_campaign, help="Campaign ids.",
    ),
    Field(
        "used_coupon_code", USER, "discounts", "Used a coupon code", "boolean", ("is",), window="optional",
        build=_used_coupon, help="Any campaign redeemed with a code (shared or unique).",
    ),
]  # fmt: skip


def register() -> None:
    for definition in FIELDS:
        register_field(definition)
