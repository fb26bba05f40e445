"""Redemption: consume what a checkout's campaigns use (counters, single-use codes, per-customer
uses) in one transaction, and release it on void.

Lock order, the same everywhere (so two checkouts never deadlock):
customer row -> the order's redemption row -> campaign counters by campaign id -> codes by id.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from campaigns.engine import types as t
from campaigns.evaluation import CartRequest, Evaluation, cart_evaluate, money, result_json
from campaigns.models import CampaignCounter, CouponCode, OrderRedemption, Redemption, RedemptionStatus
from campaigns.points import points_provider
from commerce.models import Order
from lms.errors import Conflict, NotFound


@dataclass(frozen=True)
class RedemptionOutcome:
    order_redemption: OrderRedemption
    created: bool  # False: a retry, answered with the first answer


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _replay(existing: OrderRedemption, digest: str) -> RedemptionOutcome:
    if existing.request_hash != digest:
        raise Conflict(
            "idempotency_conflict",
            f"Order {existing.order_id} was redeemed with a different body; a retry must send the same body.",
            order_id=existing.order_id,
        )
    return RedemptionOutcome(order_redemption=existing, created=False)


# Limits another checkout can use up between evaluation and redemption: a code refused for
# one of these refuses the redemption (the platform priced the order with it). Other reasons
# would have shown at evaluation already; ``expected_total_discount`` catches any change.
# A code given to another customer meanwhile (``code_not_yours``) refuses it too.
CONSUMED = {"usage_limit", "customer_limit", "budget_exhausted", "code_used", "code_not_yours"}
# Points asked for and not given refuse the redemption too: the platform priced the order with them.
POINTS_REFUSED = {"insufficient_points", "below_min_points", "points_unavailable"}


def _refused_codes(result: t.Result) -> list[t.Rejected]:
    return [
        r
        for r in result.rejected
        if (r.code is not None and r.reason in CONSUMED) or (r.code is None and r.reason in POINTS_REFUSED)
    ]


def _consume_counter(applied: t.Applied, campaign: t.Campaign | None) -> None:
    """Conditional UPDATE: the row lock and the WHERE re-checked after it make a limit or a
    budget reached by a concurrent checkout refuse this one instead of overshooting."""
    spent = applied.amount + applied.shipping_amount
    counters = CampaignCounter.objects.filter(pk=applied.campaign_id)
    if campaign is not None and campaign.usage_limit is not None:
        counters = counters.filter(uses__lt=campaign.usage_limit)
    if campaign is not None and campaign.budget is not None:
        counters = counters.filter(discount_spent__lte=campaign.budget - spent)
    if counters.update(uses=F("uses") + 1, discount_spent=F("discount_spent") + spent) == 1:
        return
    current, created = CampaignCounter.objects.get_or_create(pk=applied.campaign_id)
    if created:  # a campaign made without its counter row (not by the services): count from here
        return _consume_counter(applied, campaign)
    if campaign is not None and campaign.usage_limit is not None and current.uses >= campaign.usage_limit:
        raise Conflict("usage_limit", f"{applied.name}: {t.REASONS['usage_limit']}", campaign_id=applied.campaign_id)
    raise Conflict(
        "budget_exhausted", f"{applied.name}: {t.REASONS['budget_exhausted']}", campaign_id=applied.campaign_id
    )


def _consume_code(code_id: int, applied: t.Applied, customer: User) -> None:
    # Conditional on the owner too: a code given to another customer after this cart was
    # judged (codes_assign locks it, then this waits and re-reads the row) is not consumed.
    usable = Q(assigned_at__isnull=True) | Q(assigned_to=customer)
    if CouponCode.objects.filter(usable, pk=code_id, uses__lt=F("max_uses")).update(uses=F("uses") + 1) == 1:
        return
    if CouponCode.objects.filter(pk=code_id).exclude(usable).exists():
        raise Conflict(
            "code_not_yours", f"The code {applied.code} was given to another customer.", coupon_code=applied.code
        )
    raise Conflict("code_used", f"The code {applied.code} has been used.", coupon_code=applied.code)


def _order_customer_check(*, order_id: str, customer: User) -> None:
    """A redemption may name an order already ingested only if it is that customer's: its
    cancel would otherwise release (or never release) someone else's redemption."""
    owner = Order.objects.filter(external_id=order_id).values_list("customer_id", flat=True).first()
    if owner is not None and owner != customer.pk:
        raise Conflict(
            "order_customer_mismatch",
            f"Order {order_id} belongs to another customer; a redemption is for the order's own customer.",
            order_id=order_id,
        )


def _result_check(result: t.Result, expected_total_discount: Decimal | None) -> None:
    """A checkout goes through only as priced: every code it sent applies, and the discount is
    the one the customer was shown (when the caller sent it)."""
    refused = _refused_codes(result)
    if refused:
        first = refused[0]
        raise Conflict(first.reason, first.message, rejected=[r.__dict__ for r in refused])
    if expected_total_discount is not None and expected_total_discount != result.total_discount:
        raise Conflict(
            "discount_changed",
            f"The discount is now {money(result.total_discount)}, not {money(expected_total_discount)}; price the order again.",
            total_discount=money(result.total_discount),
        )


def _uses_consume(
    order_redemption: OrderRedemption, evaluation: Evaluation, *, customer: User, request: CartRequest
) -> None:
    """Consume what the applied campaigns use, in the lock order: counters by campaign id,
    codes by id, then the points (the customer's loyalty account, the last lock)."""
    order_id = order_redemption.order_id
    campaigns = evaluation.campaigns
    points_program = evaluation.points.program_id if evaluation.points is not None else None
    applied = sorted(
        (a for a in evaluation.result.discounts if a.campaign_id != points_program), key=lambda a: a.campaign_id
    )
    for item in applied:
        _consume_counter(item, campaigns.get(item.campaign_id))
    codes = sorted(
        (evaluation.coupon_codes[item.code.strip().upper()], item)
        for item in applied
        if item.code and item.code.strip().upper() in evaluation.coupon_codes
    )
    for code_id, item in codes:
        _consume_code(code_id, item, customer)
    code_ids = {item.campaign_id: code_id for code_id, item in codes}
    Redemption.objects.bulk_create(
        [
            Redemption(
                order_redemption=order_redemption,
                campaign_id=item.campaign_id,
                customer=customer,
                order_id=order_id,
                code=item.code.strip().upper(),
                coupon_code_id=code_ids.get(item.campaign_id),
                amount=item.amount,
                shipping_amount=item.shipping_amount,
                lines=[{"sku": line.sku, "amount": money(line.amount)} for line in item.lines],
                redeemed_at=request.at,  # the time the limits were judged at (per-day limits count it)
            )
            for item in applied
        ]
    )
    if evaluation.points is not None:  # the last lock taken: the customer's loyalty account
        points_provider().spend(customer_id=customer.pk, quote=evaluation.points, order_id=order_id, at=request.at)


@transaction.atomic
def redemption_create(
    *,
    order_id: str,
    customer: User,
    request: CartRequest,
    body: dict[str, Any],
    expected_total_discount: Decimal | None = None,
) -> RedemptionOutcome:
    """Re-evaluate the cart and consume what its campaigns use, all or nothing; idempotent on
    ``order_id`` (same body: the first answer; another body: 409)."""
    digest = request_hash(body)
    existing = OrderRedemption.objects.filter(order_id=order_id).first()
    if existing is not None:
        return _replay(existing, digest)
    # Concurrent checkouts of one customer take turns here, so per-customer limits count
    # every committed redemption (FOR NO KEY UPDATE: orders referencing the customer go on).
    User.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()
    existing = OrderRedemption.objects.filter(order_id=order_id).first()
    if existing is not None:
        return _replay(existing, digest)
    _order_customer_check(order_id=order_id, customer=customer)
    evaluation: Evaluation = cart_evaluate(request)
    result = evaluation.result
    _result_check(result, expected_total_discount)
    response = {"order_id": order_id, "status": RedemptionStatus.REDEEMED, **result_json(result, evaluation.points)}
    try:
        # A second checkout with this order id waits on the unique index until we commit, then replays.
        with transaction.atomic():
            order_redemption = OrderRedemption.objects.create(
                order_id=order_id,
                customer=customer,
                currency=request.currency.upper(),
                subtotal=result.subtotal,
                shipping=result.shipping,
                total_discount=result.total_discount,
                shipping_discount=result.shipping_discount,
                total=result.total,
                evaluated_at=request.at,
                request_hash=digest,
                response=response,
            )
    except IntegrityError:
        return _replay(OrderRedemption.objects.get(order_id=order_id), digest)
    _uses_consume(order_redemption, evaluation, customer=customer, request=request)
    return RedemptionOutcome(order_redemption=order_redemption, created=True)


@transaction.atomic
def redemption_void(*, order_id: str, reason: str = "") -> OrderRedemption:
    """Release what an order consumed (uses, budget, single-use codes); voiding twice is a no-op."""
    order_redemption = OrderRedemption.objects.select_for_update().filter(order_id=order_id).first()
    if order_redemption is None:
        raise NotFound("redemption_not_found", f"No redemption for order {order_id}.", order_id=order_id)
    if order_redemption.status == RedemptionStatus.VOIDED:
        return order_redemption
    redemptions = list(order_redemption.redemptions.order_by("campaign_id"))
    for redemption in redemptions:
        CampaignCounter.objects.filter(pk=redemption.campaign_id, uses__gt=0).update(
            uses=F("uses") - 1,
            discount_spent=F("discount_spent") - (redemption.amount + redemption.shipping_amount),
        )
    for code_id in sorted(r.coupon_code_id for r in redemptions if r.coupon_code_id):
        CouponCode.objects.filter(pk=code_id, uses__gt=0).update(uses=F("uses") - 1)
    if order_redemption.response.get("points"):
        points_provider().give_back(order_id=order_id, reason=reason or "redemption voided")
    now = timezone.now()
    order_redemption.redemptions.update(status=RedemptionStatus.VOIDED, voided_at=now)
    order_redemption.status, order_redemption.voided_at = RedemptionStatus.VOIDED, now
    order_redemption.void_reason = reason[:255]
    order_redemption.response = {**order_redemption.response, "status": RedemptionStatus.VOIDED}
    order_redemption.save(update_fields=["status", "voided_at", "void_reason", "response"])
    return order_redemption
