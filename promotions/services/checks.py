"""What a promotion may hold: its placeholders, content, window, audience and campaign;
each check raises a 400 naming the field."""

from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta

from campaigns.models import Campaign, CampaignKind
from lms.errors import Invalid
from notifications.content import Content, content_check
from promotions.models import Promotion, PromotionAudience
from segments.models import Segment

SOURCE_TYPE = "promotion"
MAX_SEGMENTS = 100

# The placeholders a promotion provides (registered in apps.py), and every one its content may
# use: the recipient's own (notifications' built-ins) and these. A placeholder another source
# provides (a points balance) has no value for a promotion's recipients: refused at save time
# rather than failing each delivery.
PLACEHOLDERS = {
    "code": "The linked campaign's code (empty without a campaign).",
    "promotion_title": "The promotion's title.",
}
USABLE_PLACEHOLDERS = frozenset({"first_name", "last_name", "email", *PLACEHOLDERS})

# The Content field each promotion field feeds (the message's body is the description).
CONTENT_FIELD_NAMES = {"title": "title", "body": "description", "image_url": "image_url",
                       "cta_text": "cta_text", "cta_url": "cta_url"}  # fmt: skip


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def invalid(path: str, message: str, code: str = "validation_error") -> Invalid:
    """A 400 whose ``details`` maps the field to its messages, as serializer errors do."""
    error = Invalid(code, f"{path}: {message}")
    error.details = {path: [message]}
    return error


def promotion_content(promotion: Promotion) -> Content:
    return Content(**{name: getattr(promotion, field) or "" for name, field in CONTENT_FIELD_NAMES.items()})


_parser = Environment()


def _placeholders_used(source: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(_parser.parse(source)))
    except TemplateSyntaxError:  # content_check has said so already
        return set()


def promotion_content_check(*, fields: dict[str, Any]) -> None:
    """Content that could not be sent is a 400 naming the promotion's field (``description``)."""
    content = Content(**{name: fields.get(field) or "" for name, field in CONTENT_FIELD_NAMES.items()})
    try:
        content_check(content=content, channels=fields.get("channels") or [])
    except Invalid as error:
        details = {
            CONTENT_FIELD_NAMES.get(path, path) if not path.startswith("channels") else path: messages
            for path, messages in (error.details or {}).items()
        }
        path, messages = next(iter(details.items()))
        renamed = Invalid(error.code, f"{path}: {messages[0]}")
        renamed.details = details
        raise renamed from None
    for name, field in CONTENT_FIELD_NAMES.items():
        unusable = sorted(_placeholders_used(getattr(content, name)) - USABLE_PLACEHOLDERS)
        if unusable:
            usable = ", ".join(sorted(USABLE_PLACEHOLDERS))
            raise invalid(field, f"A promotion cannot fill {', '.join(unusable)}; it provides: {usable}.")


def _check_window(fields: dict[str, Any]) -> None:
    if fields["starts_at"] is None:
        raise invalid("starts_at", "The start of the window is required.")
    if fields.get("ends_at") is not None and fields["ends_at"] <= fields["starts_at"]:
        raise invalid("ends_at", "The end must be after the start.")


def _check_audience(audience: str, segment_ids: Sequence[int]) -> list[Segment]:
    if audience not in PromotionAudience.values:
        raise invalid("audience", f"One of {', '.join(PromotionAudience.values)}.")
    if audience == PromotionAudience.ALL:
        if segment_ids:
            raise invalid("segment_ids", "Segments are for the SEGMENTS audience; ALL reaches every customer.")
        return []
    if not segment_ids:
        raise invalid("segment_ids", "The SEGMENTS audience needs at least one segment.")
    if len(set(segment_ids)) > MAX_SEGMENTS:
        raise invalid("segment_ids", f"At most {MAX_SEGMENTS} segments.")
    segments = {segment.pk: segment for segment in Segment.objects.filter(pk__in=set(segment_ids))}
    missing = sorted(set(segment_ids) - set(segments))
    if missing:
        raise invalid("segment_ids", f"Unknown segment ids: {', '.join(map(str, missing))}.")
    for segment in segments.values():
        if segment.kind != Segment.Kind.USER:
            raise invalid("segment_ids", f"Segment {segment.pk} ({segment.name}) holds products, not customers.")
    return [segments[pk] for pk in sorted(segments)]


def _check_campaign(campaign_id: int | None) -> Campaign | None:
    if campaign_id is None:
        return None
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise invalid("campaign_id", f"Unknown campaign id {campaign_id}.")
    if campaign.archived:
        raise invalid("campaign_id", f"Campaign {campaign_id} is archived; its code no longer works.")
    if campaign.kind == CampaignKind.LOYALTY_PROGRAM:
        raise invalid("campaign_id", f"Campaign {campaign_id} is a loyalty program; link a discount campaign.")
    return campaign


def promotion_check(*, fields: dict[str, Any], segment_ids: Sequence[int]) -> tuple[Campaign | None, list[Segment]]:
    """Every check of a whole promotion (the merged state of a change); raises a 400 naming the field."""
    fields["title"] = (fields.get("title") or "").strip()
    if not fields["title"]:
        raise invalid("title", "A promotion needs a title.")
    _check_window(fields)
    promotion_content_check(fields=fields)
    segments = _check_audience(fields["audience"], segment_ids)
    campaign = _check_campaign(fields.get("campaign_id"))
    return campaign, segments
