"""Campaign writes: create, change, switch on/off, duplicate, archive or delete; the usage
checks higher apps register."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from campaigns.evaluation import snapshot_invalidate
from campaigns.models import (
    Campaign,
    CampaignCounter,
    CampaignStatus,
    CodeType,
    DiscountRule,
    RedemptionType,
)
from campaigns.services.announcements import campaign_announce, switched_on
from campaigns.services.campaigns.checks import (
    RULE_FIELDS,
    campaign_check,
    campaign_merged_fields,
    campaign_segment_ids,
    invalid,
    notify_changes,
)
from lms.errors import Conflict
from segments.models import Segment

# --- Writes ------------------------------------------------------------------------------------


def _rules_replace(campaign: Campaign, rules: list[dict[str, Any]]) -> None:
    campaign.rules.all().delete()
    for position, data in enumerate(rules):
        rule = DiscountRule.objects.create(
            campaign=campaign, position=position, **{k: data.get(k) for k in RULE_FIELDS if data.get(k) is not None}
        )
        rule.categories.set(data.get("category_ids") or [])
        rule.brands.set(data.get("brand_ids") or [])
        rule.products.set(data.get("product_ids") or [])


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
    _rules_replace(campaign, rules)
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
        _rules_replace(campaign, rules)
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


# Higher apps (loyalty) tell whether a campaign has history they keep (points transactions).
_usage_checks: list = []


def register_campaign_usage(check) -> None:
    if check not in _usage_checks:
        _usage_checks.append(check)


def _used_elsewhere(campaign: Campaign) -> bool:
    return any(check(campaign) for check in _usage_checks)


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign, created_by: User | None = None) -> Campaign:
    """A switched-off copy with the same rules and audience (a unique or shared code is not copied)."""
    copy = Campaign.objects.get(pk=campaign.pk)
    rules = list(campaign.rules.prefetch_related("categories", "brands", "products"))
    segments = list(campaign.segments.all())
    copy.pk = copy.id = None
    copy._state.adding = True
    copy.name = f"{campaign.name} (copy)"[:120]
    copy.status, copy.archived, copy.archived_at, copy.code = CampaignStatus.INACTIVE, False, None, ""
    copy.created_by = created_by
    copy.save()
    CampaignCounter.objects.create(campaign=copy)
    copy.segments.set(segments)
    _rules_replace(
        copy,
        [
            {
                **{name: getattr(rule, name) for name in RULE_FIELDS},
                "category_ids": [c.pk for c in rule.categories.all()],
                "brand_ids": [b.pk for b in rule.brands.all()],
                "product_ids": [p.pk for p in rule.products.all()],
            }
            for rule in rules
        ],
    )
    snapshot_invalidate()
    return copy


def segment_usage(segment: Segment) -> list[str]:
    """What targets a segment (registered into segments so it is never deleted from under us)."""
    campaigns = Campaign.objects.filter(segments=segment, archived=False)
    return [f"campaign {c.pk} {c.name!r}" for c in campaigns.only("pk", "name")[:20]]
