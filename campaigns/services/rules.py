"""A campaign's discount rules: their checks and their rows.

What a rule type takes and needs is the engine's registry (``campaigns.engine.rules``): its
target kinds, whether it needs a target, what its tiers measure, its own fields and their
checks. Nothing here names a rule type, so a new one needs no change here.
"""

from decimal import Decimal
from typing import Any

from campaigns.engine.rules import RULE_TYPES, TARGET_FIELDS, UNITS, tiered_types_text
from campaigns.models import CampaignKind, DiscountRule
from commerce.models import Brand, Category, Product
from lms.errors import Invalid
from segments.models import Segment

RULE_FIELDS = (
    "rule_type", "discount_type", "value", "max_discount", "min_quantity", "max_quantity", "tiers",
    "buy_quantity", "get_quantity", "max_applications",
)  # fmt: skip
# A rule's target field (the API's) -> the model it names, and DiscountRule's relation.
TARGET_MODELS = {"category_ids": Category, "brand_ids": Brand, "product_ids": Product, "product_segment_ids": Segment}
TARGET_RELATIONS = {
    "category_ids": "categories", "brand_ids": "brands", "product_ids": "products",
    "product_segment_ids": "product_segments",
}  # fmt: skip
assert set(TARGET_RELATIONS) == set(TARGET_MODELS) == set(TARGET_FIELDS), "every engine target kind has a relation"


def invalid(path: str, message: str, code: str = "validation_error") -> Invalid:
    """A 400 in the shape serializer errors have: ``details`` maps the field path to messages."""
    error = Invalid(code, f"{path}: {message}")
    error.details = {path: [message]}  # not as keywords: a path may be "code"
    return error


def _check_tiers(rule: dict[str, Any], path: str) -> list[dict[str, str]]:
    tiers = rule.get("tiers") or []
    if not tiers:
        return []
    kind = RULE_TYPES[rule["rule_type"]]
    if kind.tiers_measure is None:
        raise invalid(f"{path}.tiers", f"Tiers are for {tiered_types_text(' and ')} rules.")
    if not isinstance(tiers, list):
        raise invalid(f"{path}.tiers", 'Tiers are a list: [{"threshold": 3, "value": 5}, ...].')
    previous = None
    for index, tier in enumerate(tiers):
        try:
            threshold, value = Decimal(str(tier["threshold"])), Decimal(str(tier["value"]))
            if not (threshold.is_finite() and value.is_finite()):
                raise ValueError
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise invalid(f"{path}.tiers[{index}]", 'A tier is {"threshold": number, "value": number}.')
        if kind.tiers_measure == UNITS and threshold != threshold.to_integral_value():
            raise invalid(f"{path}.tiers[{index}].threshold", "A quantity threshold is a whole number.")
        if threshold <= 0:
            raise invalid(f"{path}.tiers[{index}].threshold", "A threshold is above zero.")
        if previous is not None and threshold <= previous:
            raise invalid(f"{path}.tiers[{index}].threshold", "Thresholds go up from one tier to the next.")
        if value <= 0 or (rule["discount_type"] == DiscountRule.DiscountType.PERCENTAGE and value > 100):
            raise invalid(f"{path}.tiers[{index}].value", "A tier's value is above zero (a percentage at most 100).")
        previous = threshold
    return [{"threshold": str(Decimal(str(t["threshold"]))), "value": str(Decimal(str(t["value"])))} for t in tiers]


def _check_own_fields(kind, rule: dict[str, Any], discount_type: str, path: str) -> None:
    """The type's own check, and no field another type owns."""
    refusal = kind.check(rule, discount_type)
    if refusal is not None:
        raise invalid(f"{path}.{refusal[0]}", refusal[1])
    for other in RULE_TYPES.values():
        for name in other.own_fields:
            if name not in kind.own_fields and rule.get(name) is not None:
                owners = " and ".join(k.key for k in RULE_TYPES.values() if name in k.own_fields)
                raise invalid(f"{path}.{name}", f"Only {owners} rules take this.")


def rule_check(kind: str, rule: dict[str, Any], path: str) -> dict[str, Any]:
    """Normalise and check one rule of a campaign of ``kind``; raises 400 with the field path."""
    rule_type, discount_type = rule["rule_type"], rule["discount_type"]
    strategy = RULE_TYPES.get(rule_type)
    if strategy is None:
        raise invalid(f"{path}.rule_type", f"Unknown rule type; use one of {', '.join(RULE_TYPES.keys())}.")
    shipping = discount_type == DiscountRule.DiscountType.FREE_SHIPPING
    if kind == CampaignKind.FREE_SHIPPING and not shipping:
        raise invalid(f"{path}.discount_type", "A free-shipping campaign's rules give FREE_SHIPPING.")
    if kind == CampaignKind.DISCOUNT_COUPON and shipping:
        raise invalid(f"{path}.discount_type", "FREE_SHIPPING rules belong to a FREE_SHIPPING campaign.")
    rule["tiers"] = _check_tiers(rule, path)
    _check_own_fields(strategy, rule, discount_type, path)
    value = rule.get("value")
    if shipping:
        if value is not None:
            raise invalid(f"{path}.value", "Free shipping has no value; cap it with max_discount.")
    elif value is None and not rule["tiers"]:
        raise invalid(f"{path}.value", "The discount needs a value (or tiers).")
    if value is not None and value <= 0:
        raise invalid(f"{path}.value", "The value is above zero.")
    if value is not None and discount_type == DiscountRule.DiscountType.PERCENTAGE and value > 100:
        raise invalid(f"{path}.value", "A percentage is at most 100.")
    takes = [target.field for target in strategy.target_kinds]
    if strategy.needs_target and not any(rule.get(name) for name in takes):
        raise invalid(f"{path}.{takes[0]}", f"A {rule_type} rule needs at least one target.")
    for name in TARGET_FIELDS:
        if rule.get(name) and name not in takes:
            raise invalid(f"{path}.{name}", f"A {rule_type} rule does not take {name}.")
    return rule


def rules_targets_check(rules: list[dict[str, Any]]) -> None:
    """Unknown targets, named with the rule's path (one query per kind); a product segment
    must hold products."""
    for name, model in TARGET_MODELS.items():
        wanted = {pk for rule in rules for pk in rule.get(name) or ()}
        if not wanted:
            continue
        rows = model.objects.filter(pk__in=wanted)
        if model is Segment:
            found = {pk: (kind, label) for pk, kind, label in rows.values_list("pk", "kind", "name")}
        else:
            found = {pk: None for pk in rows.values_list("pk", flat=True)}
        for index, rule in enumerate(rules):
            path = f"rules[{index}].{name}"
            missing = sorted(set(rule.get(name) or ()) - set(found))
            if missing:
                label = name.removesuffix("_ids").replace("category", "categorie").replace("_", " ")
                raise invalid(path, f"Unknown {label} ids: {', '.join(map(str, missing))}.")
            for pk in rule.get(name) or ():
                if model is Segment and found[pk][0] != Segment.Kind.PRODUCT:
                    raise invalid(path, f"Segment {pk} ({found[pk][1]}) holds customers, not products.")


def rules_replace(campaign, rules: list[dict[str, Any]]) -> None:
    """The campaign's rules become ``rules`` (service dicts), in order."""
    campaign.rules.all().delete()
    for position, data in enumerate(rules):
        rule = DiscountRule.objects.create(
            campaign=campaign, position=position, **{k: data.get(k) for k in RULE_FIELDS if data.get(k) is not None}
        )
        for name, relation in TARGET_RELATIONS.items():
            getattr(rule, relation).set(data.get(name) or [])


def rule_dicts(campaign) -> list[dict[str, Any]]:
    """The campaign's rules as service dicts (to copy them)."""
    rules = campaign.rules.prefetch_related(*TARGET_RELATIONS.values())
    return [
        {
            **{name: getattr(rule, name) for name in RULE_FIELDS},
            **{
                name: [target.pk for target in getattr(rule, relation).all()]
                for name, relation in TARGET_RELATIONS.items()
            },
        }
        for rule in rules
    ]
