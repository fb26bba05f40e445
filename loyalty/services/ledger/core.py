"""The ledger's core: account locks, lots, the entries a write appends, holds, expiry and
tiers. The lock order and the pending-points rules are in ``loyalty.services.ledger``."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from lms.db import bulk_insert, bulk_set, one_of
from lms.errors import Conflict
from loyalty import engine as e
from loyalty.models import LoyaltyAccount, LoyaltyProgram, PointsTransaction, Source, TransactionKind
from loyalty.selectors import Program, programs_load

REDEEM_KEY = "redeem:{}"
GIVE_BACK_KEY = "redeem-return:{}"


def accounts_lock(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], LoyaltyAccount]:
    """The accounts of these (customer id, program id) pairs, created when missing, row-locked
    in id order (the fixed order: two batches sharing customers wait instead of deadlocking)."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    # Inserted in key order too, so two batches creating the same accounts queue on the index.
    if connection.vendor == "postgresql":  # one statement, no model instances: a batch creates hundreds
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO loyalty_loyaltyaccount"
                " (customer_id, program_id, balance, lifetime_earned, streak_days, created_at, updated_at)"
                " SELECT c, p, 0, 0, 0, now(), now() FROM unnest(%s::bigint[], %s::bigint[]) AS v(c, p)"
                " ON CONFLICT DO NOTHING",
                [[c for c, _ in wanted], [p for _, p in wanted]],
            )
    else:
        LoyaltyAccount.objects.bulk_create(
            [LoyaltyAccount(customer_id=c, program_id=p) for c, p in wanted], ignore_conflicts=True, batch_size=2000
        )
    rows = (
        LoyaltyAccount.objects.select_for_update(no_key=True)
        .filter(
            customer_id__in=one_of(sorted({c for c, _ in wanted})),
            program_id__in=one_of(sorted({p for _, p in wanted})),
        )
        .order_by("id")
    )
    keep = set(wanted)
    return {(a.customer_id, a.program_id): a for a in rows if (a.customer_id, a.program_id) in keep}


def account_lock(*, customer_id: int, program_id: int, create: bool = False) -> LoyaltyAccount | None:
    if create:
        return accounts_lock([(customer_id, program_id)])[(customer_id, program_id)]
    return (
        LoyaltyAccount.objects.select_for_update(no_key=True)
        .filter(customer_id=customer_id, program_id=program_id)
        .first()
    )


END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)


def days_after(at: dt.datetime, days: int) -> dt.datetime:
    """``at`` plus ``days``, at most the end of the calendar (an order dated in year 9999 is
    accepted; its points are then held or kept "for ever", never a 500)."""
    try:
        return at + dt.timedelta(days=days)
    except OverflowError:
        return END_OF_TIME


def expiry_for(program: Program, occurred_at: dt.datetime) -> dt.datetime | None:
    return days_after(occurred_at, program.expiry_days) if program.expiry_days else None


@dataclass(frozen=True)
class Hold:
    held: bool
    available_at: dt.datetime | None
    expires_at: dt.datetime | None


def order_hold(program: Program, *, placed_at: dt.datetime, fulfilled_at: dt.datetime | None) -> Hold:
    """When points earned on an order become spendable, and when they expire (counted from
    then): ``hold_days`` after the order, or ``return_window_days`` after its fulfilment
    (unknown yet: both empty until the order is fulfilled)."""
    if program.hold_until_fulfilled:
        if fulfilled_at is None:
            return Hold(held=True, available_at=None, expires_at=None)
        available_at = days_after(fulfilled_at, program.return_window_days)
    elif program.hold_days:
        available_at = days_after(placed_at, program.hold_days)
    else:
        return Hold(held=False, available_at=None, expires_at=expiry_for(program, placed_at))
    return Hold(held=True, available_at=available_at, expires_at=expiry_for(program, available_at))


def is_pending(lot: PointsTransaction, now: dt.datetime) -> bool:
    return lot.held and (lot.available_at is None or lot.available_at > now)


class Entries:
    """Transactions appended under the accounts' locks, written together at the end."""

    def __init__(self) -> None:
        self.rows: list[PointsTransaction] = []
        self.lots: dict[int, PointsTransaction] = {}  # consumed lots, by id
        self.accounts: dict[int, LoyaltyAccount] = {}

    def add(self, account: LoyaltyAccount, *, kind: str, points: int, **fields: Any) -> PointsTransaction:
        account.balance += points
        if account.balance < 0:  # the callers check first; the constraint would refuse it anyway
            raise Conflict("insufficient_points", "The balance would go below zero.", balance=account.balance - points)
        row = PointsTransaction(
            account=account,
            kind=kind,
            points=points,
            balance_after=account.balance,
            remaining=points if points > 0 else None,
            **fields,
        )
        self.rows.append(row)
        self.accounts[account.pk] = account
        return row

    def consume(self, account: LoyaltyAccount, points: int, lots: list[PointsTransaction]) -> int:
        """Take up to ``points`` from ``lots`` in their order (oldest first); answers what was taken."""
        taken = 0
        for lot in lots:
            if taken >= points:
                break
            if not lot.remaining:
                continue
            part = min(lot.remaining, points - taken)
            lot.remaining -= part
            taken += part
            if lot.pk is not None:
                self.lots[lot.pk] = lot
        return taken

    def write(self, *, account_fields: tuple[str, ...] = ("balance",)) -> None:
        bulk_set(list(self.lots.values()), ["remaining"])
        bulk_insert(self.rows)
        bulk_set(list(self.accounts.values()), [*account_fields, "updated_at"])


def open_lots(account_ids: Iterable[int]) -> dict[int, list[PointsTransaction]]:
    """Every account's credits with points left, oldest first (call under the accounts' locks)."""
    lots: dict[int, list[PointsTransaction]] = defaultdict(list)
    rows = PointsTransaction.objects.filter(account_id__in=list(account_ids), remaining__gt=0).order_by("id")
    for lot in rows.only("id", "account_id", "points", "remaining", "expires_at", "held", "available_at"):
        lots[lot.account_id].append(lot)
    return lots


def tier_upgrade(program: Program, account: LoyaltyAccount, measure: Decimal, now: dt.datetime) -> None:
    """Move up to the tier ``measure`` reaches (never down: the periodic re-evaluation does that)."""
    reached = e.tier_for(program.tiers, measure)
    current = program.tier(account.tier_id)
    if reached is not None and (current is None or reached.threshold > current.threshold):
        account.tier_id, account.tier_since = reached.id, now


def stamp(account: LoyaltyAccount) -> None:
    account.updated_at = timezone.now()


# --- Expiry, checks ---------------------------------------------------------------------------------


def lot_expire(entries: Entries, account: LoyaltyAccount, lot: PointsTransaction, now: dt.datetime) -> None:
    """What is left of a lot past its date leaves the balance: one EXPIRE transaction."""
    points = lot.remaining
    entries.consume(account, points, [lot])
    entries.add(
        account,
        kind=TransactionKind.EXPIRE,
        points=-points,
        source=Source.EXPIRY,
        reference=f"lot:{lot.pk}",
        idempotency_key=f"expire:{lot.pk}",
        reverses=lot,
        occurred_at=now,
    )
    stamp(account)


def spendable_lots(entries: Entries, account: LoyaltyAccount, now: dt.datetime) -> list[PointsTransaction]:
    """The account's available open lots, oldest first, after expiring those past their date
    (the nightly run may not have come yet: points past their date are never spent). Pending
    lots are left out: a refund inside the hold must find them whole."""
    lots = open_lots([account.pk])[account.pk]
    for lot in lots:
        if lot.expires_at is not None and lot.expires_at <= now:
            lot_expire(entries, account, lot, now)
    return [lot for lot in lots if lot.remaining and not is_pending(lot, now)]


@transaction.atomic
def orders_fulfilled(*, orders: Iterable[tuple[str, int, dt.datetime]]) -> int:
    """Start the return window of points held until fulfilment: for each (order external id,
    customer id, fulfilled at), its held lots without a date get ``available_at`` (fulfilment
    plus the program's window) and their expiry from then. Set once: a repeat changes nothing.
    Answers the lots dated."""
    wanted = {external_id: (customer_id, at) for external_id, customer_id, at in orders}
    if not wanted:
        return 0
    waiting = list(
        PointsTransaction.objects.filter(
            reference__in=one_of(sorted(wanted), "text"), kind=TransactionKind.EARN, source=Source.ORDER,
            held=True, available_at__isnull=True, account__customer_id__in={c for c, _ in wanted.values()},
        ).values_list("account_id", flat=True)
    )  # fmt: skip
    if not waiting:
        return 0
    # The accounts' locks first (the ledger's lock order): a redemption deciding what is
    # spendable sees a lot either still pending or already dated, never half-way.
    accounts = {
        a.pk: a
        for a in LoyaltyAccount.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(set(waiting)))
        .order_by("id")
    }
    programs = {
        p.id: p
        for p in programs_load(list(LoyaltyProgram.objects.filter(pk__in={a.program_id for a in accounts.values()})))
    }
    lots = PointsTransaction.objects.filter(
        account_id__in=list(accounts), reference__in=one_of(sorted(wanted), "text"), kind=TransactionKind.EARN,
        source=Source.ORDER, held=True, available_at__isnull=True,
    ).only("id", "account_id", "reference", "occurred_at")  # fmt: skip
    dated = []
    for lot in lots:
        account = accounts[lot.account_id]
        customer_id, at = wanted[lot.reference]
        if account.customer_id != customer_id:
            continue
        program = programs[account.program_id]
        hold = order_hold(program, placed_at=lot.occurred_at, fulfilled_at=at)
        lot.available_at = hold.available_at or at
        lot.expires_at = expiry_for(program, lot.available_at)
        dated.append(lot)
    bulk_set(dated, ["available_at", "expires_at"])
    return len(dated)
