"""Every check that gives a marketer a message about a campaign (``campaign_check``, called
by the API and the console); the database constraints hold the invariants regardless."""

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from campaigns.models import (
    WEEKDAYS,
    Audience,
    Campaign,
    CampaignKind,
    CodeType,
    CouponCode,
    DiscountRule,
    Period,
    RedemptionType,
    Validity,
)
from campaigns.services.announcements import notify_check
from commerce.models import Brand, Category, Product
from lms.errors import Conflict, Invalid
from segments.models import Segment

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")
RULE_FIELDS = (
    "rule_type", "discount_type", "value", "max_discount", "min_quantity", "max_quantity", "tiers",
    "buy_quantity", "get_quantity", "max_applications",
)  # fmt: skip
TARGETS = {"category_ids": Category, "brand_ids": Brand, "product_ids": Product}
TARGETED = {DiscountRule.RuleType.CATEGORY: "category_ids", DiscountRule.RuleType.BRAND: "brand_ids",
            DiscountRule.RuleType.PRODUCT: "product_ids"}  # fmt: skip
UNTARGETED = (DiscountRule.RuleType.WHOLE_CART, DiscountRule.RuleType.CUSTOM_CART_TOTAL)
TIERED = (DiscountRule.RuleType.BULK_PURCHASE, DiscountRule.RuleType.CUSTOM_CART_TOTAL)


def invalid(path: str, message: str, code: str = "validation_error") -> Invalid:
    """A 400 in the shape serializer errors have: ``details`` maps the field path to messages."""
    error = Invalid(code, f"{path}: {message}")
    error.details = {path: [message]}  # not as keywords: a path may be "code"
    return error


def code_normalize(code: str) -> str:
    return code.strip().upper()


def code_taken(code: str, *, exclude_campaign: int | None = None) -> bool:
    """Is the code a live campaign's public code, or one of the unique codes?"""
    shared = Campaign.objects.filter(code__iexact=code, archived=False).exclude(pk=exclude_campaign)
    return shared.exists() or CouponCode.objects.filter(code=code_normalize(code)).exists()


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    # The system's zone directory also holds "localtime" (this node's own clock) and "posixrules".
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


# --- Checks ------------------------------------------------------------------------------------


def _check_schedule(fields: dict[str, Any]) -> None:
    if fields["timezone"] not in iana_zones():  # not ZoneInfo(): "localtime" would load the node's own clock
        raise invalid("timezone", f"{fields['timezone']!r} is not an IANA time zone (such as Asia/Kolkata).")
    if fields.get("ends_at") and fields["ends_at"] <= fields["starts_at"]:
        raise invalid("ends_at", "The end must be after the start.")
    start, end = fields.get("daily_start"), fields.get("daily_end")
    if (start is None) != (end is None):
        raise invalid("daily_end" if end is None else "daily_start", "Give both the daily start and end, or neither.")
    if start is not None and start == end:
        raise invalid("daily_end", "The daily window is empty: the end equals the start.")
    days = fields.get("weekdays") or []
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown:
        raise invalid("weekdays", f"Unknown days {unknown}; use {', '.join(WEEKDAYS)}.")
    fields["weekdays"] = [day for day in WEEKDAYS if day in days]


def _check_audience(fields: dict[str, Any], segment_ids: list[int] | None) -> list[Segment] | None:
    if segment_ids is None:
        return None
    audience = fields["audience"]
    if audience not in (Audience.GROUPS, Audience.SEGMENTS):
        if segment_ids:
            raise invalid("segment_ids", f"Segments are for the GROUPS or SEGMENTS audiences, not {audience}.")
        return []
    if not segment_ids:
        raise invalid("segment_ids", f"The {audience} audience needs at least one segment.")
    segments = {segment.pk: segment for segment in Segment.objects.filter(pk__in=segment_ids)}
    missing = sorted(set(segment_ids) - set(segments))
    if missing:
        raise invalid("segment_ids", f"Unknown segment ids: {', '.join(map(str, missing))}.")
    for segment in segments.values():
        if segment.kind != Segment.Kind.USER:
            raise invalid("segment_ids", f"Segment {segment.pk} ({segment.name}) holds products, not customers.")
        if audience == Audience.GROUPS and segment.type != Segment.Type.STATIC:
            raise invalid("segment_ids", f"Segment {segment.pk} ({segment.name}) is dynamic; groups are static lists.")
    return list(segments.values())


def _check_redemption(fields: dict[str, Any], campaign_id: int | None) -> None:
    code = code_normalize(fields.get("code") or "")
    fields["code"] = code
    if fields["redemption_type"] == RedemptionType.AUTOMATIC:
        if code:
            raise invalid("code", "An automatic campaign has no code; set redemption_type COUPON_CODE.")
    elif fields["code_type"] == CodeType.SHARED:
        if not code:
            raise invalid("code", "A coupon campaign with a shared code needs the code (such as DIWALI20).")
        if not CODE_PATTERN.match(code):
            raise invalid("code", "A code is 3-32 letters, digits, '-' or '_', starting with a letter or digit.")
        if code_taken(code, exclude_campaign=campaign_id):
            raise Conflict("code_taken", f"The code {code} is in use by another live campaign.", path="code")
    elif code:
        raise invalid("code", "A campaign with unique codes has no shared code; generate codes instead.")
    if fields["validity"] == Validity.ONE_TIME:
        if fields.get("customer_limit") not in (None, 1):
            raise invalid("customer_limit", "A ONE_TIME campaign is used once per customer.")
        if fields.get("period_limit") is not None:
            raise invalid("period_limit", "A ONE_TIME campaign has no per-period limit.")
        fields["customer_limit"], fields["period"] = 1, Period.LIFETIME
    if fields.get("period_limit") is not None and fields.get("period", Period.LIFETIME) == Period.LIFETIME:
        raise invalid("period", "A per-period limit needs the period: DAY, WEEK or MONTH.")
    if fields.get("period_limit") is None and fields.get("period", Period.LIFETIME) != Period.LIFETIME:
        raise invalid("period_limit", f"The period {fields['period']} needs period_limit (uses per period).")


def _check_tiers(rule: dict[str, Any], path: str) -> list[dict[str, str]]:
    tiers = rule.get("tiers") or []
    if not tiers:
        return []
    if rule["rule_type"] not in TIERED:
        raise invalid(f"{path}.tiers", "Tiers are for BULK_PURCHASE (quantity) and CUSTOM_CART_TOTAL (amount) rules.")
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
        if rule["rule_type"] == DiscountRule.RuleType.BULK_PURCHASE and threshold != threshold.to_integral_value():
            raise invalid(f"{path}.tiers[{index}].threshold", "A quantity threshold is a whole number.")
        if threshold <= 0:
            raise invalid(f"{path}.tiers[{index}].threshold", "A threshold is above zero.")
        if previous is not None and threshold <= previous:
            raise invalid(f"{path}.tiers[{index}].threshold", "Thresholds go up from one tier to the next.")
        if value <= 0 or (rule["discount_type"] == DiscountRule.DiscountType.PERCENTAGE and value > 100):
            raise invalid(f"{path}.tiers[{index}].value", "A tier's value is above zero (a percentage at most 100).")
        previous = threshold
    return [{"threshold": str(Decimal(str(t["threshold"]))), "value": str(Decimal(str(t["value"])))} for t in tiers]


def _check_rule(kind: str, rule: dict[str, Any], path: str) -> dict[str, Any]:
    rule_type, discount_type, value = rule["rule_type"], rule["discount_type"], rule.get("value")
    shipping = discount_type == DiscountRule.DiscountType.FREE_SHIPPING
    if kind == CampaignKind.FREE_SHIPPING and not shipping:
        raise invalid(f"{path}.discount_type", "A free-shipping campaign's rules give FREE_SHIPPING.")
    if kind == CampaignKind.DISCOUNT_COUPON and shipping:
        raise invalid(f"{path}.discount_type", "FREE_SHIPPING rules belong to a FREE_SHIPPING campaign.")
    rule["tiers"] = _check_tiers(rule, path)
    if rule_type == DiscountRule.RuleType.BUY_X_GET_Y:
        if discount_type != DiscountRule.DiscountType.PERCENTAGE:
            raise invalid(f"{path}.discount_type", "Buy X get Y takes a PERCENTAGE off the Y items (100 = free).")
        for name in ("buy_quantity", "get_quantity"):
            if not rule.get(name):
                raise invalid(f"{path}.{name}", "Buy X get Y needs buy_quantity (X) and get_quantity (Y).")
        if value is None:
            rule["value"] = value = Decimal("100")
    else:
        for name in ("buy_quantity", "get_quantity", "max_applications"):
            if rule.get(name) is not None:
                raise invalid(f"{path}.{name}", "Only BUY_X_GET_Y rules take this.")
    if shipping:
        if value is not None:
            raise invalid(f"{path}.value", "Free shipping has no value; cap it with max_discount.")
    elif value is None and not rule["tiers"]:
        raise invalid(f"{path}.value", "The discount needs a value (or tiers).")
    if value is not None and value <= 0:
        raise invalid(f"{path}.value", "The value is above zero.")
    if value is not None and discount_type == DiscountRule.DiscountType.PERCENTAGE and value > 100:
        raise invalid(f"{path}.value", "A percentage is at most 100.")
    if rule_type in TARGETED and not rule.get(TARGETED[rule_type]):
        raise invalid(f"{path}.{TARGETED[rule_type]}", f"A {rule_type} rule needs at least one target.")
    for name in TARGETS:
        if rule.get(name) and (rule_type in UNTARGETED or (rule_type in TARGETED and name != TARGETED[rule_type])):
            raise invalid(f"{path}.{name}", f"A {rule_type} rule does not take {name}.")
    return rule


def _check_targets(rules: list[dict[str, Any]]) -> None:
    """Unknown category, brand or product ids, named with the rule's path (one query per kind)."""
    for name, model in TARGETS.items():
        wanted = {pk for rule in rules for pk in rule.get(name) or ()}
        if not wanted:
            continue
        known = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for index, rule in enumerate(rules):
            missing = sorted(set(rule.get(name) or ()) - known)
            if missing:
                label = name.removesuffix("_ids").replace("category", "categorie")
                raise invalid(f"rules[{index}].{name}", f"Unknown {label} ids: {', '.join(map(str, missing))}.")


def campaign_common_check(
    *, fields: dict[str, Any], segment_ids: list[int] | None, notify_changed: bool = True
) -> list[Segment] | None:
    """The part every kind shares (loyalty programs too): schedule, audience, geography and
    the notification content (when this write gives any: stored content that predates the
    check does not block an unrelated change). Normalises ``fields`` in place; answers the
    audience's segments (None: not given)."""
    _check_schedule(fields)
    segments = _check_audience(fields, segment_ids)
    for name in ("countries", "states", "cities"):
        fields[name] = [v.strip() for v in fields.get(name) or [] if v.strip()]
    if notify_changed:
        notify_check(fields=fields)
    return segments


def notify_changes(changes: dict[str, Any]) -> bool:
    """Does a change touch the notification content or channels?"""
    return any(name.startswith("notify_") for name in changes)


def campaign_merged_fields(campaign: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    """A change applied over the stored fields: what the checks judge as a whole."""
    fields = {f.name: getattr(campaign, f.name) for f in Campaign._meta.concrete_fields if not f.primary_key}
    fields.pop("created_by", None)
    fields.update(changes)
    return fields


def campaign_segment_ids(
    campaign: Campaign, changes: dict[str, Any], segment_ids: list[int] | None
) -> list[int] | None:
    """The audience segments a change leaves: moving to ALL/NEW/EXISTING drops them."""
    if segment_ids is None and changes.get("audience") not in (None, Audience.GROUPS, Audience.SEGMENTS):
        return []
    if segment_ids is None and "audience" in changes:
        return list(campaign.segments.values_list("pk", flat=True))
    return segment_ids


def campaign_check(
    *,
    fields: dict[str, Any],
    rules: list[dict[str, Any]] | None,
    segment_ids: list[int] | None,
    campaign_id=None,
    notify_changed: bool = True,
) -> list[Segment] | None:
    """Normalise and check a whole campaign (the merged state for a change); raises 400/409 with the field path."""
    if fields["kind"] not in (CampaignKind.DISCOUNT_COUPON, CampaignKind.FREE_SHIPPING):
        raise invalid("kind", "This route makes DISCOUNT_COUPON and FREE_SHIPPING campaigns.")
    segments = campaign_common_check(fields=fields, segment_ids=segment_ids, notify_changed=notify_changed)
    _check_redemption(fields, campaign_id)
    for name in ("budget", "max_discount"):
        if fields.get(name) is not None and fields[name] <= 0:
            raise invalid(name, "Above zero, or empty for no limit.")
    if fields.get("min_cart_value") is not None and fields["min_cart_value"] < 0:
        raise invalid("min_cart_value", "Zero or more.")
    if rules is not None:
        if not rules:
            raise invalid("rules", "A campaign needs at least one rule.")
        for index, rule in enumerate(rules):
            _check_rule(fields["kind"], rule, f"rules[{index}]")
        _check_targets(rules)
    return segments
