"""A discount or free-shipping campaign replayed over real orders through the real engine.

Each counted order of the window becomes the cart it was at checkout (its lines at the price
paid before discounts, its shipping, its currency) and is judged by ``campaigns.engine.evaluate``
against this campaign alone, with ``explain`` on, exactly as the console's test page and
checkout judge it. Limits and the budget are the engine's own: the replay keeps the campaign's
counter (uses, discount given) and each customer's uses as it goes, so ``usage_limit``,
``customer_limit``, per-period limits and the budget refuse orders as they would have.

What is assumed or approximated (the result lists the assumptions too):

- The campaign is replayed as if it had been live over the whole window: its own start and end
  dates and its on/off switch are set aside; its weekdays and daily hours are kept. Its
  counters start at zero (earlier real redemptions are not counted against its limits).
- It is judged alone: other campaigns that would have stacked with or beaten it are not.
- A coupon campaign reaches every order it would accept: each order presents its code (a fresh
  unique code each order for a unique-codes campaign).
- Customer facts are as of each order where the data allows: a new customer is one without an
  earlier counted order; the location is the order's shipping address, else the profile.
  Segment membership (the audience's and products') is today's, not as of the order.
- Lines are the order's as bought (quantities before any later partial refund); a line's
  category and brand are those captured at purchase.
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings

from campaigns import engine
from campaigns.engine import types as t
from campaigns.evaluation import engine_campaigns
from campaigns.models import Campaign, CodeType, RedemptionType
from campaigns.simulation.orders import OrderFact, order_batches
from campaigns.simulation.tally import ZERO, Tally, money
from commerce.models import Category
from commerce.selectors import category_ancestors
from segments.models import CustomerMembership, ProductMembership

RECENT = dt.timedelta(days=32)  # the engine's per-period limits look back at most a month
SIMULATED_CODE = "SIMULATED"

Progress = Callable[[int], None]


def simulated_campaign(campaign: Campaign, *, since: dt.datetime) -> t.Campaign:
    """The engine's view of the campaign as if it had been live since ``since`` (no end)."""
    loaded = engine_campaigns([campaign])[0]
    return dataclasses.replace(loaded, active=True, starts_at=since, ends_at=None)


def assumptions_for(campaign: Campaign) -> list[str]:
    said = [
        "Replayed as if the campaign had been live for the whole period (its own dates and on/off switch are "
        "set aside; its days of the week and hours are kept), alone (no other campaign stacked with it), "
        "with its limits and budget counted from zero.",
        "Segment membership is today's; whether a customer was new is judged as of each order.",
    ]
    if campaign.redemption_type == RedemptionType.COUPON_CODE:
        code = "a fresh unique code" if campaign.code_type == CodeType.UNIQUE else f"the code {campaign.code}"
        said.append(f"A coupon campaign: every order it would accept is assumed to present {code}.")
    return said


class _Replay:
    def __init__(self, campaign: Campaign, since: dt.datetime, until: dt.datetime) -> None:
        self.campaign = simulated_campaign(campaign, since=since)
        self.tally = Tally(self.campaign, since, until)
        self.parents = dict(Category.objects.values_list("pk", "parent_id"))
        self.ancestors: dict[int | None, frozenset[int]] = {}
        wanted = {s for rule in self.campaign.rules for s in rule.product_segment_ids}
        self.product_segments: dict[int, set[int]] = defaultdict(set)
        if wanted:
            rows = ProductMembership.objects.filter(segment_id__in=wanted).values_list("product_id", "segment_id")
            for product_id, segment_id in rows:
                self.product_segments[product_id].add(segment_id)
        self.codes: tuple[t.CodeFact, ...] = ()
        if campaign.redemption_type == RedemptionType.COUPON_CODE:
            unique = campaign.code_type == CodeType.UNIQUE
            code = SIMULATED_CODE if unique or not campaign.code else campaign.code
            self.codes = (t.CodeFact(code=code, campaign_id=campaign.pk, single_use=unique),)
        self.counted = self.campaign.usage_limit is not None or self.campaign.budget is not None
        self.limited = bool(self.campaign.customer_limit or self.campaign.period_limit)
        self.counter = t.Counter()
        self.lifetime: dict[int, int] = defaultdict(int)
        self.recent: dict[int, list[dt.datetime]] = defaultdict(list)

    def _categories(self, category_id: int | None) -> frozenset[int]:
        if category_id not in self.ancestors:
            self.ancestors[category_id] = category_ancestors(category_id, self.parents)
        return self.ancestors[category_id]

    def cart(self, order: OrderFact) -> t.Cart:
        lines = tuple(
            t.Line(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                product_id=line.product_id,
                category_ids=self._categories(line.category_id),
                brand_id=line.brand_id,
                product_segment_ids=frozenset(self.product_segments.get(line.product_id, ())),
            )
            for line in order.lines
        )
        return t.Cart(lines=lines, shipping=order.shipping, currency=order.currency.upper())

    def context(self, order: OrderFact, members: dict[int, frozenset[int]]) -> t.Context:
        customer = order.customer_id
        usage = {}
        if self.limited:
            recent = self.recent[customer]
            while recent and recent[0] < order.placed_at - RECENT:
                recent.pop(0)
            usage = {self.campaign.id: t.Usage(lifetime=self.lifetime[customer], recent=tuple(recent))}
        return t.Context(
            at=order.placed_at,
            customer_id=customer,
            is_new_customer=order.is_first,
            segment_ids=members.get(customer, frozenset()),
            location=order.location,
            usage=usage,
            counters={self.campaign.id: self.counter} if self.counted else {},
            codes=self.codes,
        )

    def judge(self, order: OrderFact, members: dict[int, frozenset[int]]) -> None:
        day = self.tally.order(order.placed_at)
        result = engine.evaluate(
            cart=self.cart(order),
            context=self.context(order, members),
            campaigns=[self.campaign],
            explain=True,
            exclusive_policy=settings.CAMPAIGNS_EXCLUSIVE_POLICY,
        )
        applied = next((a for a in result.discounts if a.campaign_id == self.campaign.id), None)
        if applied is None:
            reason = next((r.reason for r in result.rejected if r.campaign_id == self.campaign.id), "no_matching_items")
            self.tally.refuse(reason, order.placed_at)
            return
        cost = applied.amount + applied.shipping_amount
        self.tally.qualified(day, order.customer_id, cost=cost)
        self.counter = t.Counter(uses=self.counter.uses + 1, discount_spent=self.counter.discount_spent + cost)
        if self.limited:
            self.lifetime[order.customer_id] += 1
            self.recent[order.customer_id].append(order.placed_at)

    def members(self, batch: list[OrderFact]) -> dict[int, frozenset[int]]:
        """Today's memberships of the batch's customers in the campaign's segments (one query, or none)."""
        if not self.campaign.segment_ids:
            return {}
        found: dict[int, set[int]] = defaultdict(set)
        rows = CustomerMembership.objects.filter(
            customer_id__in={o.customer_id for o in batch}, segment_id__in=self.campaign.segment_ids
        ).values_list("customer_id", "segment_id")
        for customer_id, segment_id in rows:
            found[customer_id].add(segment_id)
        return {customer: frozenset(ids) for customer, ids in found.items()}


def campaign_replay(
    campaign: Campaign, *, since: dt.datetime, until: dt.datetime, progress: Progress, batch: int | None = None
) -> dict[str, Any]:
    """The campaign over the window's counted orders: redemptions, cost, customers, share, run-out day."""
    replay = _Replay(campaign, since, until)
    done = 0
    for orders in order_batches(since, until, batch=batch):
        members = replay.members(orders)
        for order in orders:
            replay.judge(order, members)
        done += len(orders)
        progress(done)
    totals = replay.tally
    cost = sum((d.cost for d in totals.days.values()), ZERO)
    budget: Decimal | None = campaign.budget
    return totals.result(
        kind="campaign",
        redemptions=replay.counter.uses,
        discount_cost=money(cost),
        budget=None if budget is None else money(budget),
        assumptions=assumptions_for(campaign),
    )
