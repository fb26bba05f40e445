"""A campaign (or a loyalty program) switched on announces itself to its audience, once.

What triggers it: the status becoming ACTIVE (created ACTIVE, or switched from INACTIVE by
``campaign_update``, ``campaign_status_set`` or the loyalty program services) with channels
and content set, not archived and not ended. The announcement is one notifications
``Message`` keyed ``campaign:<id>:announce``, written in the transaction that switches the
campaign on, so a switch that rolls back sends nothing and a retried switch sends nothing
twice. A campaign paused and switched on again does **not** announce again (the key is
taken); one switched on first without channels, then again with them, does (no message was
recorded the first time). Editing a live campaign never sends.

The audience is the campaign's own eligibility, frozen into the message when it is written
(kind ``campaign``): its audience (everyone, new or existing customers, its segments) narrowed
by its geography, judged as ``/cart/evaluate`` judges them: the customer's profile country,
state and city, ignoring case; a customer with none given is outside a restricted campaign.

Content is checked when it is saved (``notify_check``, called by ``campaign_check`` and the
program check): the notifications checks (template syntax, URLs, channels, lengths) under the
API's field names (``notification.title``), then the placeholders this source fills in: a
campaign's message may use ``first_name``, ``last_name``, ``email``, ``code``,
``campaign_name``, ``starts_on`` and ``ends_on``; a program adds loyalty's (see
``loyalty.services.messages``). Stored content that predates the checks is not refused on an
unrelated change; if it cannot be sent, the switch-on still succeeds and the announcement is
skipped with a warning in the log.
"""

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from accounts.models import Role, User
from campaigns.engine.schedule import local
from campaigns.models import Audience, Campaign, CampaignKind, CampaignStatus, CodeType, CouponCode
from campaigns.selectors import customer_codes
from commerce.models import Order
from lms.errors import Conflict, Invalid
from lms.registry import Registry
from notifications.content import Content, content_check
from notifications.models import Delivery, Message, Purpose
from notifications.services.messages import message_send
from segments.models import CustomerMembership, Segment

logger = logging.getLogger(__name__)

ANNOUNCE_KEY = "campaign:{}:announce"
NOTIFY_PREFIX = "notification."  # how the API names the notify_* fields
NOTIFY_COLUMNS = ("notify_title", "notify_body", "notify_image_url", "notify_cta_text", "notify_cta_url")
BUILT_IN = frozenset({"first_name", "last_name", "email"})
CAMPAIGN_PLACEHOLDERS = {
    "code": "The campaign's code: its shared code, or the recipient's own unique code.",
    "campaign_name": "The campaign's (or program's) name.",
    "starts_on": "The campaign's first day (YYYY-MM-DD, on its clock).",
    "ends_on": "The day the campaign ends (YYYY-MM-DD, on its clock); empty when it has no end.",
}
CAMPAIGN_SOURCE = "campaign"
PROGRAM_SOURCE = "program"
# Placeholders each announcing source fills in; loyalty registers the program's in its ready().
announce_placeholders: Registry[frozenset[str]] = Registry("announcement placeholders")
announce_placeholders.register(CAMPAIGN_SOURCE, BUILT_IN | set(CAMPAIGN_PLACEHOLDERS))

_parser = SandboxedEnvironment()


def source_placeholders_register(source_type: str, names: Iterable[str]) -> None:
    """A higher app (loyalty) says which placeholders its announcing source fills in."""
    announce_placeholders.register(source_type, frozenset(names) | BUILT_IN)


def announce_source(kind: str) -> str:
    return PROGRAM_SOURCE if kind == CampaignKind.LOYALTY_PROGRAM else CAMPAIGN_SOURCE


def placeholders_used(source: str) -> set[str]:
    """The names a template reads (call after it parsed)."""
    return set(meta.find_undeclared_variables(_parser.parse(source)))


def placeholders_check(content: Content, allowed: frozenset[str], *, prefix: str = "", what: str = "message") -> None:
    """Refuse a template naming a placeholder this source does not fill in (a known one of
    another source, such as ``points_balance`` in a discount campaign's message)."""
    problems = {}
    for name in ("title", "body", "cta_text"):
        value = getattr(content, name)
        unknown = sorted(placeholders_used(value) - allowed) if value else []
        if unknown:
            problems[f"{prefix}{name}"] = [
                f"{', '.join(unknown)} cannot be used in a {what}; it can use: {', '.join(sorted(allowed))}."
            ]
    if problems:
        error = Invalid("validation_error", f"{next(iter(problems))}: {next(iter(problems.values()))[0]}")
        error.details = problems
        raise error


def notify_content(fields: Mapping[str, Any]) -> Content:
    return Content(**{column.removeprefix("notify_"): fields.get(column) or "" for column in NOTIFY_COLUMNS})


def notify_check(*, fields: Mapping[str, Any], prefix: str = NOTIFY_PREFIX) -> None:
    """The campaign's notification content and channels as a send would need them; raises
    ``Invalid`` naming the field as the API does (``notification.body``)."""
    content, channels = notify_content(fields), list(fields.get("notify_channels") or [])
    content_check(content=content, channels=channels, prefix=prefix)
    source = announce_source(fields.get("kind", CampaignKind.DISCOUNT_COUPON))
    what = "loyalty program's announcement" if source == PROGRAM_SOURCE else "campaign's announcement"
    allowed = announce_placeholders.get(source) if source in announce_placeholders else BUILT_IN
    placeholders_check(content, allowed, prefix=prefix, what=what)


def _day(campaign: Campaign, at) -> str:
    return local(at, campaign).date().isoformat() if at else ""


def announce_context(campaign: Campaign) -> dict[str, Any]:
    """The values every recipient of the announcement shares."""
    values = {
        "code": campaign.code if campaign.code_type == CodeType.SHARED else "",
        "campaign_name": campaign.name,
        "starts_on": _day(campaign, campaign.starts_at),
        "ends_on": _day(campaign, campaign.ends_at),
    }
    if campaign.kind == CampaignKind.LOYALTY_PROGRAM:
        values["program_name"] = campaign.name
    return values


def campaign_audience_spec(campaign: Campaign) -> dict[str, Any]:
    """Who the campaign is for, frozen when the message is written (a later change of the
    campaign's audience does not move a fan-out already running)."""
    segments = (
        sorted(campaign.segments.values_list("pk", flat=True))
        if campaign.audience in (Audience.GROUPS, Audience.SEGMENTS)
        else []
    )
    return {
        "kind": "campaign",
        "id": campaign.pk,
        "audience": campaign.audience,
        "segments": segments,
        "countries": list(campaign.countries or []),
        "states": list(campaign.states or []),
        "cities": list(campaign.cities or []),
    }


def campaign_announce(*, campaign: Campaign) -> Message | None:
    """Announce a campaign now switched on, in the caller's transaction; None when it has
    nothing to say (no channels, ended, archived, off) or its stored content cannot be sent."""
    now = timezone.now()
    if (
        campaign.status != CampaignStatus.ACTIVE
        or campaign.archived
        or not campaign.notify_channels
        or (campaign.ends_at is not None and campaign.ends_at <= now)
    ):
        return None
    fields = {f.name: getattr(campaign, f.name) for f in Campaign._meta.concrete_fields}
    try:
        notify_check(fields=fields)
    except Invalid as error:  # content stored before it was checked at save time
        logger.warning("campaign %s switched on without its announcement: %s", campaign.pk, error.message)
        return None
    return message_send(
        key=ANNOUNCE_KEY.format(campaign.pk),
        source_type=announce_source(campaign.kind),
        source_id=str(campaign.pk),
        purpose=Purpose.MARKETING,
        content=Content.of(campaign, "notify_"),
        channels=list(campaign.notify_channels),
        audience=campaign_audience_spec(campaign),
        context=announce_context(campaign),
    )


def switched_on(before: str | None, campaign: Campaign) -> bool:
    """Did this write switch the campaign on (``before``: its status before, None when new)?"""
    return campaign.status == CampaignStatus.ACTIVE and before != CampaignStatus.ACTIVE


# --- The audience kind "campaign" (registered into notifications in apps.ready) -------------------


def campaign_audience(spec: Mapping[str, Any], after: int, limit: int) -> list[int]:
    """Active customers the campaign is for, by id, a page at a time (one query)."""
    people = User.objects.filter(is_active=True, is_staff=False, is_superuser=False, role=Role.USER, pk__gt=after)
    audience = spec.get("audience", Audience.ALL)
    if audience in (Audience.GROUPS, Audience.SEGMENTS):
        member = CustomerMembership.objects.filter(customer_id=OuterRef("pk"), segment_id__in=spec.get("segments", []))
        people = people.filter(Exists(member))
    elif audience in (Audience.NEW_USERS, Audience.EXISTING_USERS):
        # As the engine judges it: an earlier order is a counted one (not cancelled or refunded).
        ordered = Exists(Order.objects.counted().filter(customer_id=OuterRef("pk")))
        people = people.filter(ordered) if audience == Audience.EXISTING_USERS else people.exclude(ordered)
    for column, key in (("country", "countries"), ("state", "states"), ("city", "cities")):
        allowed = sorted({value.strip().casefold() for value in spec.get(key) or [] if value.strip()})
        if allowed:
            people = people.alias(**{f"{column}_folded": Lower(column)}).filter(**{f"{column}_folded__in": allowed})
    return list(people.order_by("pk").values_list("pk", flat=True)[:limit])


def campaign_context(message: Message, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per-recipient values of a campaign's messages: each recipient's own code of a
    unique-codes campaign, where they hold one (else the shared context's code). One query."""
    codes = customer_codes(int(message.source_id), user_ids)
    return {customer_id: {"code": code} for customer_id, code in codes.items()}


# --- "Send each customer their own code" ------------------------------------------------------------

CODES_KEY_PREFIX = "campaign:{}:codes:"


@dataclass(frozen=True)
class CodesDistributed:
    assignment: Any  # code_assignment.CodeAssignment
    message: Message


def campaign_codes_distribute(*, campaign: Campaign, segment: Segment) -> CodesDistributed:
    """Give every member of ``segment`` one free unique code of the campaign (``codes_assign_segment``:
    idempotent, a transaction per batch), then one message, on the campaign's channels and
    content, to the members holding a code who were never sent theirs by an earlier run; each
    recipient's ``code`` is their own. Refused (409) before anything is given when the campaign
    is off, has ended, or has no content it could send."""
    if campaign.status != CampaignStatus.ACTIVE or campaign.archived:
        raise Conflict("campaign_inactive", "Switch the campaign on before sending its codes.", path="status")
    if campaign.ends_at is not None and campaign.ends_at <= timezone.now():
        raise Conflict("campaign_ended", "The campaign has ended; its codes could not be used.", path="ends_at")
    if not campaign.notify_channels:
        raise Conflict(
            "notification_missing",
            "Give the campaign its notification content and channels first: the codes go out in it.",
            path="notification.channels",
        )
    try:
        notify_check(fields={f.name: getattr(campaign, f.name) for f in Campaign._meta.concrete_fields})
    except Invalid as error:  # stored before content was checked
        raise Conflict("notification_invalid", f"The campaign's notification cannot be sent: {error.message}")
    # Imported here: code_assignment imports campaigns.services.campaigns, which imports this module.
    from campaigns.services.code_assignment import codes_assign_segment

    assignment = codes_assign_segment(campaign=campaign, segment=segment)
    key = CODES_KEY_PREFIX.format(campaign.pk) + f"{segment.pk}:{uuid.uuid4().hex}"
    message = message_send(
        key=key,
        source_type=CAMPAIGN_SOURCE,
        source_id=str(campaign.pk),
        purpose=Purpose.MARKETING,
        content=Content.of(campaign, "notify_"),
        channels=list(campaign.notify_channels),
        audience={"kind": "campaign_codes", "campaign": campaign.pk, "segment": segment.pk, "key": key},
        context=announce_context(campaign),
    )
    return CodesDistributed(assignment=assignment, message=message)


def codes_holders_audience(spec: Mapping[str, Any], after: int, limit: int) -> list[int]:
    """Members of the segment holding one of the campaign's codes, not sent it by an earlier
    distribution (one query)."""
    campaign_id = spec["campaign"]
    holds = CouponCode.objects.filter(campaign_id=campaign_id, assigned_to_id=OuterRef("customer_id"))
    told = Delivery.objects.filter(
        recipient_id=OuterRef("customer_id"),
        message__source_type=CAMPAIGN_SOURCE,
        message__source_id=str(campaign_id),
        message__key__startswith=CODES_KEY_PREFIX.format(campaign_id),
    ).exclude(message__key=spec["key"])
    members = CustomerMembership.objects.filter(
        Exists(holds), ~Exists(told), segment_id=spec["segment"], customer_id__gt=after, customer__is_active=True
    )
    return list(members.order_by("customer_id").values_list("customer_id", flat=True)[:limit])
