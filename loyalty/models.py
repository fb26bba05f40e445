"""Loyalty programs (a Campaign of kind LOYALTY_PROGRAM plus its settings, earning rules and
tiers), customer accounts and the append-only points ledger.

Points are whole numbers. The ledger's invariants live in the database: a transaction's sign
matches its kind, a credit's ``remaining`` stays within its points, an idempotency key is
used once per account, a balance is never negative, and (on PostgreSQL) a trigger refuses
any UPDATE of a transaction except its ``remaining`` going down (and a held lot's
``available_at``/``expires_at`` set once, when its order is fulfilled), and any DELETE.

An account's ``balance`` is the sum of its transactions: pending points (held lots not yet
available) and points past their date that the nightly expiry has not taken yet are in it.
What a customer may spend is the balance less those two, judged at read time
(``loyalty.selectors.held_points``/``overdue_points``), so nothing waits for a job.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from campaigns.models import Campaign, CampaignKind, CampaignQuerySet


class ProgramManager(models.Manager.from_queryset(CampaignQuerySet)):
    """The loyalty programs among the campaigns, with the campaigns' vocabulary (``active(at)``)."""

    def get_queryset(self):
        return super().get_queryset().filter(kind=CampaignKind.LOYALTY_PROGRAM)


class LoyaltyProgram(Campaign):
    """The loyalty programs among the campaigns (a proxy: same table, same id)."""

    objects = ProgramManager()

    class Meta:
        proxy = True
        verbose_name = "loyalty program"

    def save(self, *args, **kwargs):
        self.kind = CampaignKind.LOYALTY_PROGRAM
        super().save(*args, **kwargs)


# The console's history page finds a model's history through its options; a proxy's are its own,
# and its history is its campaign row's.
LoyaltyProgram._meta.simple_history_manager_attribute = Campaign._meta.simple_history_manager_attribute


class Rounding(models.TextChoices):
    DOWN = "DOWN", "Down (never more than earned)"
    NEAREST = "NEAREST", "Nearest (half up)"
    UP = "UP", "Up"


class TierBasis(models.TextChoices):
    LIFETIME_POINTS = "LIFETIME_POINTS", "Lifetime points earned"
    SPEND = "SPEND", "Spend in a rolling window"


def default_message_channels() -> list[str]:
    return ["IN_APP"]


class ProgramSettings(models.Model):
    """What a loyalty program adds to its campaign: the value of a point and the redemption terms."""

    program = models.OneToOneField(
        Campaign, primary_key=True, on_delete=models.CASCADE, related_name="loyalty_settings"
    )
    point_value = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal("0.10"), help_text="Rupees one point is worth."
    )
    min_redeem_points = models.PositiveIntegerField(default=1, help_text="Fewest points spent at once.")
    expiry_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Earned points expire after; empty = never."
    )
    tier_basis = models.CharField(max_length=16, choices=TierBasis.choices, default=TierBasis.LIFETIME_POINTS)
    tier_window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="The rolling window of a SPEND basis (e.g. 365)."
    )
    # The hold on points earned on an order (a refund inside it takes them back whole): pending
    # for ``hold_days`` after the order, or until it is FULFILLED plus ``return_window_days``.
    hold_days = models.PositiveIntegerField(
        default=0, help_text="Points earned on an order are pending this many days; 0 = spendable at once."
    )
    hold_until_fulfilled = models.BooleanField(
        default=False, help_text="Points earned on an order are pending until it is fulfilled (plus the window)."
    )
    return_window_days = models.PositiveIntegerField(
        default=0, help_text="With hold until fulfilled: days after fulfilment the points stay pending."
    )

    # Messages to members (loyalty.services.messages): each switchable, each with default content
    # a blank title or body keeps (templates with placeholders, checked when saved).
    message_channels = models.JSONField(
        default=default_message_channels, blank=True, help_text="Channels of the members' messages; none = no messages."
    )
    points_earned_on = models.BooleanField(default=True, help_text="Tell members the points an order earned them.")
    points_earned_title = models.CharField(max_length=200, blank=True)
    points_earned_body = models.TextField(blank=True)
    points_expiring_on = models.BooleanField(
        default=True, help_text="Remind members of points expiring soon (once per lot, daily run)."
    )
    points_expiring_days = models.PositiveSmallIntegerField(
        default=7, help_text="How many days before they expire points are announced."
    )
    points_expiring_title = models.CharField(max_length=200, blank=True)
    points_expiring_body = models.TextField(blank=True)
    # The daily reminder has covered lots expiring up to this instant (each lot is announced once).
    points_expiring_notified_until = models.DateTimeField(null=True, blank=True, editable=False)
    tier_change_on = models.BooleanField(default=True, help_text="Tell members their tier went up or down.")
    tier_up_title = models.CharField(max_length=200, blank=True)
    tier_up_body = models.TextField(blank=True)
    tier_down_title = models.CharField(max_length=200, blank=True)
    tier_down_body = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at", "points_expiring_notified_until"])

    class Meta:
        verbose_name_plural = "program settings"
        constraints = [
            models.CheckConstraint(condition=Q(point_value__gt=0), name="loyalty_point_value_positive"),
            models.CheckConstraint(condition=Q(min_redeem_points__gte=1), name="loyalty_min_redeem_positive"),
            models.CheckConstraint(
                condition=Q(expiry_days__isnull=True) | Q(expiry_days__gte=1), name="loyalty_expiry_positive"
            ),
            models.CheckConstraint(
                condition=~Q(tier_basis="SPEND") | Q(tier_window_days__gte=1), name="loyalty_spend_window"
            ),
            # One hold at a time: days after the order, or fulfilment plus the return window.
            models.CheckConstraint(
                condition=Q(hold_until_fulfilled=False) | Q(hold_days=0), name="loyalty_hold_one_mode"
            ),
            models.CheckConstraint(
                condition=Q(hold_until_fulfilled=True) | Q(return_window_days=0),
                name="loyalty_return_window_needs_hold",
            ),
            models.CheckConstraint(
                condition=Q(points_expiring_days__gte=1, points_expiring_days__lte=90),
                name="loyalty_expiring_notice_days",
            ),
        ]

    def __str__(self) -> str:
        return f"settings of {self.program_id}"


class EarningRule(models.Model):
    class RuleType(models.TextChoices):
        POINTS_PER_RUPEE = "POINTS_PER_RUPEE", "Points per rupee spent"
        FIRST_PURCHASE_BONUS = "FIRST_PURCHASE_BONUS", "First purchase bonus"
        DAILY_LOGIN_STREAK = "DAILY_LOGIN_STREAK", "Daily login streak"
        CATEGORY_POINTS = "CATEGORY_POINTS", "Category points per rupee"

    program = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="earning_rules")
    rule_type = models.CharField(max_length=24, choices=RuleType.choices)
    points_per_rupee = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="POINTS_PER_RUPEE and CATEGORY_POINTS."
    )
    rounding = models.CharField(max_length=8, choices=Rounding.choices, default=Rounding.DOWN)
    min_order_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    bonus_points = models.PositiveIntegerField(null=True, blank=True, help_text="FIRST_PURCHASE_BONUS: fixed points.")
    bonus_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="FIRST_PURCHASE_BONUS: % of the order, as points.",
    )
    base_points = models.PositiveIntegerField(null=True, blank=True, help_text="DAILY_LOGIN_STREAK: points per day.")
    streak_steps = models.JSONField(
        default=list, blank=True, help_text='DAILY_LOGIN_STREAK: [{"days": 7, "multiplier": "2"}, ...]'
    )
    max_multiplier = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    categories = models.ManyToManyField("commerce.Category", blank=True, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords(m2m_fields=[categories])

    class Meta:
        ordering = ["program", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_rupee__isnull=True) | Q(points_per_rupee__gt=0),
                name="loyalty_rule_rate_positive",
            ),
            models.CheckConstraint(
                condition=Q(bonus_percent__isnull=True) | Q(bonus_percent__gt=0, bonus_percent__lte=100),
                name="loyalty_rule_bonus_percent",
            ),
            models.CheckConstraint(
                condition=Q(max_multiplier__isnull=True) | Q(max_multiplier__gte=1), name="loyalty_rule_max_multiplier"
            ),
        ]

    def __str__(self) -> str:
        return self.get_rule_type_display()


class Tier(models.Model):
    """From ``threshold`` (lifetime points, or rupees spent in the window) up; the highest reached applies."""

    program = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="loyalty_tiers")
    name = models.CharField(max_length=60)
    threshold = models.DecimalField(max_digits=14, decimal_places=2)
    multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.00"))
    benefits = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["program", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["program", "threshold"], name="loyalty_tier_threshold_unique"),
            models.UniqueConstraint(fields=["program", "name"], name="loyalty_tier_name_unique"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="loyalty_tier_threshold_positive"),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="loyalty_tier_multiplier_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class LoyaltyAccount(models.Model):
    """One customer in one program. ``balance`` is the sum of the account's transactions, kept
    with them under the row lock; ``rebuild_balances --check`` verifies it."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="loyalty_accounts")
    program = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="loyalty_accounts")
    balance = models.BigIntegerField(default=0)
    lifetime_earned = models.BigIntegerField(default=0, help_text="Earned, less reversals; never less by spending.")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    tier_since = models.DateTimeField(null=True, blank=True)
    streak_days = models.PositiveIntegerField(default=0)
    streak_last_day = models.DateField(null=True, blank=True, help_text="The program's local day of the last award.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "program"], name="loyalty_account_once"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_balance_not_negative"),
            models.CheckConstraint(condition=Q(lifetime_earned__gte=0), name="loyalty_lifetime_not_negative"),
        ]
        indexes = [models.Index(fields=["program", "balance"], name="loyalty_account_program")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.program_id}: {self.balance}"


class TransactionKind(models.TextChoices):
    EARN = "EARN", "Earned"
    REDEEM = "REDEEM", "Redeemed"
    EXPIRE = "EXPIRE", "Expired"
    REVERSAL = "REVERSAL", "Reversed"
    ADJUST = "ADJUST", "Adjusted"


class Source(models.TextChoices):
    ORDER = "ORDER", "Order"
    LOGIN = "LOGIN", "Login"
    ADMIN = "ADMIN", "Admin"
    REDEMPTION = "REDEMPTION", "Redemption"
    EXPIRY = "EXPIRY", "Expiry"


class PointsTransaction(models.Model):
    """One append-only ledger row. Credits (points > 0) are lots: ``remaining`` is what is left
    of them, consumed oldest first by redemptions, reversals and expiry."""

    account = models.ForeignKey(LoyaltyAccount, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=8, choices=TransactionKind.choices)
    points = models.BigIntegerField(help_text="Signed: credits are positive, debits negative.")
    balance_after = models.BigIntegerField()
    remaining = models.BigIntegerField(null=True, blank=True, help_text="Credits: points not yet spent or expired.")
    expires_at = models.DateTimeField(null=True, blank=True)
    # A lot earned under a program's hold is pending (counted, not spendable) until
    # ``available_at``; null while it waits for its order's fulfilment. Its expiry runs from then.
    held = models.BooleanField(default=False, help_text="Earned under a hold: pending until available_at.")
    available_at = models.DateTimeField(
        null=True, blank=True, help_text="Held lots: when they become spendable; empty until the order is fulfilled."
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    reference = models.CharField(max_length=80, blank=True, help_text="Order id, login day, or redemption order id.")
    # No database constraint: a rule dropped from a program leaves its ledger rows as they were
    # (a SET NULL would rewrite them, which the append-only trigger refuses).
    rule = models.ForeignKey(
        EarningRule, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals")
    basis = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="The amount an order's points were earned on."
    )
    detail = models.JSONField(default=dict, blank=True, help_text="Per-line bases, multipliers, the unrecovered part.")
    value = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="REDEEM: what the points paid."
    )
    reason = models.CharField(max_length=255, blank=True)
    # PROTECT: whoever adjusted points stays on record (deactivate such a user instead).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=120)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="loyalty_tx_key_once"),
            # Zero only for a reversal that found nothing left to take (its detail says what was due).
            models.CheckConstraint(condition=~Q(points=0) | Q(kind="REVERSAL"), name="loyalty_tx_points_nonzero"),
            models.CheckConstraint(
                condition=(Q(kind="EARN") & Q(points__gt=0))
                | (Q(kind__in=["REDEEM", "EXPIRE"]) & Q(points__lt=0))
                | Q(kind__in=["REVERSAL", "ADJUST"]),
                name="loyalty_tx_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=(Q(points__gt=0) & Q(remaining__gte=0) & Q(remaining__lte=F("points")))
                | (Q(points__lte=0) & Q(remaining__isnull=True)),
                name="loyalty_tx_remaining_within",
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="loyalty_tx_balance_not_negative"),
            models.CheckConstraint(condition=Q(held=False) | Q(kind="EARN"), name="loyalty_tx_held_is_earned"),
            models.CheckConstraint(
                condition=Q(available_at__isnull=True) | Q(held=True), name="loyalty_tx_available_at_held"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "id"], name="loyalty_tx_account"),
            # Open lots by expiry: expire_points and "expiring in the next 30 days".
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="loyalty_tx_open_lots"),
            models.Index(fields=["reference"], name="loyalty_tx_reference"),
            # The reports' points issued/redeemed/expired (per program, per rule) over a range of
            # days: what they sum and group by rides in the index, so the scan never reads the table.
            models.Index(
                fields=["occurred_at"], include=["kind", "points", "account", "rule"], name="loyalty_tx_occurred_flow"
            ),
            # Pending lots of an account: the spendable balance leaves them out.
            models.Index(fields=["account"], condition=Q(held=True, remaining__gt=0), name="loyalty_tx_held_lots"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} ({self.account_id})"
