"""A loyalty program replayed over real orders with loyalty's own earning code.

Each counted order of the window is judged as the order hook judges a new order
(``loyalty.services.earning``): the program's currency, schedule (``runs_at``), audience and
geography (``takes``, on the order's shipping address), then ``loyalty.engine.order_earnings``
over its lines (categories as captured at purchase, the order's discount spread over them),
the first-purchase bonus on the customer's first counted order (once per customer) and the
tier multiplier of the tier the customer holds before the order.

What is assumed or approximated (the result lists the assumptions too):

- The program is replayed as if it had started at the window's start: its own dates and on/off
  switch are set aside (weekdays and hours kept), every customer starts with no points and no
  tier, and tiers are reached (never lost) with what the replay earns: points for a
  lifetime-points basis, the window's spend for a spend basis (spend before the window is not
  counted).
- Segment membership is today's; whether an order is the customer's first is as of the order.
- Points held for a return window count as earned; later refunds of counted orders are not
  taken back (orders refunded or cancelled in full are left out, as they never count). So a tier
  that a since-refunded order lifted a real account to (kept until the nightly re-evaluation) is
  not reached in the replay.
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from campaigns.models import Campaign
from campaigns.simulation.orders import OrderFact, order_batches
from campaigns.simulation.replay import Progress
from campaigns.simulation.tally import ZERO, Tally, money
from commerce.models import Category
from commerce.selectors import category_ancestors
from loyalty import engine as e
from loyalty.models import LoyaltyProgram, TierBasis
from loyalty.selectors import Program, memberships, programs_load, runs_at, takes

ASSUMPTIONS = [
    "Replayed as if the program had started at the start of the period (its own dates and on/off switch are "
    "set aside; its days of the week and hours are kept): every customer starts with no points and no tier.",
    "Segment membership is today's; a first purchase is judged as of each order.",
    "Points held for a return window count as earned; partial refunds made later are not taken back.",
]


def simulated_program(program: LoyaltyProgram, *, since: dt.datetime) -> Program:
    loaded = programs_load([program])[0]
    campaign = dataclasses.replace(loaded.campaign, active=True, starts_at=since, ends_at=None)
    return dataclasses.replace(loaded, campaign=campaign, live=True)


class _Replay:
    def __init__(self, program: LoyaltyProgram, since: dt.datetime, until: dt.datetime) -> None:
        self.program = simulated_program(program, since=since)
        self.tally = Tally(self.program.campaign, since, until)
        self.parents = dict(Category.objects.values_list("pk", "parent_id"))
        self.lifetime: dict[int, int] = defaultdict(int)
        self.spend: dict[int, Decimal] = defaultdict(Decimal)
        self.tier: dict[int, e.TierSpec] = {}
        self.bonus_given: set[int] = set()
        self.points = 0

    def judge(self, order: OrderFact, members: dict[int, frozenset[int]]) -> None:
        program, customer = self.program, order.customer_id
        day = self.tally.order(order.placed_at)
        if order.currency != program.campaign.currency or not runs_at(program, order.placed_at):
            self.tally.refuse("schedule_or_currency", order.placed_at)
            return
        if not takes(
            program, customer_id=customer, where=order.shipping_to, has_earlier_order=not order.is_first,
            segment_ids=members.get(customer, frozenset()),
        ):  # fmt: skip
            self.tally.refuse("audience_or_geography", order.placed_at)
            return
        facts = [
            e.OrderLineFact(line.sku, line.line_total, category_ancestors(line.category_id, self.parents))
            for line in order.lines
        ]
        tier = self.tier.get(customer)
        earnings = e.order_earnings(
            program.order_rules,
            facts,
            discount=order.discount_total,
            first_purchase=order.is_first and customer not in self.bonus_given,
            tier_multiplier=tier.multiplier if tier else e.ONE,
        )
        points = sum(earning.points for earning in earnings)
        if any(_is_bonus(program, earning) for earning in earnings):
            self.bonus_given.add(customer)
        self.lifetime[customer] += points
        self.spend[customer] += order.total
        measure = self.spend[customer] if program.tier_basis == TierBasis.SPEND else Decimal(self.lifetime[customer])
        reached = e.tier_for(program.tiers, measure)
        if reached is not None and (tier is None or reached.threshold > tier.threshold):
            self.tier[customer] = reached  # up only, as ``tier_upgrade`` moves it
        if points <= 0:
            self.tally.refuse("earns_nothing", order.placed_at)
            return
        self.points += points
        self.tally.qualified(day, customer, points=points)


def _is_bonus(program: Program, earning: e.Earning) -> bool:
    return any(r.id == earning.rule_id and r.rule_type == e.FIRST_PURCHASE_BONUS for r in program.rules)


def program_replay(
    campaign: Campaign, *, since: dt.datetime, until: dt.datetime, progress: Progress, batch: int | None = None
) -> dict[str, Any]:
    """The program over the window's counted orders: points, their value, members reached, share."""
    program = LoyaltyProgram.objects.get(pk=campaign.pk)
    replay = _Replay(program, since, until)
    done = 0
    for orders in order_batches(since, until, batch=batch):
        members = memberships({o.customer_id for o in orders}, [replay.program])
        for order in orders:
            replay.judge(order, members)
        done += len(orders)
        progress(done)
    value = e.points_value(replay.points, replay.program.point_value)
    return replay.tally.result(
        kind="program",
        redemptions=0,
        points=replay.points,
        points_value=money(value),
        discount_cost=money(ZERO),
        budget=None,
        assumptions=ASSUMPTIONS,
    )
