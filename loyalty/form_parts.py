"""What the console's loyalty program form is built from: each earning rule type's fields (the
services' ``TAKES``), the streak step rows, marketer help texts, and the services' messages in
marketer words."""

from decimal import Decimal

from campaigns.models import Audience, CampaignStatus, Channel
from lms.form_fields import Column, RowsField, choice_words, decimal_parser, whole_parser, words_for
from loyalty.models import EarningRule, Rounding, TierBasis
from loyalty.services.programs import TAKES

MAX_STEPS = 20
# The form calls a rule's categories "categories" (the services: category_ids).
FORM_NAMES = {"category_ids": "categories"}


def earning_rule_fields() -> dict[str, list[str]]:
    """Earning rule type -> the form fields a row of that type shows and saves."""
    return {
        str(rule_type): ["rule_type", *sorted(FORM_NAMES.get(name, name) for name in {*names, "rounding"})]
        for rule_type, names in TAKES.items()
    }


def streak_steps_field() -> RowsField:
    return RowsField(
        columns=(
            Column("days", "Days in a row", whole_parser(low=1, high=3650), step="1"),
            Column("multiplier", "Points ×", decimal_parser(low=Decimal("0"), high=Decimal(10**4))),
        ),
        max_rows=MAX_STEPS,
        row_label="Step",
        label="Streak steps",
        help_text="From this many login days in a row, the day's points are multiplied: 7 days × 2, "
        "30 days × 3. Longest last; leave rows empty to drop them.",
    )


RULE_HELP = {
    "rule_type": "How members earn: per rupee spent, a bonus on the first purchase, daily logins, or "
    "per rupee in chosen categories. The row shows the fields of the type picked.",
    "points_per_rupee": "Points per rupee spent, such as 1 or 0.5.",
    "rounding": "How part points are rounded.",
    "min_order_value": "Orders below this earn nothing from this rule; empty = any order.",
    "bonus_points": "A fixed bonus (or give a percentage instead).",
    "bonus_percent": "A bonus as a percentage of the order, in points (or give fixed points instead).",
    "base_points": "Points for each login day.",
    "max_multiplier": "The highest a streak multiplies; empty = no cap.",
    "categories": "The categories whose items earn at this rate.",
}

PROGRAM_WORDS = {
    **choice_words(
        EarningRule.RuleType.choices,
        Rounding.choices,
        TierBasis.choices,
        CampaignStatus.choices,
        Audience.choices,
        Channel.choices,
    ),  # fmt: skip
    "points_per_rupee": "points per rupee",
    "min_order_value": "minimum order value",
    "bonus_points": "bonus points",
    "bonus_percent": "bonus percentage",
    "base_points": "points per day",
    "max_multiplier": "highest multiplier",
    "category_ids": "categories",
    "segment_ids": "segments",
    "point_value": "value of a point",
    "min_redeem_points": "fewest points redeemed",
    "expiry_days": "expiry days",
    "tier_basis": "tier basis",
    "tier_window_days": "tier window (days)",
    "hold_days": "hold days",
    "hold_until_fulfilled": "“hold until fulfilled”",
    "return_window_days": "return window (days)",
    "starts_at": "start",
    "ends_at": "end",
}
program_words = words_for(PROGRAM_WORDS, items={"streak_steps": "Streak step", "tiers": "Tier", "rules": "Rule"})
