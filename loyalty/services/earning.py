"""Earning and reversing points, from the order hook and the login hook (both run inside the
ingesting transaction: an order is never stored without its points, nor a login without
its streak award).

An order earns at most once per rule: each earning's idempotency key is
``order:<external id>:<rule id>`` (unique per account), and the first-purchase bonus's is
``first-purchase``, so an account gets it once whatever order arrives first.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Min

from accounts.hooks import Login
from accounts.models import User
from campaigns.engine.schedule import local
from commerce.hooks import OrderChange
from commerce.models import COUNTED_STATUSES, UNCOUNTED_STATUSES, Order, OrderLine, OrderStatus, OrderStatusChange
from commerce.selectors import category_ancestors
from lms.db import one_of
from loyalty import engine as e
from loyalty.models import LoyaltyAccount, PointsTransaction, Source, TierBasis, TransactionKind
from loyalty.selectors import (
    Program,
    Where,
    memberships,
    runs_at,
    snapshot_get,
    spend_in_window,
    takes,
)
from loyalty.services.ledger import (
    Entries,
    accounts_lock,
    expiry_for,
    order_hold,
    orders_fulfilled,
    tier_upgrade,
)
from loyalty.services.messages import points_earned_notify, tier_changes_notify
from loyalty.services.reversal import order_reverse
from loyalty.services.tiers import tier_measure

ACCOUNT_FIELDS = ("balance", "lifetime_earned", "tier", "tier_since")


def login_key(day: dt.date, rule_id: int) -> str:
    return f"login:{day.isoformat()}:{rule_id}"


def order_key(external_id: str, rule_id: int) -> str:
    return f"order:{external_id}:{rule_id}"


# Once per account (an account is one customer in one program), whichever rule gives it.
FIRST_PURCHASE_KEY = "first-purchase"


def orders_changed(changes: Sequence[OrderChange]) -> None:
    """The commerce batch hook: new orders earn, fulfilments start the return window of points
    held until then, cancels and refunds reverse."""
    new = [c for c in changes if c.from_status is None and c.to_status in COUNTED_STATUSES]
    if new:
        _orders_earn(new)
    fulfilled = [
        (c.order.external_id, c.order.customer_id, c.occurred_at or dt.datetime.now(dt.UTC))
        for c in changes
        if c.from_status not in (None, OrderStatus.FULFILLED) and c.to_status == OrderStatus.FULFILLED
    ]
    if fulfilled:
        orders_fulfilled(orders=fulfilled)
    for change in changes:
        if change.from_status is not None and (change.to_status in UNCOUNTED_STATUSES or change.refunded_lines):
            order_reverse(change, full=change.to_status in UNCOUNTED_STATUSES)


# --- Earning ---------------------------------------------------------------------------------------


def _first_orders(customer_ids: set[int]) -> dict[int, dt.datetime]:
    """Each customer's first counted order time (the batch's new orders included)."""
    rows = Order.objects.counted().filter(customer_id__in=customer_ids).values("customer_id")
    return {row["customer_id"]: row["first"] for row in rows.annotate(first=Min("placed_at"))}


def _lines(changes: Sequence[OrderChange]) -> dict[int, tuple[OrderLine, ...]]:
    lines = {c.order.pk: c.lines for c in changes if c.lines is not None}
    missing = [c.order.pk for c in changes if c.lines is None]
    if missing:
        found = defaultdict(list)
        for line in OrderLine.objects.filter(order_id__in=missing).order_by("order_id", "id"):
            found[line.order_id].append(line)
        lines.update({order_id: tuple(found[order_id]) for order_id in missing})
    return lines


def _where(order: Order) -> Where:
    return Where(order.shipping_country, order.shipping_state, order.shipping_city)


def _eligible(changes: Sequence[OrderChange], programs: list[Program]) -> list[tuple[OrderChange, Program, bool]]:
    """(change, program, is the customer's first order) for each program an order earns in."""
    # Points are per rupee of the program's currency: an order in another earns nothing there.
    plans = [
        (c, [p for p in programs if p.campaign.currency == c.order.currency and runs_at(p, c.order.placed_at)])
        for c in changes
    ]
    plans = [(c, ps) for c, ps in plans if ps]
    if not plans:
        return []
    customers = {c.order.customer_id for c, _ in plans}
    firsts = _first_orders(customers)
    members = memberships(customers, programs)
    eligible: list[tuple[OrderChange, Program, bool]] = []
    for change, candidates in plans:
        order = change.order
        first_at = firsts.get(order.customer_id)
        is_first = first_at is None or first_at >= order.placed_at
        for program in candidates:
            if takes(
                program, customer_id=order.customer_id, where=_where(order), has_earlier_order=not is_first,
                segment_ids=members.get(order.customer_id, frozenset()),
            ):  # fmt: skip
                eligible.append((change, program, is_first))
    return eligible


def _keys_taken(
    eligible: list[tuple[OrderChange, Program, bool]], accounts: dict[tuple[int, int], LoyaltyAccount]
) -> set[tuple[int, str]]:
    """The (account, idempotency key) pairs the batch's earnings would use that exist already."""
    keys = {
        key
        for change, program, _ in eligible
        for rule in program.order_rules
        for key in (order_key(change.order.external_id, rule.id), FIRST_PURCHASE_KEY)
    }
    return set(
        PointsTransaction.objects.filter(
            account_id__in=one_of([a.pk for a in accounts.values()]), idempotency_key__in=one_of(sorted(keys), "text")
        ).values_list("account_id", "idempotency_key")
    )


def _spend_before(
    changes: Sequence[OrderChange], eligible: list[tuple[OrderChange, Program, bool]], now: dt.datetime
) -> dict[int, dict[int, Decimal]]:
    """Per SPEND-tier program: each customer's spend in its window before this batch."""
    # A SPEND tier is judged on what was spent before each order: the window's orders outside
    # this batch, then the batch's own orders added one by one as they are earned on.
    customers = {c.order.customer_id for c, _, _ in eligible}
    batch_ids = [c.order.pk for c in changes]
    windows = {p.tier_window_days for _, p, _ in eligible if p.tier_basis == TierBasis.SPEND and p.tiers}
    before = {days: spend_in_window(customers, days, now, exclude=batch_ids) for days in windows}
    # Each program adds the batch's orders to its own copy (two programs may share a window).
    return {
        p.id: dict(before[p.tier_window_days])
        for _, p, _ in eligible
        if p.tier_basis == TierBasis.SPEND and p.tier_window_days in before
    }


def _order_earn(
    entries: Entries,
    change: OrderChange,
    program: Program,
    account: LoyaltyAccount,
    facts: list,
    *,
    is_first: bool,
    taken: set[tuple[int, str]],
) -> None:
    """One order's earnings in one program, each rule at most once (``taken``)."""
    order = change.order
    tier = program.tier(account.tier_id)
    earnings = e.order_earnings(
        program.order_rules,
        facts,
        discount=order.discount_total,
        first_purchase=is_first,
        tier_multiplier=tier.multiplier if tier else e.ONE,
    )
    for earning in earnings:
        rule = next(r for r in program.rules if r.id == earning.rule_id)
        key = FIRST_PURCHASE_KEY if rule.rule_type == e.FIRST_PURCHASE_BONUS else order_key(order.external_id, rule.id)
        if (account.pk, key) in taken:
            continue
        taken.add((account.pk, key))
        hold = order_hold(
            program,
            placed_at=order.placed_at,
            fulfilled_at=change.occurred_at if change.to_status == OrderStatus.FULFILLED else None,
        )
        entries.add(
            account,
            kind=TransactionKind.EARN,
            points=earning.points,
            source=Source.ORDER,
            reference=order.external_id,
            idempotency_key=key,
            rule_id=rule.id,
            basis=earning.basis,
            detail={
                "lines": earning.lines,
                "multiplier": str(earning.multiplier),
                "tier": tier.name if tier else "",
            },
            held=hold.held,
            available_at=hold.available_at,
            expires_at=hold.expires_at,
            occurred_at=order.placed_at,
        )
        account.lifetime_earned += earning.points


def _orders_earn(changes: Sequence[OrderChange], *, tell: bool = True) -> None:
    snapshot = snapshot_get()
    programs = [p for p in snapshot.programs.values() if p.order_rules]
    if not programs:
        return
    eligible = _eligible(changes, programs)
    if not eligible:
        return
    accounts = accounts_lock({(c.order.customer_id, p.id) for c, p, _ in eligible})
    tiers_before = {pair: account.tier_id for pair, account in accounts.items()}
    taken = _keys_taken(eligible, accounts)
    now = dt.datetime.now(dt.UTC)
    spend = _spend_before(changes, eligible, now)
    lines = _lines([c for c, _, _ in eligible])
    parents = snapshot.category_parents
    entries = Entries()
    for change, program, is_first in sorted(eligible, key=lambda item: (item[0].order.placed_at, item[0].order.pk)):
        order = change.order
        account = accounts[(order.customer_id, program.id)]
        facts = [
            e.OrderLineFact(line.sku, line.line_total, category_ancestors(line.category_id, parents))
            for line in lines.get(order.pk, ())
        ]
        _order_earn(entries, change, program, account, facts, is_first=is_first, taken=taken)
        window_spend = spend.get(program.id)
        if window_spend is not None and order.placed_at > now - dt.timedelta(days=program.tier_window_days):
            window_spend[order.customer_id] = window_spend.get(order.customer_id, Decimal("0")) + order.total
        tier_upgrade(program, account, tier_measure(program, account, window_spend or {}), now)
        account.updated_at = now
    entries.write(account_fields=ACCOUNT_FIELDS)
    if tell:
        _members_tell({p.id: p for _, p, _ in eligible}, entries, accounts, tiers_before)


def _members_tell(
    programs: dict[int, Program],
    entries: Entries,
    accounts: dict[tuple[int, int], LoyaltyAccount],
    tiers_before: dict[tuple[int, int], int | None],
) -> None:
    """After a batch's ledger rows are written: per program, one points-earned message and
    the tier-change ones (a few inserts each, whatever the batch's size)."""
    rows = defaultdict(list)
    for row in entries.rows:
        rows[row.account.program_id].append(row)
    moves = defaultdict(dict)
    for (customer_id, program_id), account in accounts.items():
        if account.tier_id != tiers_before.get((customer_id, program_id)):
            moves[program_id][customer_id] = (tiers_before.get((customer_id, program_id)), account.tier_id)
    for program_id in sorted(programs):
        program = programs[program_id]
        points_earned_notify(program, rows.get(program_id, ()))
        tier_changes_notify(program, moves.get(program_id, {}))


# --- Logins ----------------------------------------------------------------------------------------


def logins_award(logins: Sequence[Login]) -> None:
    """The login hook: a DAILY_LOGIN_STREAK award per customer per program-local day."""
    snapshot = snapshot_get()
    programs = [p for p in snapshot.programs.values() if p.streak_rule is not None and p.streak_rule.base_points]
    if not programs:
        return
    plans = [(login, [p for p in programs if runs_at(p, login.occurred_at)]) for login in logins]
    plans = [(login, ps) for login, ps in plans if ps]
    if not plans:
        return
    customer_ids = {login.customer_id for login, _ in plans}
    customers = User.objects.in_bulk(customer_ids)
    members = memberships(customer_ids, programs)
    with_orders = set(
        Order.objects.counted().filter(customer_id__in=customer_ids).values_list("customer_id", flat=True).distinct()
    )
    eligible = []
    for login, candidates in sorted(plans, key=lambda plan: plan[0].occurred_at):
        customer = customers.get(login.customer_id)
        if customer is None or not customer.is_plain_customer:
            continue  # staff and administrators sign in too; they are not loyalty members
        where = Where(customer.country or "", customer.state or "", customer.city or "")
        for program in candidates:
            if takes(program, customer_id=customer.pk, where=where, has_earlier_order=customer.pk in with_orders,
                     segment_ids=members.get(customer.pk, frozenset())):  # fmt: skip
                eligible.append((login, program))
    if not eligible:
        return
    accounts = accounts_lock({(login.customer_id, program.id) for login, program in eligible})
    tiers_before = {pair: account.tier_id for pair, account in accounts.items()}
    days = [local(login.occurred_at, program.campaign).date() for login, program in eligible]
    keys = {login_key(day, program.streak_rule.id) for day, (_, program) in zip(days, eligible, strict=True)}
    # Days awarded before, read once for the batch; the set then takes this batch's awards too.
    taken = set(
        PointsTransaction.objects.filter(
            account_id__in=one_of(sorted(a.pk for a in accounts.values())),
            idempotency_key__in=one_of(sorted(keys), "text"),
        ).values_list("account_id", "idempotency_key")
    )
    entries = Entries()
    for day, (login, program) in zip(days, eligible, strict=True):
        account, rule = accounts[(login.customer_id, program.id)], program.streak_rule
        award = e.streak_award(rule, day=day, last_day=account.streak_last_day, streak_days=account.streak_days)
        if award is None:
            continue
        account.streak_days, account.streak_last_day = award.streak_days, award.last_day
        account.updated_at = dt.datetime.now(dt.UTC)
        entries.accounts[account.pk] = account
        if award.points <= 0:
            continue
        key = login_key(day, rule.id)
        if (account.pk, key) in taken:
            continue  # a late event for a day awarded before (or earlier in this batch)
        taken.add((account.pk, key))
        entries.add(
            account,
            kind=TransactionKind.EARN,
            points=award.points,
            source=Source.LOGIN,
            reference=day.isoformat(),
            idempotency_key=key,
            rule_id=rule.id,
            detail={"streak_days": award.streak_days, "multiplier": str(award.multiplier)},
            expires_at=expiry_for(program, login.occurred_at),
            occurred_at=login.occurred_at,
        )
        account.lifetime_earned += award.points
        if program.tier_basis == TierBasis.LIFETIME_POINTS:
            tier_upgrade(program, account, Decimal(account.lifetime_earned), account.updated_at)
    entries.write(account_fields=(*ACCOUNT_FIELDS, "streak_days", "streak_last_day"))
    # A streak's points are not announced (a message a day would be noise); a tier they reach is.
    for program in {p.id: p for _, p in eligible}.values():
        moves = {
            customer_id: (tiers_before[(customer_id, program_id)], account.tier_id)
            for (customer_id, program_id), account in accounts.items()
            if program_id == program.id and account.tier_id != tiers_before[(customer_id, program_id)]
        }
        tier_changes_notify(program, moves)


def orders_earn_backfill(*, batch: int = 1000) -> int:
    """Earn for the orders already stored (a program launched over existing history, the demo):
    each batch in its own transaction; an order that earned before is skipped rule by rule,
    so a re-run adds nothing. Answers the orders looked at."""
    orders, last, seen = Order.objects.counted().order_by("id"), 0, 0
    while True:
        with transaction.atomic():
            chunk = list(orders.filter(pk__gt=last)[:batch])
            if not chunk:
                return seen
            # A fulfilled order's return window runs from its fulfilment, not from its placing.
            fulfilled = dict(
                OrderStatusChange.objects.filter(
                    order_id__in=[o.pk for o in chunk if o.status == OrderStatus.FULFILLED],
                    to_status=OrderStatus.FULFILLED,
                )
                .values("order_id")
                .annotate(at=Max("occurred_at"))
                .values_list("order_id", "at")
            )
            _orders_earn(
                [
                    OrderChange(
                        order=o, from_status=None, to_status=o.status, occurred_at=fulfilled.get(o.pk, o.placed_at)
                    )
                    for o in chunk
                ],
                tell=False,  # history earning now is not news: no points-earned or tier messages
            )
        last, seen = chunk[-1].pk, seen + len(chunk)
