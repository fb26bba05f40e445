"""What a rule type is: a strategy class the engine, the console's forms and the API read.

A rule type says its key and label; which fields it takes and needs (targets, tiers, its own
fields) and the messages refusing the rest; which lines it is about (``matched``); what its
tiers are measured on; which units it discounts (``picks``); the discount on them; and how
it reads to a customer (``reward``/``describe``, the offer summary's scope and condition).

A rule always works on what is *left* of each line (``CartView.left``, in whole cents) after
earlier campaigns and earlier rules of its own campaign, so it can never push a line below
zero; thresholds (quantities, cart total) are read on the cart as it is, since taking a
discount does not change how many items the customer bought.

Amounts inside the engine are whole cents (``int``): exact, and far cheaper than Decimal on
a cart that hundreds of campaigns discount line by line. Values, thresholds and caps stay
Decimal on the rules; ``money.to_cents`` / ``from_cents`` convert at the edges.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from campaigns.engine.money import ZERO, allocate_cents, figure_cents, from_cents, money_text, number_text, to_cents
from campaigns.engine.rules.targets import CartIndex, TargetKind, has_targets, kinds_for
from campaigns.engine.types import FIXED_AMOUNT, PERCENTAGE, SHIPPING, Hint, Line, Rule

HUNDRED = Decimal(100)
UNITS, AMOUNT = "units", "amount"  # what a tiered rule's thresholds measure


@dataclass(slots=True)
class RuleOutcome:
    """A rule's answer. ``reason`` None: the condition holds and ``items`` (line index ->
    amount) and ``shipping`` are what it gives (possibly nothing)."""

    reason: str | None = None
    message: str = ""
    items: dict[int, int] = field(default_factory=dict)  # line index -> cents
    shipping: int = 0  # cents
    hints: list[Hint] = field(default_factory=list)


class CartView:
    """The cart as a rule sees it: the lines, what is left of each (``base`` after earlier
    campaigns, less ``taken`` by earlier rules of this campaign), the shipping left, and the
    subtotal before any discount (the figure thresholds are read on)."""

    __slots__ = ("lines", "base", "taken", "shipping_left", "subtotal", "currency", "index", "matches")

    def __init__(self, lines, base, taken, shipping_left, subtotal, currency, index, matches) -> None:
        self.lines: tuple[Line, ...] = lines
        self.base: list[int] = base  # cents
        self.taken: dict[int, int] = taken  # cents
        self.shipping_left: int = shipping_left  # cents
        self.subtotal: Decimal = subtotal
        self.currency: str = currency
        self.index: CartIndex = index
        self.matches: dict[int, list[int]] = matches  # id(rule) -> its matched lines, per evaluation

    def left(self, index: int) -> int:
        taken = self.taken.get(index)
        return self.base[index] if taken is None else self.base[index] - taken


class RuleType:
    """One rule type. Subclasses set the class attributes and override what differs."""

    key: ClassVar[str]
    label: ClassVar[str]
    scope: ClassVar[str | None] = None  # target scope (targets.ANY, CATEGORY, ...); None: untargeted
    needs_target: ClassVar[bool] = False  # at least one target (else: every live line)
    tiers_measure: ClassVar[str | None] = None  # UNITS or AMOUNT: takes tiers read on that
    own_fields: ClassVar[tuple[str, ...]] = ()  # fields only this type takes (buy_quantity, ...)
    scope_text: ClassVar[str] = ""  # "selected brands": the offer summary's "on ..."

    def __init__(self) -> None:
        self.target_kinds: tuple[TargetKind, ...] = kinds_for(self.scope)  # once, not per match
        # ``picks`` / ``discount`` as here: the engine may skip the call / the bases (rules.judge)
        self.plain_discount: bool = type(self).discount is RuleType.discount
        self.plain_picks: bool = type(self).picks is RuleType.picks

    # --- Validation (the services read these; the messages are the API's) -----------------

    def check(self, rule: dict[str, Any], discount_type: str) -> tuple[str, str] | None:
        """A type-specific refusal of the rule's input: (field, message), or None. May fill
        defaults in ``rule``."""
        return None

    # --- Matching --------------------------------------------------------------------------

    def matched(self, rule: Rule, index: CartIndex) -> list[int]:
        """The live lines the rule is about, in cart order."""
        kinds = self.target_kinds
        if not kinds or (not self.needs_target and not has_targets(rule, kinds)):
            return index.live
        return index.lines_for(rule, kinds)

    # --- Picking and discounting -------------------------------------------------------------

    def picks(
        self, rule: Rule, cart: CartView, matched: list[int], campaign_id: int
    ) -> "dict[int, int] | RuleOutcome | None":
        """Which units the discount is on: line index -> units, or None for every matched unit
        (the common case, and the cheapest). Here: all of them, or the ``max_quantity`` dearest."""
        if rule.max_quantity is not None:
            return take(by_price(cart, matched), cart, max(rule.max_quantity, 0))
        return None

    def discount(self, rule: Rule, value: Decimal | None, bases: dict[int, int]) -> dict[int, int]:
        """The rule's value applied to the picked units' remaining amounts (cents)."""
        if not bases:
            return {}
        if rule.discount_type == FIXED_AMOUNT and value is not None:
            return fixed_split(value, bases)
        if rule.discount_type == PERCENTAGE:
            return percent_of(value or ZERO, bases)
        return {}

    # --- Words ------------------------------------------------------------------------------

    def reward(self, rule: Rule, value: Decimal | None, currency: str) -> str:
        """What the customer gets at ``value``, for "Buy N more to get <reward>."."""
        if rule.discount_type == SHIPPING:
            return shipping_text(rule, currency)
        if value is None:
            return "a discount"
        if rule.discount_type == PERCENTAGE:
            return f"{number_text(value)}% off"
        return f"{money_text(value, currency)} off"

    def describe(self, rule: Rule, value: Decimal | None, currency: str) -> str:
        """The offer at ``value``, for "Add ₹X more to the cart for <offer>."."""
        return self.reward(rule, value, currency)

    def condition_text(self, rule: Rule, first_threshold: Decimal | None, currency: str) -> str:
        """The offer summary's condition: " when you buy 3 or more", " on orders of ₹999.00 or more"."""
        if first_threshold is not None:
            if self.tiers_measure == UNITS:
                return f" when you buy {number_text(first_threshold)} or more"
            return f" on orders of {money_text(first_threshold, currency)} or more"
        if rule.min_quantity:
            return f" when you buy {rule.min_quantity} or more"
        return ""


def shipping_text(rule: Rule, currency: str) -> str:
    if rule.max_discount is not None:
        return f"up to {money_text(rule.max_discount, currency)} off shipping"
    return "free shipping"


def by_price(cart: CartView, matched: list[int]) -> list[int]:
    """Matched lines dearest unit first; equal prices by sku, then by line order."""
    lines = cart.lines
    return sorted(matched, key=lambda index: (-lines[index].unit_price, lines[index].sku, index))


def take(order: list[int], cart: CartView, count: int) -> dict[int, int]:
    """The first ``count`` units walking the lines in ``order``: line index -> units taken."""
    taken: dict[int, int] = {}
    for index in order:
        if count <= 0:
            break
        units = min(cart.lines[index].quantity, count)
        taken[index] = units
        count -= units
    return taken


def fixed_split(value: Decimal, bases: dict[int, int]) -> dict[int, int]:
    """One amount off the picked units together, shared by what is left of each."""
    amount = min(max(figure_cents(value), 0), sum(bases.values()))
    return dict(zip(bases, allocate_cents(amount, list(bases.values())), strict=True))


def percent_of(percent: Decimal, bases: dict[int, int]) -> dict[int, int]:
    """``percent`` % of each base, rounded half up to the cent, at most the base."""
    p = hundredths(percent)
    if p >= 0:  # two places at most: exact in integers (p <= 10000: never more than the base)
        return {index: (base * p + 5000) // 10000 for index, base in bases.items()}
    percent = min(max(percent, ZERO), HUNDRED)
    return {index: min(to_cents(from_cents(base) * percent / HUNDRED), base) for index, base in bases.items()}


_HUNDREDTHS: dict[Decimal, int] = {}  # percent -> hundredths of a percent (-1: finer), remembered


def hundredths(percent: Decimal) -> int:
    """The percent (clamped to 0-100) in hundredths, or -1 when it has a finer part."""
    p = _HUNDREDTHS.get(percent)
    if p is not None:
        return p
    scaled = min(max(percent, ZERO), HUNDRED).scaleb(2)
    p = int(scaled) if scaled == scaled.to_integral_value() else -1
    if len(_HUNDREDTHS) >= 4096:  # a bound, should percentages keep changing
        _HUNDREDTHS.clear()
    _HUNDREDTHS[percent] = p
    return p


def cap_amounts(items: dict[int, int], cap: Decimal) -> dict[int, int]:
    """Shrink ``items`` (cents) to add up to ``cap`` when they exceed it, split by their sizes."""
    cap_cents = max(figure_cents(cap), 0)
    if sum(items.values()) <= cap_cents:
        return items
    return dict(zip(items, allocate_cents(cap_cents, list(items.values())), strict=True))
