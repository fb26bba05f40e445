"""Reversing what an order earned, on a cancel or a (partial) refund: from the order hook,
inside the transaction of the status change. Accounts are locked by id, all at once (lock
order in ``loyalty.services.ledger``)."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from commerce.hooks import OrderChange
from commerce.models import OrderLine
from loyalty import engine as e
from loyalty.models import LoyaltyAccount, PointsTransaction, Source, TransactionKind
from loyalty.services.ledger import Entries, is_pending, lot_expire, open_lots, points_give_back


def _refunded_basis(earning: PointsTransaction, lines: dict[str, OrderLine]) -> Decimal:
    """The part of an earning's basis its lines' refunded units stand for (all refunds so far)."""
    refunded = Decimal("0")
    for sku, basis in (earning.detail.get("lines") or {}).items():
        line = lines.get(sku)
        if line is not None and line.quantity:
            refunded += Decimal(basis) * line.refunded_quantity / line.quantity
    return refunded


def _accounts_lock(change: OrderChange, earnings: list[PointsTransaction], *, full: bool) -> dict | None:
    """Every account this change touches (earned in, or spent for this order) locked at once,
    in id order: giving back and then reversing would otherwise lock them out of order. On a
    full reversal the order's point redemption is given back first. None: nothing to do."""
    order = change.order
    touched = {t.account_id for t in earnings}
    if full:
        rows = PointsTransaction.objects.filter(reference=order.external_id, account__customer_id=order.customer_id)
        touched |= set(rows.filter(kind=TransactionKind.REDEEM).values_list("account_id", flat=True))
    if not touched:
        return None
    locked = LoyaltyAccount.objects.select_for_update(no_key=True).filter(pk__in=touched).order_by("id")
    accounts = {a.pk: a for a in locked}
    if full:
        points_give_back(
            customer_id=order.customer_id, order_id=order.external_id, reason=f"order {change.to_status.lower()}"
        )
        for account in LoyaltyAccount.objects.filter(pk__in=touched):  # balances as the give-back left them
            accounts[account.pk].balance = account.balance
    return accounts


def _reversed_so_far(earnings: list[PointsTransaction]) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Per earning: the shares earlier reversals claimed, the points taken back or expired,
    and the reversal rows so far (for unique keys)."""
    claimed: dict[int, int] = defaultdict(int)
    gone: dict[int, int] = defaultdict(int)
    reversals: dict[int, int] = defaultdict(int)
    for earning_id, kind, points, detail in PointsTransaction.objects.filter(
        reverses_id__in=[t.pk for t in earnings], kind__in=[TransactionKind.REVERSAL, TransactionKind.EXPIRE]
    ).values_list("reverses_id", "kind", "points", "detail"):
        gone[earning_id] += -points
        if kind == TransactionKind.REVERSAL:
            claimed[earning_id] += int(detail.get("due", 0))
            reversals[earning_id] += 1
    return claimed, gone, reversals


def order_reverse(change: OrderChange, *, full: bool) -> None:
    """Take back what the order earned: all of it on a cancel or a full refund (``full``),
    else in proportion to the refunded units of the lines each earning was made on.

    Each reversal *claims* its share (``detail.due``: it stops counting in ``lifetime_earned``,
    spent or not) and *asks* the balance for it (``detail.asked``), the order's own lot first,
    then the oldest. Points already spent cannot be taken: what the balance could not give is
    ``detail.unrecovered`` (a row of 0 points when nothing was left). A cancel or full refund
    asks for everything not yet taken, so an order refunded in steps ends where one refunded
    at once does. Points of the earning that expired are never asked for (they are gone
    already). A cancelled or refunded order's point redemption is given back first."""
    order = change.order
    # The order's own customer's rows only: a reference is scoped to who made it.
    rows = PointsTransaction.objects.filter(reference=order.external_id, account__customer_id=order.customer_id)
    earnings = list(rows.filter(kind=TransactionKind.EARN, source=Source.ORDER))
    accounts = _accounts_lock(change, earnings, full=full)
    if accounts is None or not earnings:
        return
    claimed, gone, reversals = _reversed_so_far(earnings)
    lines = {line.sku: line for line in OrderLine.objects.filter(order=order)}
    entries, now = Entries(), dt.datetime.now(dt.UTC)
    # Points past their date leave first (the nightly run may not have come): a reversal never
    # takes them, and an earning whose own points expired is not asked for them again.
    lots = open_lots([t.account_id for t in earnings])
    for account_id, account_lots in lots.items():
        for lot in account_lots:
            if lot.expires_at is not None and lot.expires_at <= now:
                gone[lot.pk] += lot.remaining
                lot_expire(entries, accounts[account_id], lot, now)
    for earning in sorted(earnings, key=lambda t: t.pk):
        account = accounts[earning.account_id]
        due = e.reversal_due(
            points=earning.points,
            basis=earning.basis or Decimal("0"),
            refunded_basis=_refunded_basis(earning, lines),
            already=claimed[earning.pk],
            full=full,
        )
        left = max(earning.points - gone[earning.pk], 0)
        asked = left if full else min(due, left)
        if not due and not asked:
            continue
        # The order's own lot first (its points are the ones being taken back, pending or not),
        # then the available ones oldest first. Another order's pending lot is left whole for
        # that order's own refund.
        own = [lot for lot in lots[account.pk] if lot.pk == earning.pk and lot.remaining]
        others = [
            lot for lot in lots[account.pk] if lot.pk != earning.pk and lot.remaining and not is_pending(lot, now)
        ]
        taken = entries.consume(account, asked, own + others)
        entries.add(
            account,
            kind=TransactionKind.REVERSAL,
            points=-taken,
            source=Source.ORDER,
            reference=order.external_id,
            idempotency_key=f"reverse:{earning.pk}:{reversals[earning.pk] + 1}",
            reverses=earning,
            rule_id=earning.rule_id,
            detail={"due": due, "asked": asked, "unrecovered": asked - taken, "refund": "full" if full else "partial"},
            reason=f"order {order.external_id} {'cancelled or refunded' if full else 'partly refunded'}",
            occurred_at=change.occurred_at or now,
        )
        # Points the order no longer earns stop counting for the tier, spent or not.
        account.lifetime_earned = max(account.lifetime_earned - due, 0)
        account.updated_at = now
    entries.write(account_fields=("balance", "lifetime_earned"))
