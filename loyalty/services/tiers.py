"""Tiers re-evaluated from each account's current measure, up or down (the daily beat task);
each batch of accounts locked by id in its own transaction, with its tier-change messages."""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from lms.db import bulk_set
from loyalty import engine as e
from loyalty.models import LoyaltyAccount, TierBasis
from loyalty.selectors import Program, snapshot_get, spend_in_window
from loyalty.services.messages import tier_changes_notify


def tier_measure(program: Program, account: LoyaltyAccount, spend: dict[int, Decimal]) -> Decimal:
    if program.tier_basis == TierBasis.SPEND:
        return spend.get(account.customer_id, Decimal("0"))
    return Decimal(account.lifetime_earned)


def tiers_reevaluate(*, batch: int = 1000) -> dict[str, int]:
    """Every account's tier from its current measure, up or down (the daily beat task)."""
    snapshot = snapshot_get()
    changed = checked = 0
    now = dt.datetime.now(dt.UTC)
    for program in snapshot.programs.values():
        if not program.tiers:
            continue
        last = 0
        while True:
            with transaction.atomic():
                accounts = list(
                    LoyaltyAccount.objects.select_for_update(no_key=True)
                    .filter(program_id=program.id, pk__gt=last)
                    .order_by("id")[:batch]
                )
                if not accounts:
                    break
                last = accounts[-1].pk
                spend = (
                    spend_in_window({a.customer_id for a in accounts}, program.tier_window_days or 365, now)
                    if program.tier_basis == TierBasis.SPEND
                    else {}
                )
                moved, moves = [], {}
                for account in accounts:
                    reached = e.tier_for(program.tiers, tier_measure(program, account, spend))
                    reached_id = reached.id if reached else None
                    if reached_id != account.tier_id:
                        moves[account.customer_id] = (account.tier_id, reached_id)
                        account.tier_id, account.tier_since, account.updated_at = reached_id, now, now
                        moved.append(account)
                bulk_set(moved, ["tier", "tier_since", "updated_at"])
                # In the batch's transaction: the tiers and their messages commit together.
                tier_changes_notify(program, moves, batch=f"{now:%Y%m%d%H%M%S}:{accounts[0].pk}-{last}")
                checked += len(accounts)
                changed += len(moved)
    return {"checked": checked, "changed": changed}
