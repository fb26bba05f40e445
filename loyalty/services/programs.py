"""Loyalty program writes: create, change, switch on/off, archive or delete.

A program is a Campaign of kind LOYALTY_PROGRAM (its schedule, audience, geography and
notification content are checked by the campaigns app's shared check) plus its settings,
earning rules and tiers. Every message a marketer sees comes from ``program_check``, which
the API and the console both call.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import User
from campaigns.evaluation import snapshot_invalidate
from campaigns.models import Campaign, CampaignKind
from campaigns.services.announcements import campaign_announce, switched_on
from campaigns.services.campaigns import (
    campaign_common_check,
    campaign_merged_fields,
    campaign_save,
    campaign_segment_ids,
    invalid,
    notify_changes,
)
from commerce.models import Category
from lms.errors import Conflict
from loyalty.models import EarningRule, LoyaltyAccount, LoyaltyProgram, ProgramSettings, Tier, TierBasis
from loyalty.services.messages import messages_check

MESSAGE_FIELDS = (
    "message_channels", "points_earned_on", "points_earned_title", "points_earned_body",
    "points_expiring_on", "points_expiring_days", "points_expiring_title", "points_expiring_body",
    "tier_change_on", "tier_up_title", "tier_up_body", "tier_down_title", "tier_down_body",
)  # fmt: skip
SETTINGS_FIELDS = (
    "point_value", "min_redeem_points", "expiry_days", "tier_basis", "tier_window_days",
    "hold_days", "hold_until_fulfilled", "return_window_days", *MESSAGE_FIELDS,
)  # fmt: skip
MAX_HOLD_DAYS = 365
RULE_FIELDS = (
    "rule_type", "points_per_rupee", "rounding", "min_order_value", "bonus_points", "bonus_percent",
    "base_points", "streak_steps", "max_multiplier",
)  # fmt: skip
RT = EarningRule.RuleType
# Which fields each rule type takes (the rest must be left out).
TAKES = {
    RT.POINTS_PER_RUPEE: {"points_per_rupee", "rounding", "min_order_value"},
    RT.CATEGORY_POINTS: {"points_per_rupee", "rounding", "min_order_value", "category_ids"},
    RT.FIRST_PURCHASE_BONUS: {"bonus_points", "bonus_percent", "rounding", "min_order_value"},
    RT.DAILY_LOGIN_STREAK: {"base_points", "streak_steps", "max_multiplier", "rounding"},
}
ONCE = (RT.POINTS_PER_RUPEE, RT.FIRST_PURCHASE_BONUS, RT.DAILY_LOGIN_STREAK)
MAX_RATE = Decimal("10000")
MAX_POINT_VALUE = Decimal("100")  # so a billion points' value still fits a redemption's amount
MAX_THRESHOLD = Decimal("100000000000")
PARKED = MAX_THRESHOLD * 9  # above every threshold allowed


def _check_settings(settings: dict[str, Any]) -> None:
    if settings.get("point_value") is not None and settings["point_value"] <= 0:
        raise invalid("point_value", "A point is worth more than zero rupees (e.g. 0.10).")
    if settings.get("point_value") is not None and settings["point_value"] > MAX_POINT_VALUE:
        raise invalid("point_value", f"A point is worth at most {MAX_POINT_VALUE} rupees.")
    if settings.get("min_redeem_points") is not None and settings["min_redeem_points"] < 1:
        raise invalid("min_redeem_points", "At least 1.")
    if settings.get("expiry_days") is not None and settings["expiry_days"] < 1:
        raise invalid("expiry_days", "At least 1 day, or empty for points that never expire.")
    if settings.get("tier_basis") == TierBasis.SPEND and not settings.get("tier_window_days"):
        raise invalid("tier_window_days", "A SPEND tier basis needs its rolling window in days (e.g. 365).")
    if settings.get("tier_basis") != TierBasis.SPEND and settings.get("tier_window_days"):
        raise invalid("tier_window_days", "Only a SPEND tier basis has a window.")
    for name in ("hold_days", "return_window_days"):
        if not 0 <= (settings.get(name) or 0) <= MAX_HOLD_DAYS:
            raise invalid(name, f"From 0 to {MAX_HOLD_DAYS} days.")
    if settings.get("hold_until_fulfilled") and settings.get("hold_days"):
        raise invalid(
            "hold_until_fulfilled",
            "One hold at a time: hold_days after the order, or until it is fulfilled plus return_window_days"
            " (set hold_days to 0).",
        )
    if settings.get("return_window_days") and not settings.get("hold_until_fulfilled"):
        raise invalid("return_window_days", "The return window counts from fulfilment: set hold_until_fulfilled.")
    messages_check(settings)


def _check_steps(rule: dict[str, Any], path: str) -> list[dict[str, Any]]:
    steps, previous = rule.get("streak_steps") or [], None
    for index, step in enumerate(steps):
        days, multiplier = step["days"], Decimal(str(step["multiplier"]))
        if days < 2:
            raise invalid(f"{path}.streak_steps[{index}].days", "A step starts at a streak of 2 days or more.")
        if multiplier < 1:
            raise invalid(f"{path}.streak_steps[{index}].multiplier", "A multiplier is 1 or more.")
        if previous is not None and days <= previous[0]:
            raise invalid(f"{path}.streak_steps[{index}].days", "Steps go up in days: list them in order, each longer.")
        if previous is not None and multiplier < previous[1]:
            raise invalid(f"{path}.streak_steps[{index}].multiplier", "A longer streak never multiplies by less.")
        previous = (days, multiplier)
    return [{"days": s["days"], "multiplier": str(Decimal(str(s["multiplier"])))} for s in steps]


def _check_rule(rule: dict[str, Any], path: str) -> None:
    rule_type = rule["rule_type"]
    for name in (*RULE_FIELDS[1:], "category_ids"):
        given = rule.get(name)
        if given not in (None, [], "") and name not in TAKES[rule_type] and not (name == "rounding"):
            raise invalid(f"{path}.{name}", f"A {rule_type} rule does not take {name}.")
    rate = rule.get("points_per_rupee")
    if rule_type in (RT.POINTS_PER_RUPEE, RT.CATEGORY_POINTS):
        if rate is None:
            raise invalid(f"{path}.points_per_rupee", "Give the points per rupee (e.g. 10, or 0.5).")
        if rate <= 0:
            raise invalid(f"{path}.points_per_rupee", "The rate is above zero.")
        if rate > MAX_RATE:
            raise invalid(f"{path}.points_per_rupee", f"At most {MAX_RATE} points per rupee.")
    if rule_type == RT.CATEGORY_POINTS and not rule.get("category_ids"):
        raise invalid(f"{path}.category_ids", "A CATEGORY_POINTS rule names at least one category.")
    if rule_type == RT.FIRST_PURCHASE_BONUS:
        points, percent = rule.get("bonus_points"), rule.get("bonus_percent")
        if (points is None) == (percent is None):
            raise invalid(f"{path}.bonus_points", "Give the bonus as bonus_points or bonus_percent (one of them).")
        if points is not None and points < 1:
            raise invalid(f"{path}.bonus_points", "The bonus is 1 point or more.")
        if percent is not None and not (0 < percent <= 100):
            raise invalid(f"{path}.bonus_percent", "A percentage above 0 and at most 100.")
    if rule_type == RT.DAILY_LOGIN_STREAK:
        if not rule.get("base_points") or rule["base_points"] < 1:
            raise invalid(f"{path}.base_points", "A login day earns 1 point or more.")
        rule["streak_steps"] = _check_steps(rule, path)
        if rule.get("max_multiplier") is not None and rule["max_multiplier"] < 1:
            raise invalid(f"{path}.max_multiplier", "The cap is 1 or more.")
    if rule.get("min_order_value") is not None and rule["min_order_value"] < 0:
        raise invalid(f"{path}.min_order_value", "Zero or more.")


def _check_rules(rules: list[dict[str, Any]]) -> None:
    if not rules:
        raise invalid("rules", "A program needs at least one earning rule.")
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        path = f"rules[{index}]"
        _check_rule(rule, path)
        if rule["rule_type"] in ONCE:
            if rule["rule_type"] in seen:
                raise invalid(
                    f"{path}.rule_type",
                    f"A program has one {rule['rule_type']} rule (rules[{seen[rule['rule_type']]}]).",
                )
            seen[rule["rule_type"]] = index
    wanted = {pk for rule in rules for pk in rule.get("category_ids") or ()}
    known = set(Category.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    for index, rule in enumerate(rules):
        missing = sorted(set(rule.get("category_ids") or ()) - known)
        if missing:
            raise invalid(f"rules[{index}].category_ids", f"Unknown category ids: {', '.join(map(str, missing))}.")


def _check_tiers(tiers: list[dict[str, Any]]) -> None:
    names: dict[str, int] = {}
    ordered = sorted(enumerate(tiers), key=lambda item: item[1]["threshold"])
    for index, tier in enumerate(tiers):
        path = f"tiers[{index}]"
        if not tier["name"].strip():
            raise invalid(f"{path}.name", "A tier has a name (e.g. Silver).")
        key = tier["name"].strip().casefold()
        if key in names:
            raise invalid(f"{path}.name", f"Two tiers are called {tier['name']!r} (tiers[{names[key]}]).")
        names[key] = index
        if not (0 <= tier["threshold"] <= MAX_THRESHOLD):
            raise invalid(f"{path}.threshold", f"A threshold is from 0 to {MAX_THRESHOLD:,}.")
        if tier.get("multiplier") is not None and tier["multiplier"] < 1:
            raise invalid(f"{path}.multiplier", "A tier's earning multiplier is 1 or more.")
    for (_, lower), (index, upper) in zip(ordered, ordered[1:], strict=False):
        if upper["threshold"] == lower["threshold"]:
            raise invalid(
                f"tiers[{index}].threshold",
                f"Tiers overlap: {lower['name']!r} and {upper['name']!r} both start at {upper['threshold']}.",
            )
        if (upper.get("multiplier") or Decimal(1)) < (lower.get("multiplier") or Decimal(1)):
            raise invalid(f"tiers[{index}].multiplier", f"A higher tier never earns less than {lower['name']!r}.")


def program_check(
    *,
    fields: dict[str, Any],
    settings: dict[str, Any],
    rules: list[dict[str, Any]] | None,
    tiers: list[dict[str, Any]] | None,
    segment_ids: list[int] | None,
    notify_changed: bool = True,
) -> list | None:
    """Normalise and check a whole program (the merged state for a change); 400 with the field path."""
    fields["kind"] = CampaignKind.LOYALTY_PROGRAM  # the console's unsaved instance is not one yet
    segments = campaign_common_check(fields=fields, segment_ids=segment_ids, notify_changed=notify_changed)
    _check_settings(settings)
    if rules is not None:
        _check_rules(rules)
    if tiers is not None:
        _check_tiers(tiers)
    return segments


def _rules_replace(program: Campaign, rules: list[dict[str, Any]]) -> None:
    """Rules keep their ids where a position keeps its rule type, so the ledger's rows stay
    linked to the rule that earned them; the others are replaced."""
    current = {rule.position: rule for rule in program.earning_rules.all()}
    for position, data in enumerate(rules):
        rule = current.pop(position, None)
        if rule is None or rule.rule_type != data["rule_type"]:
            if rule is not None:
                rule.delete()
            rule = EarningRule(program=program, position=position)
        for name in RULE_FIELDS:
            field = EarningRule._meta.get_field(name)
            default = field.get_default()
            setattr(rule, name, data[name] if data.get(name) is not None else default)
        rule.save()
        rule.categories.set(data.get("category_ids") or [])
    EarningRule.objects.filter(pk__in=[rule.pk for rule in current.values()]).delete()


def _tiers_replace(program: Campaign, tiers: list[dict[str, Any]]) -> None:
    """Tiers keep their ids when their name stays, so accounts keep their tier across a change."""
    current = {tier.name.casefold(): tier for tier in program.loyalty_tiers.all()}
    keep = []
    for data in tiers:
        tier = current.pop(data["name"].strip().casefold(), None) or Tier(program=program)
        tier.name, tier.threshold = data["name"].strip(), data["threshold"]
        tier.multiplier = data.get("multiplier") or Decimal("1")
        tier.benefits = data.get("benefits", "")
        keep.append(tier)
    Tier.objects.filter(pk__in=[t.pk for t in current.values()]).delete()
    # Park the kept ones above any real threshold first: thresholds are unique per program.
    for offset, tier in enumerate(t for t in keep if t.pk):
        Tier.objects.filter(pk=tier.pk).update(threshold=PARKED + offset)
    for tier in keep:
        tier.save()


SETTINGS_DEFAULTS = {name: ProgramSettings._meta.get_field(name).get_default() for name in SETTINGS_FIELDS}
SETTINGS_DEFAULTS["expiry_days"] = None
SETTINGS_DEFAULTS["tier_window_days"] = None


@transaction.atomic
def program_create(
    *,
    rules: list[dict[str, Any]],
    tiers: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    segment_ids: list[int] | None = None,
    created_by: User | None = None,
    **fields: Any,
) -> LoyaltyProgram:
    """A loyalty program with its settings, earning rules and tiers; earning per its status and dates."""
    fields["kind"] = CampaignKind.LOYALTY_PROGRAM
    for name in ("timezone", "audience"):
        fields.setdefault(name, Campaign._meta.get_field(name).default)
    terms = {**SETTINGS_DEFAULTS, **(settings or {})}
    segments = program_check(
        fields=fields, settings=terms, rules=rules, tiers=tiers or [], segment_ids=segment_ids or []
    )
    program = LoyaltyProgram(created_by=created_by, **fields)
    campaign_save(program)
    ProgramSettings.objects.create(program=program, **terms)
    program.segments.set(segments or [])
    _rules_replace(program, rules)
    _tiers_replace(program, tiers or [])
    snapshot_invalidate()
    if switched_on(None, program):
        campaign_announce(campaign=program)
    return program


@transaction.atomic
def program_update(
    *,
    program: Campaign,
    rules: list[dict[str, Any]] | None = None,
    tiers: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    segment_ids: list[int] | None = None,
    **changes: Any,
) -> LoyaltyProgram:
    """Change fields and settings; ``rules`` or ``tiers``, when given, replace all of them."""
    program = LoyaltyProgram.objects.select_for_update().get(pk=program.pk)
    before = program.status
    if program.archived:
        raise Conflict("campaign_archived", "An archived program cannot be changed.")
    if "kind" in changes and changes["kind"] != CampaignKind.LOYALTY_PROGRAM:
        raise invalid("kind", "The kind of a campaign does not change.")
    fields = campaign_merged_fields(program, changes)
    segment_ids = campaign_segment_ids(program, changes, segment_ids)
    stored = ProgramSettings.objects.filter(program=program).first() or ProgramSettings(program=program)
    terms = {name: getattr(stored, name) for name in SETTINGS_FIELDS} | (settings or {})
    segments = program_check(
        fields=fields,
        settings=terms,
        rules=rules,
        tiers=tiers,
        segment_ids=segment_ids,
        notify_changed=notify_changes(changes),
    )
    for name, value in fields.items():
        setattr(program, name, value)
    campaign_save(program)
    for name, value in terms.items():
        setattr(stored, name, value)
    stored.save()
    if segments is not None:
        program.segments.set(segments)
    if rules is not None:
        _rules_replace(program, rules)
    if tiers is not None:
        _tiers_replace(program, tiers)
    snapshot_invalidate()
    if switched_on(before, program):
        campaign_announce(campaign=program)
    return program


def program_has_members(campaign: Campaign) -> bool:
    """Registered into campaigns: a program with accounts (and so points history) is archived, never erased."""
    return campaign.kind == CampaignKind.LOYALTY_PROGRAM and LoyaltyAccount.objects.filter(program=campaign).exists()
