"""Campaign writes: create, change, switch on/off, duplicate, archive or delete.

Every check that gives a marketer a message lives in ``campaign_check`` (the API and the
console both call it); the database constraints hold the invariants regardless.
"""

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from campaigns.evaluation import snapshot_invalidate
from campaigns.models import (
    WEEKDAYS,
    Audience,
    Campaign,
    CampaignCounter,
    CampaignKind,
    CampaignStatus,
    CodeType,
    CouponCode,
    DiscountRule,
    Period,
    RedemptionType,
    Validity,
)
from campaigns.services.announcements import campaign_announce, notify_check, switched_on
from campaigns.services.rules import invalid, rule_check, rule_dicts, rules_replace, rules_targets_check
from lms.errors import Conflict
from lms.registry import Registry
from segments.models import Segment
from segments.services import SegmentUse

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")


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
            rule_check(fields["kind"], rule, f"rules[{index}]")
        rules_targets_check(rules)
    return segments


# --- Writes ------------------------------------------------------------------------------------


def campaign_save(campaign: Campaign) -> None:
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError as error:
        if "campaigns_code_unique_live" not in str(error):
            raise
        # Another campaign took the code meanwhile: the constraint settles it.
        raise Conflict("code_taken", f"The code {campaign.code} is in use by another live campaign.", path="code")


@transaction.atomic
def campaign_create(
    *,
    rules: list[dict[str, Any]],
    segment_ids: list[int] | None = None,
    created_by: User | None = None,
    **fields: Any,
) -> Campaign:
    """A discount or free-shipping campaign with its rules and audience; live per its status
    and dates; created ACTIVE, it announces itself (``campaign_announce``)."""
    fields.setdefault("timezone", Campaign._meta.get_field("timezone").default)
    for name in ("audience", "redemption_type", "code_type", "validity", "period", "kind"):
        fields.setdefault(name, Campaign._meta.get_field(name).default)
    segments = campaign_check(fields=fields, rules=rules, segment_ids=segment_ids or [])
    campaign = Campaign(created_by=created_by, **fields)
    campaign_save(campaign)
    CampaignCounter.objects.create(campaign=campaign)
    campaign.segments.set(segments or [])
    rules_replace(campaign, rules)
    snapshot_invalidate()
    if switched_on(None, campaign):
        campaign_announce(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    rules: list[dict[str, Any]] | None = None,
    segment_ids: list[int] | None = None,
    **changes: Any,
) -> Campaign:
    """Change fields; ``rules`` (when given) replace all rules, ``segment_ids`` the audience
    segments; switched on by the change, it announces itself."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    before = campaign.status
    if campaign.archived:
        raise Conflict("campaign_archived", "An archived campaign cannot be changed; duplicate it instead.")
    if "kind" in changes and changes["kind"] != campaign.kind:
        raise invalid("kind", "The kind of a campaign does not change.")
    fields = campaign_merged_fields(campaign, changes)
    segment_ids = campaign_segment_ids(campaign, changes, segment_ids)
    segments = campaign_check(
        fields=fields,
        rules=rules,
        segment_ids=segment_ids,
        campaign_id=campaign.pk,
        notify_changed=notify_changes(changes),
    )
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign_save(campaign)
    if segments is not None:
        campaign.segments.set(segments)
    if rules is not None:
        rules_replace(campaign, rules)
    snapshot_invalidate()
    if switched_on(before, campaign):
        campaign_announce(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_status_set(*, campaign: Campaign, status: str) -> Campaign:
    """Switch a campaign on or off (an archived one stays off); switched on, it announces
    itself to its audience in this transaction (once per campaign, see ``announcements``)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.archived and status == CampaignStatus.ACTIVE:
        raise Conflict("campaign_archived", "An archived campaign cannot be switched on; duplicate it instead.")
    if (
        status == CampaignStatus.ACTIVE
        and campaign.redemption_type == RedemptionType.COUPON_CODE
        and campaign.code_type == CodeType.SHARED
        and not campaign.code
    ):  # a duplicate of a coupon campaign: its code was not copied
        raise Conflict("code_missing", "Give the campaign its shared code before switching it on.", path="code")
    if campaign.status != status:
        before, campaign.status = campaign.status, status
        campaign.save(update_fields=["status", "updated_at"])
        snapshot_invalidate()
        if switched_on(before, campaign):
            campaign_announce(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> bool:
    """Erase a campaign nothing has used; one with redemptions is archived (switched off, its
    code freed) and kept for its history. Answers whether it was archived."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    snapshot_invalidate()
    if campaign.redemptions.exists() or _used_elsewhere(campaign):
        if not campaign.archived:
            campaign.archived, campaign.archived_at = True, timezone.now()
            campaign.status = CampaignStatus.INACTIVE
            campaign.save(update_fields=["archived", "archived_at", "status", "updated_at"])
        return True
    campaign.delete()
    return False


# Higher apps (loyalty, promotions) tell whether a campaign has history they keep (points
# transactions, a promotion showing its code); registered under the app's name from ready().
campaign_usages: Registry[Callable[[Campaign], bool]] = Registry("campaign usage checks")


def _used_elsewhere(campaign: Campaign) -> bool:
    return any(check(campaign) for check in campaign_usages.values())


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign, created_by: User | None = None) -> Campaign:
    """A switched-off copy with the same rules and audience (a unique or shared code is not copied)."""
    copy = Campaign.objects.get(pk=campaign.pk)
    rules = rule_dicts(campaign)
    segments = list(campaign.segments.all())
    copy.pk = copy.id = None
    copy._state.adding = True
    copy.name = f"{campaign.name} (copy)"[:120]
    copy.status, copy.archived, copy.archived_at, copy.code = CampaignStatus.INACTIVE, False, None, ""
    copy.created_by = created_by
    copy.save()
    CampaignCounter.objects.create(campaign=copy)
    copy.segments.set(segments)
    rules_replace(copy, rules)
    snapshot_invalidate()
    return copy


def segment_usage(segment: Segment) -> list[SegmentUse]:
    """What targets a segment (registered into segments so it is never deleted from under us,
    and listed with links on the segment's console page); programs are campaigns too."""
    audience = Q(segments=segment)
    targeted = Q(pk__in=DiscountRule.objects.filter(product_segments=segment).values("campaign_id"))
    campaigns = Campaign.objects.filter(audience | targeted, archived=False).distinct()
    return [
        SegmentUse("program", c.pk, c.name, "admin:loyalty_loyaltyprogram_change")
        if c.kind == CampaignKind.LOYALTY_PROGRAM
        else SegmentUse("campaign", c.pk, c.name, "admin:campaigns_campaign_change")
        for c in campaigns.only("pk", "name", "kind").order_by("pk")[:20]
    ]
