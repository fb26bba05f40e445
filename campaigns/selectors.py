"""Campaign reads beside the cart: a customer's offers (what they may use before there is a
cart) and the codes given to customers. Cart evaluation itself is ``campaigns.evaluation``."""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from accounts.models import User
from campaigns import engine
from campaigns.engine import types as t
from campaigns.evaluation import CartRequest, snapshot_get
from campaigns.evaluation.facts import cart_location, customer_facts
from campaigns.models import CouponCode
from commerce.models import Product
from lms.db import one_of


def customer_codes(campaign_id: int, customer_ids: Iterable[int]) -> dict[int, str]:
    """customer id -> the code of the campaign given to them (used or not), for those listed
    who hold one: "the customer's own unique code" of a message. One query."""
    return dict(
        CouponCode.objects.filter(campaign_id=campaign_id, assigned_to_id__in=list(customer_ids)).values_list(
            "assigned_to_id", "code"
        )
    )


def customer_offers(*, customer: User | None, at: dt.datetime) -> tuple[t.Offer, ...]:
    """The campaigns ``customer`` (None: a guest) may use at ``at``, judged by the engine's own
    eligibility checks (``engine.offers``) on the snapshot and the facts a cart evaluation
    loads: a coupon campaign through its shared code, or the customer's own unused code. A
    constant number of queries whatever the number of campaigns and codes."""
    snapshot = snapshot_get(dt.datetime.now(dt.UTC))
    candidates = list(snapshot.campaigns.values())
    coupons = [c for c in candidates if c.redemption_type == t.COUPON_CODE]
    codes = [t.CodeFact(code=c.code, campaign_id=c.id) for c in coupons if c.code]
    if customer is not None and coupons:
        held = CouponCode.objects.filter(
            assigned_to=customer, campaign_id__in=one_of([c.id for c in coupons if not c.code], "bigint")
        ).values_list("code", "campaign_id", "uses", "max_uses")
        codes += [
            t.CodeFact(code, campaign_id, single_use=True, uses=uses, max_uses=max_uses, assigned=True, owner_id=customer.pk)
            for code, campaign_id, uses, max_uses in held
        ]  # fmt: skip
    request = CartRequest(lines=[], at=at, customer=customer, customer_known=customer is not None)
    context = t.Context(
        at=at, location=cart_location(request), codes=tuple(codes), **customer_facts(request, candidates)
    )
    return engine.offers(context=context, campaigns=candidates)


PRODUCTS_FOUND = 10


def products_search(term: str, *, limit: int = PRODUCTS_FOUND) -> list[dict[str, Any]]:
    """Active products whose sku starts with ``term`` or whose name contains it (ignoring case),
    exact sku first, then by name: the test-cart page's product picker. One query."""
    term = term.strip()
    if not term:
        return []
    found = (
        Product.objects.filter(Q(sku__istartswith=term) | Q(name__icontains=term), active=True)
        .order_by("name", "sku")
        .values("sku", "name", "price")[: limit + 1]
    )
    rows = sorted(found, key=lambda row: row["sku"].casefold() != term.casefold())  # an exact sku first
    return rows[:limit]


def sample_code(campaign_id: int) -> str | None:
    """An unused code of the campaign given to nobody (never a used one, nor another's): the
    test-cart page's "fill a sample code". One query."""
    return (
        CouponCode.objects.filter(campaign_id=campaign_id, assigned_to__isnull=True, uses=0)
        .order_by("id")
        .values_list("code", flat=True)
        .first()
    )
