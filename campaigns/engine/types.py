"""What the cart engine takes and gives: plain frozen dataclasses (``LineDiscount``, built by
the thousand, is a named tuple), no ORM.

The ORM side (``campaigns.evaluation``) turns campaigns, the cart and the customer into these;
``campaigns.engine.evaluate`` turns them into a ``Result``. Money is ``Decimal`` with two
places; times are aware datetimes.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

# --- Vocabulary (the models reuse these values as their choices) -----------------------------

DISCOUNT_COUPON, FREE_SHIPPING, LOYALTY_PROGRAM = "DISCOUNT_COUPON", "FREE_SHIPPING", "LOYALTY_PROGRAM"

AUDIENCE_ALL, AUDIENCE_NEW, AUDIENCE_EXISTING = "ALL", "NEW_USERS", "EXISTING_USERS"
AUDIENCE_GROUPS, AUDIENCE_SEGMENTS = "GROUPS", "SEGMENTS"

COUPON_CODE, AUTOMATIC = "COUPON_CODE", "AUTOMATIC"

PERIOD_LIFETIME, PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH = "LIFETIME", "DAY", "WEEK", "MONTH"

WHOLE_CART, BULK_PURCHASE, CATEGORY, PRODUCT, BRAND = "WHOLE_CART", "BULK_PURCHASE", "CATEGORY", "PRODUCT", "BRAND"
CUSTOM_CART_TOTAL, BUY_X_GET_Y = "CUSTOM_CART_TOTAL", "BUY_X_GET_Y"

PERCENTAGE, FIXED_AMOUNT, SHIPPING = "PERCENTAGE", "FIXED_AMOUNT", "FREE_SHIPPING"

# How an exclusive campaign is weighed against the others (``evaluate(exclusive_policy=...)``).
EXCLUSIVE_PRIORITY, EXCLUSIVE_BEST = "priority", "best"
EXCLUSIVE_POLICIES = (EXCLUSIVE_PRIORITY, EXCLUSIVE_BEST)

# Why a campaign did not apply: a fixed, documented set (README "Rejection reasons").
REASONS: dict[str, str] = {
    "code_unknown": "No campaign has this code.",
    "code_used": "This single-use code has been used.",
    "code_duplicate": "The code was given twice.",
    "code_not_yours": "This code was given to another customer.",
    "not_started": "The campaign has not started yet.",
    "expired": "The campaign has ended.",
    "inactive": "The campaign is switched off or archived.",
    "outside_days": "The campaign does not run on this day of the week.",
    "outside_hours": "The campaign does not run at this time of day.",
    "currency": "The campaign is in another currency.",
    "geo": "The campaign does not run at this location.",
    "audience": "The campaign is for other customers (new or existing).",
    "segment": "The customer is not in the campaign's groups or segments.",
    "customer_required": "The campaign is for known customers; no customer was given.",
    "min_cart": "The cart is below the campaign's minimum value.",
    "no_matching_items": "No item in the cart is one the campaign discounts.",
    "min_quantity": "The cart has too few of the campaign's items.",
    "nothing_to_discount": "The campaign gives nothing on this cart (already fully discounted).",
    "usage_limit": "The campaign has been used the maximum number of times.",
    "customer_limit": "The customer has used the campaign the maximum number of times.",
    "budget_exhausted": "The campaign's discount budget would be exceeded.",
    "not_stackable": "Another campaign applied and the two do not combine.",
}


# --- Inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One cart line. ``category_ids`` holds the product's category and all its ancestors, so
    a rule on "Electronics" matches a phone filed under "Electronics > Phones"."""

    sku: str
    quantity: int
    unit_price: Decimal
    product_id: int | None = None
    category_ids: frozenset[int] = frozenset()
    brand_id: int | None = None
    product_segment_ids: frozenset[int] = frozenset()  # the product segments the product is in

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Cart:
    lines: tuple[Line, ...]
    shipping: Decimal = Decimal("0.00")
    currency: str = "INR"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Location:
    country: str = ""
    state: str = ""
    city: str = ""


@dataclass(frozen=True)
class Usage:
    """A customer's non-voided redemptions of one campaign: how many ever, and when the
    recent ones (at least the last 32 days) happened, for per-day/week/month limits."""

    lifetime: int = 0
    recent: tuple[dt.datetime, ...] = ()


@dataclass(frozen=True)
class Counter:
    """A campaign's redemptions and discount given so far (all customers)."""

    uses: int = 0
    discount_spent: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class CodeFact:
    """A code the customer typed, as found: ``campaign_id`` None means no campaign has it.
    ``single_use`` codes carry their own use count; a shared code counts on the campaign.
    An ``assigned`` code belongs to the customer ``owner_id`` alone (None: its holder is gone,
    and it belongs to nobody)."""

    code: str  # as typed
    campaign_id: int | None
    single_use: bool = False
    uses: int = 0
    max_uses: int = 1
    assigned: bool = False
    owner_id: int | None = None


@dataclass(frozen=True)
class Context:
    at: dt.datetime
    customer_id: int | None = None
    is_new_customer: bool = True
    segment_ids: frozenset[int] = frozenset()
    location: Location = field(default_factory=Location)
    usage: dict[int, Usage] = field(default_factory=dict)
    counters: dict[int, Counter] = field(default_factory=dict)
    codes: tuple[CodeFact, ...] = ()


@dataclass(frozen=True)
class Tier:
    """From ``threshold`` (a quantity for BULK_PURCHASE, an amount for CUSTOM_CART_TOTAL) up, ``value``."""

    threshold: Decimal
    value: Decimal


@dataclass(frozen=True)
class Rule:
    """One discount rule. ``value`` is a percentage (0-100] or an amount, per ``discount_type``;
    tiers, when given, replace it. FREE_SHIPPING rules discount the shipping (all of it, or
    up to ``max_discount``) when the rule's condition holds."""

    id: int
    rule_type: str
    discount_type: str
    value: Decimal | None = None
    max_discount: Decimal | None = None
    min_quantity: int | None = None
    max_quantity: int | None = None  # most units discounted (the dearest first)
    tiers: tuple[Tier, ...] = ()
    category_ids: frozenset[int] = frozenset()
    brand_ids: frozenset[int] = frozenset()
    product_ids: frozenset[int] = frozenset()
    product_segment_ids: frozenset[int] = frozenset()  # product segments (materialised membership)
    buy_quantity: int | None = None  # BUY_X_GET_Y: X
    get_quantity: int | None = None  # BUY_X_GET_Y: Y (discounted by ``value`` percent; 100 = free)
    max_applications: int | None = None  # BUY_X_GET_Y: cap on the number of (X+Y) groups


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    active: bool = True  # status ACTIVE and not archived
    timezone: str = "Asia/Kolkata"
    weekdays: frozenset[int] = frozenset(range(7))  # 0 = Monday
    daily_start: dt.time | None = None
    daily_end: dt.time | None = None  # before daily_start: the window crosses midnight
    priority: int = 0  # higher applies first
    currency: str = "INR"
    audience: str = AUDIENCE_ALL
    segment_ids: frozenset[int] = frozenset()
    countries: frozenset[str] = frozenset()  # casefolded; empty = anywhere
    states: frozenset[str] = frozenset()
    cities: frozenset[str] = frozenset()
    redemption_type: str = AUTOMATIC
    code: str = ""  # the shared public code, upper-cased; single-use codes come as CodeFacts
    min_cart_value: Decimal | None = None
    max_discount: Decimal | None = None  # cap on the campaign's item discount per order
    exclusive: bool = False
    stackable: bool = True
    usage_limit: int | None = None
    customer_limit: int | None = None  # per customer, ever (ONE_TIME campaigns: 1)
    period_limit: int | None = None  # per customer per period (RECURRING)
    period: str = PERIOD_LIFETIME
    budget: Decimal | None = None
    rules: tuple[Rule, ...] = ()


# --- Output ----------------------------------------------------------------------------------


class LineDiscount(NamedTuple):
    """One line's part of an applied discount. A named tuple, not a dataclass: an evaluation
    builds one per discounted line per applied campaign (thousands on a busy cart), and a
    tuple is built in half the time; it reads, compares and prints like the other records."""

    sku: str
    amount: Decimal


# The other output records are slotted frozen dataclasses (built faster than plain ones).


@dataclass(frozen=True, slots=True)
class Applied:
    campaign_id: int
    name: str
    code: str  # "" for automatic campaigns
    amount: Decimal  # off the items
    shipping_amount: Decimal  # off the shipping
    lines: tuple[LineDiscount, ...]


@dataclass(frozen=True)
class Rejected:
    reason: str  # a key of REASONS
    message: str
    campaign_id: int | None = None
    code: str | None = None


@dataclass(frozen=True)
class Hint:
    campaign_id: int
    message: str
    missing_amount: Decimal | None = None
    missing_quantity: int | None = None


@dataclass(frozen=True)
class ExclusiveDecision:
    """How the exclusive campaigns were weighed, when one was eligible: ``outcome``
    "exclusive" (``campaign_id`` applied alone) or "stack" (the other campaigns applied;
    ``campaign_id`` is the exclusive one they beat, None when no exclusive one gave anything)."""

    policy: str  # EXCLUSIVE_PRIORITY or EXCLUSIVE_BEST
    campaign_id: int | None
    outcome: str  # "exclusive" | "stack"
    message: str


@dataclass(frozen=True)
class Result:
    subtotal: Decimal
    shipping: Decimal
    discounts: tuple[Applied, ...]
    shipping_discount: Decimal
    total_discount: Decimal  # items and shipping
    total: Decimal  # subtotal + shipping - total_discount, never negative
    rejected: tuple[Rejected, ...]
    hints: tuple[Hint, ...]
    exclusive: ExclusiveDecision | None = None  # None: no exclusive campaign was eligible


@dataclass(frozen=True)
class Offer:
    """A campaign the customer may use now, and the code that names it ("" for automatic)."""

    campaign: Campaign
    code: str = ""
