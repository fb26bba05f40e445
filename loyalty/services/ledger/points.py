"""Redeeming, giving back and adjusting points: each one transaction, the account locked
first (lock order in ``loyalty.services.ledger``)."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign
from commerce.models import Order
from commerce.services.customers import customer_plain
from lms.errors import Conflict, Invalid, NotFound
from loyalty import engine as e
from loyalty.models import LoyaltyAccount, LoyaltyProgram, PointsTransaction, Source, TierBasis, TransactionKind
from loyalty.selectors import Program, programs_load
from loyalty.services.ledger.core import (
    GIVE_BACK_KEY,
    REDEEM_KEY,
    Entries,
    account_lock,
    expiry_for,
    spendable_lots,
    stamp,
    tier_upgrade,
)

# --- Redeem, give back, adjust ---------------------------------------------------------------------


def program_get(program_id: int, *, path: str = "program_id") -> Program:
    program = LoyaltyProgram.objects.filter(pk=program_id).first()
    if program is None:
        if Campaign.objects.filter(pk=program_id).exists():
            raise Invalid("not_a_loyalty_program", f"Campaign {program_id} is not a loyalty program.", path=path)
        raise NotFound("program_not_found", f"No loyalty program {program_id}.", path=path)
    return programs_load([program])[0]


@dataclass(frozen=True)
class Redeemed:
    transaction: PointsTransaction
    account: LoyaltyAccount
    created: bool  # False: a retry answered with the first redemption
    available: int | None = None  # spendable points left (None on a retry: read them if needed)


def _replayed(existing: PointsTransaction, points: int) -> Redeemed:
    if -existing.points != points:
        raise Conflict(
            "idempotency_conflict",
            f"Order {existing.reference} already redeemed {-existing.points} points; a retry sends the same points.",
        )
    return Redeemed(transaction=existing, account=existing.account, created=False)


def redeem_check(program: Program, points: int, balance: int) -> None:
    """Raise what a redemption of ``points`` would meet (400 below minimum, 409 otherwise)."""
    if not program.live:
        raise Conflict("program_inactive", "The program is switched off or archived; points cannot be spent now.")
    if points < program.min_redeem_points:
        raise Invalid(
            "below_min_points", f"At least {program.min_redeem_points} points are redeemed at once.", path="points"
        )
    if points > balance:
        raise Conflict(
            "insufficient_points", f"The balance is {balance} points; {points} asked.", balance=balance, points=points
        )


@transaction.atomic
def points_redeem(
    *, customer_id: int, program_id: int, points: int, order_id: str, value: Decimal | None = None
) -> Redeemed:
    """Spend available points oldest first for an order (pending ones are never spent);
    idempotent on (account, order_id): the same points again answer the first redemption,
    other points 409. Never below zero: 409 insufficient_points (concurrent redemptions queue
    on the account's row lock). An order the platform sent for another customer is refused
    (409 order_of_another_customer): the reference is the customer's own."""
    program = program_get(program_id)
    if points <= 0:
        raise Invalid("points_not_positive", "Redeem one point or more.", path="points")
    account = account_lock(customer_id=customer_id, program_id=program.id)
    key = REDEEM_KEY.format(order_id)
    if account is not None:
        existing = PointsTransaction.objects.filter(account=account, idempotency_key=key).first()
        if existing is not None:  # a retry answers what was done, whoever's order it turned out to be
            existing.account = account
            return _replayed(existing, points)
    owner = Order.objects.filter(external_id=order_id).values_list("customer_id", flat=True).first()
    if owner is not None and owner != customer_id:
        raise Conflict("order_of_another_customer", f"Order {order_id} belongs to another customer.", path="order_id")
    now, entries = timezone.now(), Entries()
    lots = spendable_lots(entries, account, now) if account is not None else []
    available = sum(lot.remaining for lot in lots)
    redeem_check(program, points, available)
    entries.consume(account, points, lots)
    row = entries.add(
        account,
        kind=TransactionKind.REDEEM,
        points=-points,
        source=Source.REDEMPTION,
        reference=order_id,
        idempotency_key=key,
        value=value if value is not None else e.points_value(points, program.point_value),
        occurred_at=now,
    )
    stamp(account)
    entries.write()
    return Redeemed(transaction=row, account=account, created=True, available=available - points)


@transaction.atomic
def points_give_back(*, customer_id: int, order_id: str, reason: str = "") -> list[PointsTransaction]:
    """Return what this customer's redemption for an order spent, as fresh points (a voided
    checkout, a cancelled order); a second call is a no-op. Only the customer's own accounts
    are looked at: another customer's redemption under the same reference stays spent.
    Expiry runs from now, by the program's rule."""
    redeemed = list(
        PointsTransaction.objects.filter(
            account__customer_id=customer_id,
            kind=TransactionKind.REDEEM,
            idempotency_key=REDEEM_KEY.format(order_id),
        ).values_list("account_id", flat=True)
    )
    if not redeemed:
        return []
    accounts = LoyaltyAccount.objects.select_for_update(no_key=True).filter(pk__in=redeemed).order_by("id")
    entries, now, made = Entries(), timezone.now(), []
    for account in accounts:
        redeem = PointsTransaction.objects.get(
            account=account, kind=TransactionKind.REDEEM, idempotency_key=REDEEM_KEY.format(order_id)
        )
        key = GIVE_BACK_KEY.format(order_id)
        if PointsTransaction.objects.filter(account=account, idempotency_key=key).exists():
            continue
        program = programs_load([LoyaltyProgram.objects.get(pk=account.program_id)])[0]
        made.append(
            entries.add(
                account,
                kind=TransactionKind.REVERSAL,
                points=-redeem.points,
                source=Source.REDEMPTION,
                reference=order_id,
                idempotency_key=key,
                reverses=redeem,
                expires_at=expiry_for(program, now),
                reason=(reason or "redemption returned")[:255],
                occurred_at=now,
            )
        )
        stamp(account)
    entries.write()
    return made


@transaction.atomic
def points_adjust(
    *, customer: User, program_id: int, points: int, reason: str, by: User | None, idempotency_key: str = ""
) -> PointsTransaction:
    """An admin's or the integration's correction, with its reason: a credit is a new lot
    (expiring by the program's rule), a debit is taken oldest first and never below zero.
    With an ``idempotency_key`` a retry answers the first adjustment instead of adding another."""
    customer_plain(customer)  # staff and administrators are not loyalty members (409 customer_protected)
    program = program_get(program_id)
    if points == 0:
        raise Invalid("points_zero", "Adjust by a number of points other than zero.", path="points")
    if not reason.strip():
        raise Invalid("reason_required", "Say why the points are adjusted.", path="reason")
    account = account_lock(customer_id=customer.pk, program_id=program.id, create=True)
    key = f"adjust:{idempotency_key}" if idempotency_key else f"adjust:{uuid.uuid4().hex}"
    existing = PointsTransaction.objects.filter(account=account, idempotency_key=key).first()
    if existing is not None:
        if existing.points != points:
            raise Conflict("idempotency_conflict", "This idempotency key adjusted by other points.")
        return existing
    now, entries = timezone.now(), Entries()
    lots = spendable_lots(entries, account, now) if points < 0 else []
    available = sum(lot.remaining for lot in lots)
    if points < 0 and -points > available:
        raise Conflict(
            "insufficient_points", f"The balance is {available} points; {-points} cannot be taken.",
            balance=available,
        )  # fmt: skip
    if points < 0:
        entries.consume(account, -points, lots)
    row = entries.add(
        account,
        kind=TransactionKind.ADJUST,
        points=points,
        source=Source.ADMIN,
        reference=f"admin:{by.pk}" if by is not None else "integration",
        idempotency_key=key,
        expires_at=expiry_for(program, now) if points > 0 else None,
        reason=reason.strip()[:255],
        created_by=by,
        occurred_at=now,
    )
    stamp(account)
    if program.tier_basis == TierBasis.LIFETIME_POINTS:  # a new account takes the tier that starts at 0
        tier_upgrade(program, account, Decimal(account.lifetime_earned), now)
    entries.write(account_fields=("balance", "tier", "tier_since"))
    return row
