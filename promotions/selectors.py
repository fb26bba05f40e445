"""Reads: the customer's feed, the code a customer is shown, delivery counts per promotion."""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from accounts.models import User
from campaigns.models import Campaign, CodeType, CouponCode
from campaigns.selectors import customer_codes
from notifications.content import RenderError, render
from notifications.models import Delivery
from promotions.models import Promotion, PromotionAudience
from segments.models import CustomerMembership

CONTENT_FIELDS = ("title", "description", "cta_text")


def campaign_code(campaign: Campaign | None) -> str:
    """The linked campaign's shared public code, or "" (none linked, archived: its code is freed)."""
    if campaign is None or campaign.archived:
        return ""
    return campaign.code


def _unique_codes(campaign: Campaign | None) -> bool:
    return campaign is not None and not campaign.archived and campaign.code_type == CodeType.UNIQUE


def recipient_codes(campaign: Campaign | None, customer_ids: Iterable[int]) -> dict[int, str]:
    """The code each customer is shown for ``campaign``: its shared code, the same for all; of a
    unique-codes campaign, each customer's own code ("" for one holding none, never another's).
    Both the feed and the sent message (the ``promotion`` context provider) ask here. One query
    at most."""
    customer_ids = list(customer_ids)
    if _unique_codes(campaign):
        own = customer_codes(campaign.pk, customer_ids)
        return {customer_id: own.get(customer_id, "") for customer_id in customer_ids}
    code = campaign_code(campaign)
    return {customer_id: code for customer_id in customer_ids}


def promotion_feed(*, user: User, at: dt.datetime) -> QuerySet:
    """Live promotions whose audience includes ``user``, newest first (one query, EXISTS on the
    materialised segment membership)."""
    member = CustomerMembership.objects.filter(customer_id=user.pk, segment__promotions=OuterRef("pk"))
    return (
        Promotion.objects.live(at)
        .filter(Q(audience=PromotionAudience.ALL) | Q(Exists(member), audience=PromotionAudience.SEGMENTS))
        .select_related("campaign")
        .order_by("-starts_at", "-id")
    )


def _rendered(source: str, values: dict[str, Any]) -> str:
    if "{" not in source:
        return source
    try:
        return render(source, values)
    except RenderError:  # placeholders are checked at save time; never break a customer's feed
        return source


def feed_items(promotions: Iterable[Promotion], *, user: User) -> list[dict[str, Any]]:
    """The feed's rows for ``user``: content rendered with their own values and the code to show."""
    promotions = list(promotions)
    base = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
    # The caller's own codes of the page's unique-codes campaigns, in one query.
    unique = sorted({p.campaign_id for p in promotions if _unique_codes(p.campaign)})
    own = (
        dict(
            CouponCode.objects.filter(assigned_to_id=user.pk, campaign_id__in=unique).values_list("campaign_id", "code")
        )
        if unique
        else {}
    )
    items = []
    for promotion in promotions:
        code = (
            own.get(promotion.campaign_id, "")
            if _unique_codes(promotion.campaign)
            else campaign_code(promotion.campaign)
        )
        values = {**base, "code": code, "promotion_title": promotion.title}
        items.append(
            {
                "id": promotion.pk,
                **{name: _rendered(getattr(promotion, name), values) for name in CONTENT_FIELDS},
                "image_url": promotion.image_url,
                "cta_url": promotion.cta_url,
                "code": code,
                "campaign_id": promotion.campaign_id,
                "starts_at": promotion.starts_at,
                "ends_at": promotion.ends_at,
            }
        )
    return items


def delivery_counts(message_ids: Iterable[int | None]) -> dict[int, dict[str, int]]:
    """Deliveries per status for each message, in one aggregate query."""
    ids = sorted({pk for pk in message_ids if pk is not None})
    if not ids:
        return {}
    counts: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    rows = (
        Delivery.objects.filter(message_id__in=ids)
        .values_list("message_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for message_id, status, n in rows:
        counts[message_id][status] = n
    return counts


def with_delivery_counts(promotions: list[Promotion]) -> list[Promotion]:
    """Sets ``delivery_counts`` ({status: n}) on each promotion, one query for all of them."""
    counts = delivery_counts(p.message_id for p in promotions)
    for promotion in promotions:
        promotion.delivery_counts = counts.get(promotion.message_id, {})
    return promotions
