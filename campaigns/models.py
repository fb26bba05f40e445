"""Campaigns (discount coupon, free shipping, and the loyalty programs' shared part), their
discount rules, coupon codes, redemptions and the counters that enforce limits and budgets.

The choices reuse the engine's vocabulary (``campaigns.engine.types``) so the two never drift.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

from campaigns.engine import types as t
from campaigns.engine.rules import RULE_TYPES
from notifications.models import Channel  # noqa: F401 - the one set of channels, named here for campaigns

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class CampaignKind(models.TextChoices):
    DISCOUNT_COUPON = t.DISCOUNT_COUPON, "Discount coupon"
    FREE_SHIPPING = t.FREE_SHIPPING, "Free shipping"
    LOYALTY_PROGRAM = t.LOYALTY_PROGRAM, "Loyalty program"


class CampaignStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    INACTIVE = "INACTIVE", "Inactive"


class Audience(models.TextChoices):
    ALL = t.AUDIENCE_ALL, "Everyone"
    NEW_USERS = t.AUDIENCE_NEW, "New customers (no earlier order)"
    EXISTING_USERS = t.AUDIENCE_EXISTING, "Existing customers (an earlier order)"
    GROUPS = t.AUDIENCE_GROUPS, "Customer groups (static segments)"
    SEGMENTS = t.AUDIENCE_SEGMENTS, "Segments (dynamic or static)"


class RedemptionType(models.TextChoices):
    COUPON_CODE = t.COUPON_CODE, "With a coupon code"
    AUTOMATIC = t.AUTOMATIC, "Automatic (when the rules match)"


class CodeType(models.TextChoices):
    SHARED = "SHARED", "One shared public code"
    UNIQUE = "UNIQUE", "Unique single-use codes"


class Validity(models.TextChoices):
    ONE_TIME = "ONE_TIME", "Once per customer"
    RECURRING = "RECURRING", "Recurring (a per-customer limit)"


class Period(models.TextChoices):
    LIFETIME = t.PERIOD_LIFETIME, "Ever"
    DAY = t.PERIOD_DAY, "Per day"
    WEEK = t.PERIOD_WEEK, "Per week"
    MONTH = t.PERIOD_MONTH, "Per month"


class CampaignQuerySet(models.QuerySet):
    def active(self, at: dt.datetime) -> "CampaignQuerySet":
        """Live at ``at``: switched on, not archived, started and not ended. This is the one
        definition; weekdays and daily hours (judged in each campaign's time zone) narrow it
        further in the engine, which names them (outside_days, outside_hours)."""
        return self.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=at),
            status=CampaignStatus.ACTIVE,
            archived=False,
            starts_at__lte=at,
        )

    def discounts(self) -> "CampaignQuerySet":
        return self.filter(kind__in=[CampaignKind.DISCOUNT_COUPON, CampaignKind.FREE_SHIPPING])


class Campaign(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=CampaignKind.choices, default=CampaignKind.DISCOUNT_COUPON)
    status = models.CharField(max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.INACTIVE)
    archived = models.BooleanField(default=False, help_text="Kept for its history; never live again.")
    archived_at = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=0, help_text="Higher applies first.")

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(
        max_length=64, default=settings.TIME_ZONE, help_text="IANA name; days and hours are local."
    )
    weekdays = models.JSONField(default=list, blank=True, help_text='Days it runs ("MON".."SUN"); empty = every day.')
    daily_start = models.TimeField(null=True, blank=True)
    daily_end = models.TimeField(null=True, blank=True, help_text="Before the start: the window crosses midnight.")

    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.ALL)
    segments = models.ManyToManyField("segments.Segment", blank=True, related_name="campaigns")
    countries = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True)
    cities = models.JSONField(default=list, blank=True)

    # Discount and free-shipping campaigns (loyalty programs keep their rules in loyalty).
    redemption_type = models.CharField(max_length=12, choices=RedemptionType.choices, default=RedemptionType.AUTOMATIC)
    code_type = models.CharField(max_length=8, choices=CodeType.choices, default=CodeType.SHARED)
    code = models.CharField(max_length=32, blank=True, help_text="The shared public code, stored upper-case.")
    currency = models.CharField(max_length=3, default="INR")
    min_cart_value = models.DecimalField(**MONEY, null=True, blank=True)
    max_discount = models.DecimalField(**MONEY, null=True, blank=True, help_text="Cap per order.")
    validity = models.CharField(max_length=10, choices=Validity.choices, default=Validity.RECURRING)
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Uses in all.")
    customer_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Uses per customer, ever.")
    period_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Uses per customer per period.")
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.LIFETIME)
    budget = models.DecimalField(**MONEY, null=True, blank=True, help_text="Most discount given in all.")
    exclusive = models.BooleanField(default=False, help_text="Applies alone, ahead of every other campaign.")
    stackable = models.BooleanField(default=True, help_text="Combines with other campaigns.")

    notify_title = models.CharField(max_length=200, blank=True)
    notify_body = models.TextField(blank=True)
    notify_image_url = models.URLField(max_length=500, blank=True)
    notify_cta_text = models.CharField(max_length=60, blank=True)
    notify_cta_url = models.URLField(max_length=500, blank=True)
    notify_channels = models.JSONField(default=list, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"], m2m_fields=[segments])
    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "status", "archived"], name="campaigns_live")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")), name="campaigns_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(daily_start__isnull=True, daily_end__isnull=True)
                | (Q(daily_start__isnull=False, daily_end__isnull=False) & ~Q(daily_start=F("daily_end"))),
                name="campaigns_daily_window",
            ),
            # A public code names one campaign among those not archived (case-insensitive).
            models.UniqueConstraint(
                Upper("code"), condition=Q(archived=False) & ~Q(code=""), name="campaigns_code_unique_live"
            ),
            models.CheckConstraint(condition=Q(archived=False) | Q(status="INACTIVE"), name="campaigns_archived_off"),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gt=0), name="campaigns_budget_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DiscountRule(models.Model):
    # The engine's registered rule types (campaigns.engine.rules), in their order: a new type
    # shows up here by itself and needs only a migration for the choice.
    RuleType = models.TextChoices("RuleType", [(kind.key, (kind.key, kind.label)) for kind in RULE_TYPES.values()])

    class DiscountType(models.TextChoices):
        PERCENTAGE = t.PERCENTAGE, "Percentage"
        FIXED_AMOUNT = t.FIXED_AMOUNT, "Fixed amount"
        FREE_SHIPPING = t.SHIPPING, "Free shipping"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rules")
    rule_type = models.CharField(max_length=20, choices=RuleType.choices, default=RuleType.WHOLE_CART)
    discount_type = models.CharField(max_length=16, choices=DiscountType.choices, default=DiscountType.PERCENTAGE)
    value = models.DecimalField(**MONEY, null=True, blank=True, help_text="Percent (0-100] or an amount.")
    max_discount = models.DecimalField(**MONEY, null=True, blank=True, help_text="Cap on this rule's discount.")
    min_quantity = models.PositiveIntegerField(null=True, blank=True)
    max_quantity = models.PositiveIntegerField(null=True, blank=True, help_text="Most units discounted.")
    tiers = models.JSONField(default=list, blank=True, help_text='[{"threshold": 3, "value": 5}, ...]')
    categories = models.ManyToManyField("commerce.Category", blank=True, related_name="+")
    brands = models.ManyToManyField("commerce.Brand", blank=True, related_name="+")
    products = models.ManyToManyField("commerce.Product", blank=True, related_name="+")
    product_segments = models.ManyToManyField(
        "segments.Segment", blank=True, related_name="+", limit_choices_to={"kind": "PRODUCT"},
        help_text="Product segments (slow movers, overstock): their members, as last refreshed.",
    )  # fmt: skip
    buy_quantity = models.PositiveIntegerField(null=True, blank=True)
    get_quantity = models.PositiveIntegerField(null=True, blank=True)
    max_applications = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords(m2m_fields=[categories, brands, products, product_segments])

    class Meta:
        ordering = ["campaign", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(discount_type="PERCENTAGE") | Q(value__isnull=True) | Q(value__gt=0, value__lte=100),
                name="campaigns_rule_percentage_range",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gt=0), name="campaigns_rule_value_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_type_display()} · {self.get_discount_type_display()}"


class CampaignCounter(models.Model):
    """Uses and discount given, apart from the campaign row so a console save never writes
    back a stale count. Changed only by conditional UPDATEs (see services.redemptions)."""

    campaign = models.OneToOneField(Campaign, primary_key=True, on_delete=models.CASCADE, related_name="counter")
    uses = models.PositiveIntegerField(default=0)
    discount_spent = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(discount_spent__gte=0), name="campaigns_counter_spent_positive")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.uses} uses"


class CouponCode(models.Model):
    """A unique code of a UNIQUE-codes campaign, single use by default."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=32, help_text="Upper-case.")
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    batch = models.CharField(max_length=64, blank=True, help_text="Which generation or import made it.")
    # A code given to one customer (services.codes.codes_assign) is theirs alone: anybody else
    # typing it is refused ``code_not_yours``. If the holder's account is erased the code keeps
    # ``assigned_at`` and nobody holds it: it is out of circulation, never handed out again.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="coupon_codes"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="campaigns_coupon_code_unique"),
            models.CheckConstraint(condition=Q(uses__lte=F("max_uses")), name="campaigns_coupon_code_uses_within"),
            # A customer holds at most one code of a campaign.
            models.UniqueConstraint(
                fields=["campaign", "assigned_to"],
                condition=Q(assigned_to__isnull=False),
                name="campaigns_coupon_code_one_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(assigned_to__isnull=True) | Q(assigned_at__isnull=False),
                name="campaigns_coupon_code_assigned_when",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "id"], name="campaigns_codes_campaign"),
            # The free codes an assignment hands out, oldest first, without walking the used ones.
            models.Index(
                fields=["campaign", "id"], condition=Q(assigned_at__isnull=True, uses=0), name="campaigns_codes_free"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class RedemptionStatus(models.TextChoices):
    REDEEMED = "REDEEMED", "Redeemed"
    VOIDED = "VOIDED", "Voided"


class OrderRedemption(models.Model):
    """One checkout's redemption: the request, the engine's answer, and the campaigns it consumed.
    ``order_id`` is the platform's order id, the idempotency key."""

    order_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="order_redemptions")
    status = models.CharField(max_length=8, choices=RedemptionStatus.choices, default=RedemptionStatus.REDEEMED)
    currency = models.CharField(max_length=3, default="INR")
    subtotal = models.DecimalField(**MONEY)
    shipping = models.DecimalField(**MONEY, default=ZERO)
    total_discount = models.DecimalField(**MONEY)
    shipping_discount = models.DecimalField(**MONEY, default=ZERO)
    total = models.DecimalField(**MONEY)
    evaluated_at = models.DateTimeField(help_text="The time the campaigns were judged at.")
    request_hash = models.CharField(max_length=64, editable=False)
    response = models.JSONField(help_text="The first answer, replayed on retries.")
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="campaigns_checkout_customer"),
            # "Orders with a campaign" in the reports: the standing checkouts' order ids, read
            # from the index alone (a fraction of the table's width and rows).
            models.Index(fields=["order_id"], condition=Q(status="REDEEMED"), name="campaigns_checkout_standing"),
            # The revenue rollup's "checkouts made or voided since its last run".
            models.Index(fields=["created_at"], name="campaigns_checkout_created"),
            models.Index(fields=["voided_at"], condition=Q(voided_at__isnull=False), name="campaigns_checkout_voided"),
        ]

    def __str__(self) -> str:
        return self.order_id


class Redemption(models.Model):
    """One campaign consumed by one order: what it gave, on which lines, with which code."""

    order_redemption = models.ForeignKey(OrderRedemption, on_delete=models.CASCADE, related_name="redemptions")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="redemptions")
    order_id = models.CharField(max_length=64)
    code = models.CharField(max_length=32, blank=True)
    coupon_code = models.ForeignKey(CouponCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY, help_text="Off the items.")
    shipping_amount = models.DecimalField(**MONEY, default=ZERO)
    lines = models.JSONField(default=list, help_text='[{"sku": ..., "amount": "12.50"}]')
    status = models.CharField(max_length=8, choices=RedemptionStatus.choices, default=RedemptionStatus.REDEEMED)
    redeemed_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order_id", "campaign"], name="campaigns_redemption_once_per_order"),
            models.CheckConstraint(
                condition=Q(amount__gte=0, shipping_amount__gte=0), name="campaigns_redemption_amounts_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "campaign", "redeemed_at"], name="campaigns_redemption_usage"),
            models.Index(fields=["campaign", "-redeemed_at"], name="campaigns_redemption_of"),
            # The dashboard's windows and daily series over every campaign.
            models.Index(fields=["redeemed_at"], condition=Q(status="REDEEMED"), name="campaigns_redemption_when"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} · {self.campaign_id}"


class SimulationStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting to run"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class SimulationRun(models.Model):
    """One replay of a campaign or program over the last ``days`` of orders
    (``campaigns.simulation``): its progress while it runs, its figures when done."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="simulations")
    days = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=SimulationStatus.choices, default=SimulationStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100.")
    orders_total = models.PositiveIntegerField(default=0, help_text="Orders in the window when the run started.")
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "-created_at"], name="campaigns_simulation_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1, days__lte=365), name="campaigns_simulation_days"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="campaigns_simulation_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} over {self.days} days ({self.status})"


class RefusalCount(models.Model):
    """How many cart evaluations refused a campaign for a reason on a day (``settings.TIME_ZONE``):
    the rollup of the live counters of ``campaigns.refusals`` (no cart is stored)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="refusal_counts")
    day = models.DateField()
    reason = models.CharField(max_length=32)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "day", "reason"], name="campaigns_refusal_once")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day} {self.reason}: {self.count}"


class RevenueDay(models.Model):
    """A closed site day's counted orders and revenue, all and with a standing checkout
    redemption: the rollup ``campaigns.revenue_days`` keeps for the reports' revenue split."""

    day = models.DateField(unique=True)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    orders_with = models.PositiveIntegerField(default=0)
    revenue_with = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    rolled_at = models.DateTimeField(help_text="The run the table is exact as of (the same on every row).")

    class Meta:
        ordering = ["day"]
        constraints = [
            models.CheckConstraint(condition=Q(orders_with__lte=F("orders")), name="campaigns_revenue_day_with_within")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.orders} orders, {self.revenue}"
