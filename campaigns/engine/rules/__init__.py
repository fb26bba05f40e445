"""Rule types as strategy classes (``base.RuleType``, one module each), registered in
``catalogue.RULE_TYPES``; ``judge`` runs one rule on one cart; ``targets`` is what a rule can
aim at and the cart's index to find it. See ``base`` for what a rule type decides."""

from campaigns.engine.rules.base import AMOUNT, UNITS, CartView, RuleOutcome, RuleType, by_price, cap_amounts, take
from campaigns.engine.rules.catalogue import RULE_TYPES, rule_type_register, rule_type_unregister, tiered_types_text
from campaigns.engine.rules.judge import (
    describe,
    matched_once,
    offer_summary,
    opening_value,
    reward,
    rule_outcome,
    sorted_tiers,
)
from campaigns.engine.rules.targets import ANY, TARGET_FIELDS, TARGET_KINDS, CartIndex, TargetKind, kinds_for

__all__ = [
    "AMOUNT",
    "ANY",
    "RULE_TYPES",
    "rule_type_register",
    "rule_type_unregister",
    "TARGET_FIELDS",
    "TARGET_KINDS",
    "UNITS",
    "CartIndex",
    "CartView",
    "RuleOutcome",
    "RuleType",
    "TargetKind",
    "by_price",
    "cap_amounts",
    "describe",
    "kinds_for",
    "matched_once",
    "offer_summary",
    "opening_value",
    "reward",
    "rule_outcome",
    "sorted_tiers",
    "take",
    "tiered_types_text",
]
