"""Reads: the switched-on programs as the engine sees them (cached per process on the campaigns
snapshot version), who may earn in them, and the figures the API and the console show."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum

from accounts.models import User
from campaigns.engine import types as ct
from campaigns.engine.eligibility import audience_refusal, geo_refusal
from campaigns.engine.schedule import schedule_failure
from campaigns.evaluation import CAMPAIGNS_VERSION, SNAPSHOT_TTL, engine_campaign
from campaigns.models import CampaignKind, CampaignStatus
from commerce.models import Category, Order
from lms.db import one_of
from lms.snapshots import ProcessCopy
from loyalty import engine as e
from loyalty.models import (
    EarningRule,
    LoyaltyAccount,
    LoyaltyProgram,
    PointsTransaction,
    ProgramSettings,
    Tier,
    TierBasis,
)
from loyalty.services.messages import ProgramMessages
from segments.models import CustomerMembership

EARNING_RULES = (e.POINTS_PER_RUPEE, e.CATEGORY_POINTS, e.FIRST_PURCHASE_BONUS)


@dataclass(frozen=True)
class Program:
    """A program as earning and redemption judge it."""

    id: int
    name: str
    campaign: ct.Campaign  # schedule, audience, geography (the campaigns engine's view)
    point_value: Decimal
    min_redeem_points: int
    expiry_days: int | None
    tier_basis: str
    tier_window_days: int | None
    rules: tuple[e.EarnRule, ...]
    tiers: tuple[e.TierSpec, ...]  # by threshold
    live: bool = True  # switched on and not archived
    hold_days: int = 0
    hold_until_fulfilled: bool = False
    return_window_days: int = 0
    messages: ProgramMessages | None = None  # what it tells its members (loyalty.services.messages)

    @property
    def holds(self) -> bool:
        """Points earned on an order are pending for a while (a refund inside it takes them whole)."""
        return self.hold_until_fulfilled or self.hold_days > 0

    @property
    def order_rules(self) -> tuple[e.EarnRule, ...]:
        return tuple(rule for rule in self.rules if rule.rule_type in EARNING_RULES)

    @property
    def streak_rule(self) -> e.EarnRule | None:
        return next((rule for rule in self.rules if rule.rule_type == e.DAILY_LOGIN_STREAK), None)

    def tier(self, tier_id: int | None) -> e.TierSpec | None:
        return next((tier for tier in self.tiers if tier.id == tier_id), None)


def _earn_rule(rule: EarningRule, categories: Iterable[int]) -> e.EarnRule:
    return e.EarnRule(
        id=rule.pk,
        rule_type=rule.rule_type,
        points_per_rupee=rule.points_per_rupee,
        rounding=rule.rounding,
        min_order_value=rule.min_order_value,
        bonus_points=rule.bonus_points,
        bonus_percent=rule.bonus_percent,
        base_points=rule.base_points,
        streak_steps=tuple(
            e.StreakStep(days=int(step["days"]), multiplier=Decimal(str(step["multiplier"])))
            for step in rule.streak_steps or ()
        ),
        max_multiplier=rule.max_multiplier,
        category_ids=frozenset(categories),
        position=rule.position,
    )


def programs_load(programs: list[LoyaltyProgram]) -> list[Program]:
    """Engine views of these programs, in a constant number of queries."""
    ids = [p.pk for p in programs]
    settings = ProgramSettings.objects.in_bulk(ids)
    rules = defaultdict(list)
    for rule in EarningRule.objects.filter(program_id__in=ids).prefetch_related("categories"):
        rules[rule.program_id].append(_earn_rule(rule, [c.pk for c in rule.categories.all()]))
    tiers = defaultdict(list)
    for tier in Tier.objects.filter(program_id__in=ids).order_by("threshold"):
        tiers[tier.program_id].append(e.TierSpec(tier.pk, tier.name, tier.threshold, tier.multiplier))
    segments = defaultdict(list)
    for program_id, segment_id in LoyaltyProgram.segments.through.objects.filter(campaign_id__in=ids).values_list(
        "campaign_id", "segment_id"
    ):
        segments[program_id].append(segment_id)
    loaded = []
    for program in programs:
        terms = settings.get(program.pk) or ProgramSettings(program_id=program.pk)
        loaded.append(
            Program(
                id=program.pk,
                name=program.name,
                campaign=engine_campaign(program, segment_ids=segments[program.pk]),
                point_value=terms.point_value,
                min_redeem_points=terms.min_redeem_points,
                expiry_days=terms.expiry_days,
                tier_basis=terms.tier_basis,
                tier_window_days=terms.tier_window_days,
                rules=tuple(rules[program.pk]),
                tiers=tuple(tiers[program.pk]),
                live=program.status == CampaignStatus.ACTIVE and not program.archived,
                hold_days=terms.hold_days,
                hold_until_fulfilled=terms.hold_until_fulfilled,
                return_window_days=terms.return_window_days,
                messages=ProgramMessages.of(terms),
            )
        )
    return loaded


@dataclass(frozen=True)
class Snapshot:
    version: str
    built_at: dt.datetime
    programs: dict[int, Program]  # switched on and not archived, whatever their dates
    category_parents: dict[int, int | None]


def _build(version: str | None, now: dt.datetime) -> Snapshot:
    rows = list(LoyaltyProgram.objects.filter(status=CampaignStatus.ACTIVE, archived=False).order_by("pk"))
    programs = programs_load(rows) if rows else []
    parents = dict(Category.objects.values_list("pk", "parent_id")) if programs else {}
    return Snapshot(version, now, {p.id: p for p in programs}, parents)


# Tagged with the campaigns' version (a program is a campaign row); with Redis down no change
# could be announced, so nothing is reused.
_SNAPSHOT: ProcessCopy[Snapshot] = ProcessCopy(CAMPAIGNS_VERSION, SNAPSHOT_TTL, _build, reuse_without_version=False)


def snapshot_get() -> Snapshot:
    """This process's programs, rebuilt when any campaign or program changed, or after a minute."""
    return _SNAPSHOT.get()


# --- Who may earn ----------------------------------------------------------------------------


# Where a customer is (an order's shipping address, a profile's): the engine's location.
Where = ct.Location


def runs_at(program: Program, at: dt.datetime) -> bool:
    """Dates, weekdays and daily hours, on the program's own clock."""
    return schedule_failure(program.campaign, at) is None


def takes(
    program: Program, *, customer_id: int, where: Where, has_earlier_order: bool, segment_ids: frozenset[int]
) -> bool:
    """The program's audience and geography admit this customer: the cart engine's own checks
    (``campaigns.engine.eligibility``), so a program and a discount campaign judge alike."""
    return geo_refusal(program.campaign, where) is None and (
        audience_refusal(
            program.campaign, customer_id=customer_id, is_new_customer=not has_earlier_order, segment_ids=segment_ids
        )
        is None
    )


def memberships(customer_ids: Iterable[int], programs: Iterable[Program]) -> dict[int, frozenset[int]]:
    """Segment ids per customer, among the segments the programs' audiences name (one query, or none)."""
    wanted = {s for program in programs for s in program.campaign.segment_ids}
    found: dict[int, set[int]] = defaultdict(set)
    if wanted:
        rows = CustomerMembership.objects.filter(customer_id__in=set(customer_ids), segment_id__in=wanted)
        for customer_id, segment_id in rows.values_list("customer_id", "segment_id"):
            found[customer_id].add(segment_id)
    return {customer_id: frozenset(ids) for customer_id, ids in found.items()}


def spend_in_window(
    customer_ids: Iterable[int], days: int, now: dt.datetime, *, exclude: Iterable[int] = ()
) -> dict[int, Decimal]:
    """What each customer paid (totals less refunds) for counted orders placed in the last
    ``days`` (leaving out the orders ``exclude`` names)."""
    orders = Order.objects.counted().filter(
        customer_id__in=one_of(sorted(set(customer_ids))),
        placed_at__gt=now - dt.timedelta(days=days),
    )
    exclude = list(exclude)
    if exclude:
        orders = orders.exclude(pk__in=one_of(exclude))
    rows = orders.values("customer_id").annotate(paid=Sum("total") - Sum("refunded_total"))
    return {row["customer_id"]: row["paid"] or Decimal("0") for row in rows}


# --- Figures -----------------------------------------------------------------------------------


def liability(program_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Per program: members, outstanding points and their value (one grouped query)."""
    accounts = LoyaltyAccount.objects.all()
    if program_ids is not None:
        accounts = accounts.filter(program_id__in=list(program_ids))
    rows = accounts.values("program_id").annotate(members=Count("id"), outstanding=Sum("balance"))
    held = PointsTransaction.objects.filter(pending_q(dt.datetime.now(dt.UTC)))
    if program_ids is not None:
        held = held.filter(account__program_id__in=list(program_ids))
    pending = dict(
        held.order_by()
        .values("account__program_id")
        .annotate(points=Sum("remaining"))
        .values_list("account__program_id", "points")
    )
    values = dict(
        ProgramSettings.objects.filter(program_id__in=[r["program_id"] for r in rows]).values_list(
            "program_id", "point_value"
        )
    )
    return {
        row["program_id"]: {
            "members": row["members"],
            "outstanding_points": row["outstanding"] or 0,
            "pending_points": pending.get(row["program_id"], 0),
            "outstanding_value": e.points_value(row["outstanding"] or 0, values.get(row["program_id"], Decimal("0"))),
        }
        for row in rows
    }


def expiring_points(account_ids: Iterable[int], *, now: dt.datetime, days: int = 30) -> dict[int, int]:
    rows = (
        PointsTransaction.objects.filter(
            account_id__in=list(account_ids),
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + dt.timedelta(days=days),
        )
        .values("account_id")
        .annotate(points=Sum("remaining"))
    )
    return {row["account_id"]: row["points"] for row in rows}


def overdue_points(account_ids: Iterable[int], *, now: dt.datetime) -> dict[int, int]:
    """Points past their date the nightly expiry has not taken yet, per account."""
    rows = (
        PointsTransaction.objects.filter(account_id__in=list(account_ids), remaining__gt=0, expires_at__lte=now)
        .values("account_id")
        .annotate(points=Sum("remaining"))
    )
    return {row["account_id"]: row["points"] for row in rows}


def pending_q(now: dt.datetime) -> Q:
    """Open lots still on hold at ``now`` (not spendable; their order's refund takes them whole)."""
    return Q(held=True, remaining__gt=0) & (Q(available_at__isnull=True) | Q(available_at__gt=now))


@dataclass(frozen=True)
class PendingLot:
    order_id: str
    points: int
    available_at: dt.datetime | None  # None: when the order is fulfilled, plus the return window


def pending_points(account_ids: Iterable[int], *, now: dt.datetime) -> dict[int, list[PendingLot]]:
    """Per account, its lots still on hold, soonest available first (those waiting for their
    order's fulfilment last)."""
    rows = (
        PointsTransaction.objects.filter(pending_q(now), account_id__in=list(account_ids))
        .order_by(F("available_at").asc(nulls_last=True), "id")
        .values_list("account_id", "reference", "remaining", "available_at")
    )
    found: dict[int, list[PendingLot]] = defaultdict(list)
    for account_id, reference, remaining, available_at in rows:
        found[account_id].append(PendingLot(reference, remaining, available_at))
    return found


def available_points(account: LoyaltyAccount, *, now: dt.datetime | None = None) -> int:
    """What the customer may spend now: the balance less pending points and points past their
    date the nightly expiry has not taken yet (one query)."""
    now = now or dt.datetime.now(dt.UTC)
    held = (
        PointsTransaction.objects.filter(account_id=account.pk)
        .filter(pending_q(now) | Q(remaining__gt=0, expires_at__lte=now))
        .aggregate(points=Sum("remaining"))["points"]
    )
    return account.balance - (held or 0)


def live_programs_q() -> Q:
    return Q(kind=CampaignKind.LOYALTY_PROGRAM, status=CampaignStatus.ACTIVE, archived=False)


def account_summaries(customer: User, now: dt.datetime) -> list[dict[str, Any]]:
    """Per program the customer is in, or that is live: balance, tier, progress, expiring points."""
    accounts = {a.program_id: a for a in LoyaltyAccount.objects.filter(customer=customer).select_related("tier")}
    rows = list(
        LoyaltyProgram.objects.filter(pk__in=list(accounts))
        | LoyaltyProgram.objects.filter(live_programs_q()).exclude(ends_at__lte=now)
    )
    programs = programs_load(sorted(rows, key=lambda p: p.pk))
    if any(p.id not in accounts for p in programs):  # live programs the customer may join: only those that take them
        where = Where(customer.country or "", customer.state or "", customer.city or "")
        has_orders = Order.objects.counted().filter(customer=customer).exists()
        segment_ids = memberships([customer.pk], programs).get(customer.pk, frozenset())
        programs = [
            p
            for p in programs
            if p.id in accounts
            or takes(p, customer_id=customer.pk, where=where, has_earlier_order=has_orders, segment_ids=segment_ids)
        ]
    expiring = expiring_points([a.pk for a in accounts.values()], now=now)
    overdue = overdue_points([a.pk for a in accounts.values()], now=now)  # expired, not yet by the nightly run
    pending = pending_points([a.pk for a in accounts.values()], now=now)
    windows = {p.tier_window_days for p in programs if p.tier_basis == TierBasis.SPEND and p.tier_window_days}
    spends = {days: spend_in_window([customer.pk], days, now) for days in windows}
    answer = []
    for program in programs:
        account = accounts.get(program.id)
        held = pending.get(account.pk, []) if account else []
        held_total = sum(lot.points for lot in held)
        balance = account.balance - overdue.get(account.pk, 0) - held_total if account else 0
        lifetime = account.lifetime_earned if account else 0
        measure = (
            spends.get(program.tier_window_days, {}).get(customer.pk, Decimal("0"))
            if program.tier_basis == TierBasis.SPEND
            else Decimal(lifetime)
        )
        tier = program.tier(account.tier_id) if account else None
        upcoming = e.tier_next(program.tiers, max(measure, tier.threshold if tier else Decimal("-1")))
        next_tier = None
        if upcoming is not None:
            start = tier.threshold if tier else Decimal("0")
            span = upcoming.threshold - start
            progress = (measure - start) / span * 100 if span > 0 else Decimal("0")
            next_tier = {
                "name": upcoming.name,
                "threshold": upcoming.threshold,
                "multiplier": upcoming.multiplier,
                "missing": max(upcoming.threshold - measure, Decimal("0")),
                "progress_percent": min(max(progress, Decimal("0")), Decimal("100")).quantize(Decimal("0.1")),
            }
        answer.append(
            {
                "program_id": program.id,
                "program_name": program.name,
                "member": account is not None,
                "balance": balance,
                "balance_value": e.points_value(balance, program.point_value),
                "lifetime_earned": lifetime,
                "point_value": program.point_value,
                "min_redeem_points": program.min_redeem_points,
                "tier_basis": program.tier_basis,
                "tier_measure": measure,
                "tier": None
                if tier is None
                else {"name": tier.name, "threshold": tier.threshold, "multiplier": tier.multiplier},
                "next_tier": next_tier,
                "expiring_30_days": expiring.get(account.pk, 0) if account else 0,
                "pending_points": held_total,
                "pending": [
                    {"order_id": lot.order_id, "points": lot.points, "available_at": lot.available_at} for lot in held
                ],
                "streak_days": account.streak_days if account else 0,
            }
        )
    return answer
