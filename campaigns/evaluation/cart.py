"""``cart_evaluate``: a cart and a customer in, the engine's answer out, in a constant number
of queries whatever the number of campaigns."""

import dataclasses
import datetime as dt

from django.conf import settings

from campaigns import engine
from campaigns.engine import types as t
from campaigns.evaluation.catalogue import catalogue_get
from campaigns.evaluation.facts import cart_codes, cart_lines, cart_location, customer_facts
from campaigns.evaluation.request import CartRequest, Evaluation
from campaigns.evaluation.snapshot import engine_campaigns, snapshot_get
from campaigns.evaluation.versions import Versions, versions_read
from campaigns.models import Campaign
from campaigns.points import POINTS_REASONS, PointsRequest, points_apply


def cart_evaluate(
    request: CartRequest, *, only: Campaign | None = None, versions: Versions | None = None, explain: bool = False
) -> Evaluation:
    """What applies to this cart for this customer at ``request.at``: the engine's Result.
    ``only`` judges that one campaign alone, whatever its status (the console's test form).
    ``versions``: the snapshots' versions when the caller already read them (the cart
    throttles do, in the round trip that counts the call). ``explain`` reports every automatic
    campaign's reason too (the console's test pages; what applies is the same)."""
    now = dt.datetime.now(dt.UTC)
    versions = versions or versions_read()
    snapshot = snapshot_get(now, versions.campaigns)
    lines = cart_lines(request, catalogue_get(now, versions.catalogue))
    codes, coupon_ids, stubs = cart_codes(request, snapshot)
    if only is not None:
        candidates = engine_campaigns([only])
        codes = [fact for fact in codes if fact.campaign_id in (None, only.pk)]
    else:
        candidates = [*snapshot.automatic, *stubs]
        named = {fact.campaign_id for fact in codes if fact.campaign_id is not None}
        candidates += [snapshot.campaigns[cid] for cid in sorted(named) if cid in snapshot.campaigns]
        candidates = list({c.id: c for c in candidates}.values())
    context = t.Context(
        at=request.at, location=cart_location(request), codes=tuple(codes), **customer_facts(request, candidates)
    )
    cart = t.Cart(lines=lines, shipping=request.shipping, currency=request.currency.upper())
    result = engine.evaluate(
        cart=cart,
        context=context,
        campaigns=candidates,
        explain=explain or only is not None,
        exclusive_policy=settings.CAMPAIGNS_EXCLUSIVE_POLICY,
    )
    quote = None
    if request.use_points is not None:
        if request.customer is None and request.customer_known:  # not mirrored yet: no points
            result = dataclasses.replace(result, rejected=(*result.rejected, _no_points(request.use_points)))
        else:
            result, quote = points_apply(
                result,
                lines,
                customer_id=request.customer.pk if request.customer is not None else None,
                request=request.use_points,
                currency=cart.currency,
                at=request.at,
            )
    return Evaluation(result=result, coupon_codes=coupon_ids, campaigns={c.id: c for c in candidates}, points=quote)


def _no_points(request: PointsRequest) -> t.Rejected:
    return t.Rejected(
        reason="insufficient_points", message=POINTS_REASONS["insufficient_points"], campaign_id=request.program_id
    )
