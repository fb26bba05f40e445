"""The ledger's upkeep, for ops and the nightly jobs: expiring points past their date, and
checking (or repairing) every balance against its transactions.

Pending points need no job: a held lot is spendable as soon as its ``available_at`` has
passed (every read and write judges it at its own time), and its expiry runs from then."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import LoyaltyAccount, PointsTransaction, TransactionKind
from loyalty.services.ledger import Entries, lot_expire


@dataclass
class ExpiryReport:
    accounts: int = 0
    lots: int = 0
    points: int = 0


def points_expire(
    *,
    now: dt.datetime | None = None,
    batch: int = 500,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ExpiryReport:
    """Expire every lot past its date, one EXPIRE transaction per lot, in batches of accounts
    (each batch its own transaction, so a long run holds no lock for long). Safe to re-run.
    ``on_progress`` is told the accounts of each batch done (a command's progress bar)."""
    now = now or timezone.now()
    report = ExpiryReport()
    last_id = 0
    while True:
        account_ids = list(
            PointsTransaction.objects.filter(remaining__gt=0, expires_at__lte=now, account_id__gt=last_id)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch]
        )
        if not account_ids:
            return report
        last_id = account_ids[-1]
        with transaction.atomic():
            accounts = LoyaltyAccount.objects.select_for_update(no_key=True).filter(pk__in=account_ids).order_by("id")
            accounts = {a.pk: a for a in accounts}
            lots = PointsTransaction.objects.filter(
                account_id__in=account_ids, remaining__gt=0, expires_at__lte=now
            ).order_by("account_id", "id")
            entries = Entries()
            for lot in lots:
                account = accounts[lot.account_id]
                report.lots += 1
                report.points += lot.remaining
                if dry_run:
                    continue
                lot_expire(entries, account, lot, now)
            report.accounts += len(accounts)
            entries.write()
        if on_progress is not None:
            on_progress(len(accounts))


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    customer_id: int
    program_id: int
    balance: int
    ledger: int
    open_lots: int
    pending_taken: int = 0  # points of lots still on hold taken by anything but their order's reversal


def pending_taken(*, now: dt.datetime | None = None) -> dict[int, int]:
    """Per account, the points missing from its lots still on hold beyond what their own
    order's reversals (or an expiry, which only ever runs after availability) took: pending
    points are never spent or debited, so any is a defect (``fix`` cannot mend it: the
    ledger is append-only)."""
    now = now or timezone.now()
    taken_back = (
        PointsTransaction.objects.filter(
            reverses=OuterRef("pk"), kind__in=[TransactionKind.REVERSAL, TransactionKind.EXPIRE]
        )
        .order_by()
        .values("reverses")
        .annotate(points=Sum("points"))
        .values("points")
    )
    rows = (
        PointsTransaction.objects.filter(Q(available_at__isnull=True) | Q(available_at__gt=now), held=True)
        .annotate(back=Coalesce(Subquery(taken_back), 0))
        .filter(remaining__lt=F("points") + F("back"))
        .values_list("account_id", "points", "back", "remaining")
    )
    found: dict[int, int] = {}
    for account_id, points, back, remaining in rows:
        found[account_id] = found.get(account_id, 0) + points + back - remaining
    return found


def balances_check(*, fix: bool = False, on_progress: Callable[[int], None] | None = None) -> list[Mismatch]:
    """Every account whose balance differs from the sum of its transactions (or from what its
    open lots hold), or whose pending points were taken (``pending_taken``). ``fix`` sets such
    balances to the ledger's sum, under the row lock. ``on_progress`` is told each account checked."""
    sums = dict(
        PointsTransaction.objects.order_by()
        .values("account_id")
        .annotate(total=Sum("points"))
        .values_list("account_id", "total")
    )
    lots = dict(
        PointsTransaction.objects.filter(remaining__gt=0)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("remaining"))
        .values_list("account_id", "total")
    )
    taken = pending_taken()
    found = []
    for account in LoyaltyAccount.objects.only("id", "customer_id", "program_id", "balance").iterator(chunk_size=5000):
        if on_progress is not None:
            on_progress(1)
        ledger, held, spent = sums.get(account.pk, 0), lots.get(account.pk, 0), taken.get(account.pk, 0)
        if account.balance != ledger or held != ledger or spent:
            found.append(
                Mismatch(account.pk, account.customer_id, account.program_id, account.balance, ledger, held, spent)
            )
    if fix:
        for mismatch in found:
            with transaction.atomic():
                # Summed again under the row lock: a write that committed since the first read
                # is counted, so a live system's correct balance is never set to a stale sum.
                account = LoyaltyAccount.objects.select_for_update().get(pk=mismatch.account_id)
                ledger = account.transactions.aggregate(total=Sum("points"))["total"] or 0
                if account.balance != ledger:
                    LoyaltyAccount.objects.filter(pk=account.pk).update(balance=ledger)
    return found
