"""How many points: pure functions over frozen dataclasses, no ORM (like ``campaigns.engine``).

Earning on an order:

- Each line's basis is what was paid for it: its total less its share of the order's
  discount (spread over the lines in proportion to their totals, to the paisa). Shipping
  and tax never earn.
- A line in a CATEGORY_POINTS rule's categories (or their sub-categories) earns that rule's
  rate instead of the base rate; in several, the highest rate wins (ties: the earlier rule).
  Every other line earns the POINTS_PER_RUPEE rate.
- Each rule earns once per order: points = round(basis x rate x tier multiplier) with the
  rule's rounding. The tier is the one the customer held before this order.
- FIRST_PURCHASE_BONUS earns on the customer's first counted order: fixed points, or a
  percentage of what was paid for the items (as points), without the tier multiplier.
- A rule's ``min_order_value`` is judged on what was paid for the items; a category rule
  below its minimum leaves its lines to the base rate.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from campaigns.engine.money import allocate

ZERO = Decimal("0.00")
ONE = Decimal("1")

POINTS_PER_RUPEE = "POINTS_PER_RUPEE"
FIRST_PURCHASE_BONUS = "FIRST_PURCHASE_BONUS"
DAILY_LOGIN_STREAK = "DAILY_LOGIN_STREAK"
CATEGORY_POINTS = "CATEGORY_POINTS"
ROUNDINGS = {"DOWN": ROUND_FLOOR, "NEAREST": ROUND_HALF_UP, "UP": ROUND_CEILING}


@dataclass(frozen=True)
class StreakStep:
    days: int
    multiplier: Decimal


@dataclass(frozen=True)
class EarnRule:
    id: int
    rule_type: str
    points_per_rupee: Decimal | None = None
    rounding: str = "DOWN"
    min_order_value: Decimal | None = None
    bonus_points: int | None = None
    bonus_percent: Decimal | None = None
    base_points: int | None = None
    streak_steps: tuple[StreakStep, ...] = ()
    max_multiplier: Decimal | None = None
    category_ids: frozenset[int] = frozenset()
    position: int = 0


@dataclass(frozen=True)
class TierSpec:
    id: int
    name: str
    threshold: Decimal
    multiplier: Decimal = ONE


@dataclass(frozen=True)
class OrderLineFact:
    sku: str
    line_total: Decimal
    category_ids: frozenset[int] = frozenset()  # the line's category and its ancestors


@dataclass(frozen=True)
class Earning:
    rule_id: int
    points: int
    basis: Decimal
    lines: dict[str, str] = field(default_factory=dict)  # sku -> basis (for proportional reversal)
    multiplier: Decimal = ONE


def round_points(value: Decimal, rounding: str) -> int:
    return int(value.quantize(ONE, rounding=ROUNDINGS.get(rounding, ROUND_FLOOR)))


def line_bases(lines: Sequence[OrderLineFact], discount: Decimal) -> list[Decimal]:
    """What was paid for each line: its total less its share of the order's discount."""
    totals = [line.line_total for line in lines]
    subtotal = sum(totals, ZERO)
    discount = min(max(discount, ZERO), subtotal)
    if not discount:
        return totals
    shares = allocate(discount, totals)
    return [total - share for total, share in zip(totals, shares, strict=True)]


def _line_rule(line: OrderLineFact, category_rules: Sequence[EarnRule]) -> EarnRule | None:
    best = None
    for rule in category_rules:
        if rule.category_ids & line.category_ids and (best is None or rule.points_per_rupee > best.points_per_rupee):
            best = rule
    return best


def order_earnings(
    rules: Sequence[EarnRule],
    lines: Sequence[OrderLineFact],
    *,
    discount: Decimal = ZERO,
    first_purchase: bool = False,
    tier_multiplier: Decimal = ONE,
) -> list[Earning]:
    """The points an order earns, one entry per rule that gives any (see the module's rules)."""
    ordered = sorted(rules, key=lambda r: (r.position, r.id))
    bases = line_bases(lines, discount)
    paid = sum(bases, ZERO)
    base_rule = next((r for r in ordered if r.rule_type == POINTS_PER_RUPEE), None)
    # A category rule whose minimum the order does not reach leaves its lines to the base rate.
    category_rules = [
        r
        for r in ordered
        if r.rule_type == CATEGORY_POINTS
        and r.points_per_rupee
        and (r.min_order_value is None or paid >= r.min_order_value)
    ]
    by_rule: dict[int, dict[str, Decimal]] = {}
    for line, basis in zip(lines, bases, strict=True):
        rule = _line_rule(line, category_rules) or base_rule
        if rule is not None and rule.points_per_rupee:
            by_rule.setdefault(rule.id, {})
            by_rule[rule.id][line.sku] = by_rule[rule.id].get(line.sku, ZERO) + basis
    earnings = []
    for rule in ordered:
        if rule.min_order_value is not None and paid < rule.min_order_value:
            continue
        if rule.id in by_rule:
            basis = sum(by_rule[rule.id].values(), ZERO)
            points = round_points(basis * rule.points_per_rupee * tier_multiplier, rule.rounding)
            if points > 0:
                earnings.append(
                    Earning(
                        rule_id=rule.id,
                        points=points,
                        basis=basis,
                        lines={sku: str(amount) for sku, amount in by_rule[rule.id].items()},
                        multiplier=tier_multiplier,
                    )
                )
        elif rule.rule_type == FIRST_PURCHASE_BONUS and first_purchase:
            if rule.bonus_points:
                points = rule.bonus_points
            else:
                points = round_points(paid * (rule.bonus_percent or ZERO) / 100, rule.rounding)
            if points > 0:
                lines_paid = {}
                for line, basis in zip(lines, bases, strict=True):
                    lines_paid[line.sku] = str(Decimal(lines_paid.get(line.sku, ZERO)) + basis)
                earnings.append(Earning(rule_id=rule.id, points=points, basis=paid, lines=lines_paid))
    return earnings


# --- Login streaks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StreakAward:
    points: int
    streak_days: int  # the streak after this day (unchanged for a late day)
    last_day: dt.date
    multiplier: Decimal


def streak_multiplier(rule: EarnRule, streak_days: int) -> Decimal:
    multiplier = max((s.multiplier for s in rule.streak_steps if streak_days >= s.days), default=ONE)
    if rule.max_multiplier is not None:
        multiplier = min(multiplier, rule.max_multiplier)
    return max(multiplier, ONE)


def streak_award(rule: EarnRule, *, day: dt.date, last_day: dt.date | None, streak_days: int) -> StreakAward | None:
    """The award for a login on ``day`` (the program's local day), or None for a day already
    awarded. A day after the last extends the streak; a gap restarts it at 1. A day before the
    last (a late event) earns the base points and leaves the streak alone."""
    if last_day == day:
        return None
    if last_day is not None and day < last_day:
        return StreakAward(
            points=round_points(Decimal(rule.base_points or 0), rule.rounding),
            streak_days=streak_days,
            last_day=last_day,
            multiplier=ONE,
        )
    streak = streak_days + 1 if last_day is not None and day - last_day == dt.timedelta(days=1) else 1
    multiplier = streak_multiplier(rule, streak)
    points = round_points(Decimal(rule.base_points or 0) * multiplier, rule.rounding)
    return StreakAward(points=points, streak_days=streak, last_day=day, multiplier=multiplier)


# --- Tiers, reversal, redemption -----------------------------------------------------------------


def tier_for(tiers: Sequence[TierSpec], measure: Decimal) -> TierSpec | None:
    """The highest tier whose threshold ``measure`` reaches (None: below the lowest)."""
    reached = [tier for tier in tiers if measure >= tier.threshold]
    return max(reached, key=lambda tier: tier.threshold) if reached else None


def tier_next(tiers: Sequence[TierSpec], measure: Decimal) -> TierSpec | None:
    above = [tier for tier in tiers if tier.threshold > measure]
    return min(above, key=lambda tier: tier.threshold) if above else None


def reversal_due(*, points: int, basis: Decimal, refunded_basis: Decimal, already: int, full: bool) -> int:
    """Points still to reverse of an earning: everything on a full refund or a cancel, else
    its share of the refunded basis (rounded down, so partial refunds never take more than a
    full one would), less what earlier reversals took."""
    if full or basis <= 0:
        target = points
    else:
        target = min(points, int((Decimal(points) * refunded_basis / basis).to_integral_value(rounding=ROUND_FLOOR)))
    return max(target - already, 0)


def points_value(points: int, point_value: Decimal) -> Decimal:
    return (Decimal(points) * point_value).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def points_affordable(payable: Decimal, point_value: Decimal) -> int:
    """The most points whose value does not exceed ``payable``."""
    if payable <= 0:
        return 0
    return int((payable / point_value).to_integral_value(rounding=ROUND_FLOOR))
