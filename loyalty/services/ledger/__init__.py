"""The points ledger: every write appends transactions and moves the balance with them.

Lock order, the same everywhere: loyalty accounts by id (after whatever the caller holds:
order keys in ingestion, the customer row, redemption row, counters and codes in a checkout).
Every writer of an account takes its row lock first, so the open lots (credits with points
``remaining``) are only ever read and consumed by the lock holder: no lot is spent twice and
the balance always equals the sum of the transactions, and the sum of the open lots.

Pending points: a lot earned on an order under a program's hold is ``held`` until its
``available_at`` (empty until the order is fulfilled, in the "until fulfilled" mode). Such a
lot is in the balance but is never spent, taken by an admin's debit, or expired (its expiry
runs from ``available_at``); only its own order's reversal takes from it. Once
``available_at`` has passed it is an ordinary lot: nothing is written at release.
"""

from loyalty.services.ledger.core import (
    Entries,
    Hold,
    account_lock,
    accounts_lock,
    days_after,
    expiry_for,
    is_pending,
    lot_expire,
    open_lots,
    order_hold,
    orders_fulfilled,
    spendable_lots,
    tier_upgrade,
)
from loyalty.services.ledger.points import (
    Redeemed,
    points_adjust,
    points_give_back,
    points_redeem,
    program_get,
    redeem_check,
)

__all__ = [
    "Entries",
    "Hold",
    "Redeemed",
    "account_lock",
    "accounts_lock",
    "days_after",
    "expiry_for",
    "is_pending",
    "lot_expire",
    "open_lots",
    "order_hold",
    "orders_fulfilled",
    "points_adjust",
    "points_give_back",
    "points_redeem",
    "program_get",
    "redeem_check",
    "spendable_lots",
    "tier_upgrade",
]
