"""The points ledger under any sequence of orders, payments, refunds, cancels, redemptions,
expiry runs and clock moves (a hypothesis state machine driving the real services on
PostgreSQL, no mocks).

After every step the ledger's invariants hold (balance = sum of the transactions = sum of
the open lots, never below zero, a running ``balance_after``, lots within their points, an
order earning once per rule and never losing more than it earned), and every account's
balance, lifetime points and lots equal those of a plain model kept here, computed from the
operations alone. Each example runs in a savepoint that is rolled back afterwards.

A second machine runs the same steps in a program that holds points until the order is
FULFILLED plus a return window: its fulfilments date the held lots (already past the window,
or not), and the invariants add that spendable points are the available lots, pending points
the held ones, and nothing pending is ever spent or expired (only its own order's reversal
takes from it).
"""

import datetime as dt
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from math import floor

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from accounts.tests.factories import UserFactory
from commerce.api.serializers import OrderInput
from commerce.services.orders import order_ingest, order_status_change
from lms.errors import DomainError
from loyalty import selectors
from loyalty.models import EarningRule, LoyaltyAccount, PointsTransaction, Source, TransactionKind
from loyalty.selectors import available_points, pending_points
from loyalty.services.ledger import points_redeem
from loyalty.services.upkeep import balances_check, points_expire
from loyalty.tests.factories import order_for, program_make

CUSTOMERS = 3
SKUS = ("A", "B", "C")
RATE = 1  # points per rupee
BONUS = 25  # first purchase
GOLD_AT, GOLD_MULTIPLIER = 400, Fraction(3, 2)  # lifetime points; earning multiplier
MIN_REDEEM = 5
EXPIRY_DAYS = 30
POINT_VALUE = Decimal("0.10")
RETURN_WINDOW_DAYS = 2


def real_now() -> dt.datetime:
    """Pending is judged on the real clock (the services read it), the machine's clock is for
    orders and expiry; a held lot's date is always a window away from it, so no step straddles it."""
    return dt.datetime.now(dt.UTC)


# Which status changes commerce allows (stated here, not read from commerce, to check it).
MOVES = {
    "PLACED": {"PAID", "FULFILLED", "CANCELLED"},
    "PAID": {"FULFILLED", "CANCELLED", "REFUNDED"},
    "FULFILLED": {"REFUNDED"},
    "CANCELLED": set(),
    "REFUNDED": set(),
}

CUSTOMER = st.integers(0, CUSTOMERS - 1)
LINES = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 150)), min_size=1, max_size=len(SKUS))  # (qty, price)
BIG_LINES = st.lists(st.tuples(st.integers(1, 3), st.integers(100, 400)), min_size=1, max_size=len(SKUS))

STATE_SETTINGS = settings(
    max_examples=35,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
HELD_SETTINGS = settings(STATE_SETTINGS, max_examples=20)


# --- The model ------------------------------------------------------------------------------------


@dataclass
class Lot:
    kind: str
    points: int
    remaining: int
    expires_at: dt.datetime | None  # None until read back (a give-back expires from the real clock)
    expired: int = 0  # what the expiry run took of it
    held: bool = False  # earned under the hold: pending until available_at (None: until fulfilled)
    available_at: dt.datetime | None = None

    @property
    def pending(self) -> bool:
        return self.held and (self.available_at is None or self.available_at > real_now())


@dataclass
class Earned:
    rule: str  # "rate" or "bonus"
    points: int
    basis: dict[str, int]  # sku -> rupees the points were earned on
    lot: Lot
    claimed: int = 0  # the shares reversals claimed (no longer counting for the tier, spent or not)
    taken: int = 0  # what reversals took back from the balance

    @property
    def total_basis(self) -> int:
        return sum(self.basis.values())


@dataclass
class Account:
    lots: list[Lot] = field(default_factory=list)
    lifetime: int = 0
    gold: bool = False
    orders: int = 0

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    @property
    def available(self) -> int:
        return sum(lot.remaining for lot in self.lots if not lot.pending)

    @property
    def pending(self) -> int:
        return sum(lot.remaining for lot in self.lots if lot.pending)

    def take(self, points: int, lots: list[Lot]) -> int:
        taken = 0
        for lot in lots:
            part = min(lot.remaining, points - taken)
            lot.remaining -= part
            taken += part
        return taken


@dataclass
class ModelOrder:
    external_id: str
    customer: int
    lines: dict[str, tuple[int, int]]  # sku -> (quantity, unit price)
    status: str
    body: dict
    refunded: dict[str, int] = field(default_factory=dict)
    earned: list[Earned] = field(default_factory=list)
    redeemed: int | None = None  # points redeemed with this order's id
    reversals: int = 0  # REVERSAL rows its earnings got


def refused(call) -> str | None:
    """The domain error's code, or None when the call went through."""
    try:
        call()
    except DomainError as error:
        return error.code
    return None


class LedgerMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    hold = False  # the program holds order points until fulfilment plus RETURN_WINDOW_DAYS

    def __init__(self) -> None:
        super().__init__()
        # Everything an example writes is rolled back in teardown().
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.clock = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.serial = itertools.count(1)
        self.accounts = [Account() for _ in range(CUSTOMERS)]
        self.model_orders: dict[str, ModelOrder] = {}
        self.redemptions: list[tuple[int, str, int, int]] = []  # customer, order id, points, tx id
        self.last_change: dict | None = None  # the arguments of the last change, to send again
        self.window = (self.clock, self.clock)  # real time around the last status change
        selectors._SNAPSHOT.forget()  # this process's program snapshot: the program below is new
        self.program = program_make(
            rules=[
                {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal(RATE)},
                {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": BONUS},
            ],
            tiers=[{"name": "Gold", "threshold": Decimal(GOLD_AT), "multiplier": Decimal("1.5")}],
            settings={
                "min_redeem_points": MIN_REDEEM, "expiry_days": EXPIRY_DAYS, "point_value": POINT_VALUE,
                **({"hold_until_fulfilled": True, "return_window_days": RETURN_WINDOW_DAYS} if self.hold else {}),
            },
        )  # fmt: skip
        rules = EarningRule.objects.filter(program=self.program).order_by("position", "id")
        self.rule_ids = {"rate": rules[0].pk, "bonus": rules[1].pk}
        self.customers = [
            UserFactory(email=f"c{i}@example.com", external_id=f"C-{i}", password=None) for i in range(CUSTOMERS)
        ]

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- Model arithmetic -----------------------------------------------------------------------

    def reverse(self, order: ModelOrder, *, full: bool) -> list[tuple[Earned, int, int, int]]:
        """What order_reverse should do: (earning, due, asked, taken) for each reversal row it writes."""
        account, rows = self.accounts[order.customer], []
        for earning in order.earned:
            if full:
                target = earning.points
            else:
                refunded = sum(
                    Fraction(basis * order.refunded.get(sku, 0), order.lines[sku][0])
                    for sku, basis in earning.basis.items()
                )
                target = min(earning.points, floor(earning.points * refunded / earning.total_basis))
            due = max(target - earning.claimed, 0)
            # What can still be asked for: not taken back before, not expired. A cancel or a full
            # refund asks for all of it (so refunding in steps ends where refunding at once does).
            left = max(earning.points - earning.taken - earning.lot.expired, 0)
            asked = left if full else min(due, left)
            if not due and not asked:
                continue
            # The order's own lot first, then the oldest available (another order's pending lot
            # is left whole); what the balance cannot give is recorded as unrecovered.
            others = [lot for lot in account.lots if lot is not earning.lot and not lot.pending]
            taken = account.take(asked, [earning.lot, *others])
            earning.claimed += due
            earning.taken += taken
            account.lifetime = max(account.lifetime - due, 0)
            rows.append((earning, due, asked, taken))
        return rows

    def give_back(self, order: ModelOrder) -> None:
        if order.redeemed is not None:
            self.accounts[order.customer].lots.append(Lot("REVERSAL", order.redeemed, order.redeemed, None))

    def db_lots(self, customer: int) -> list[tuple[int, str, int, int, dt.datetime | None]]:
        return list(
            PointsTransaction.objects.filter(
                account__program=self.program, account__customer=self.customers[customer], points__gt=0
            )
            .order_by("id")
            .values_list("id", "kind", "points", "remaining", "expires_at")
        )

    def read_back_give_backs(self, customer: int) -> None:
        """A give-back lot expires EXPIRY_DAYS after the (real) moment it was made."""
        before, after = self.window
        for lot, (_, kind, _, _, expires_at) in zip(self.accounts[customer].lots, self.db_lots(customer), strict=False):
            if lot.kind == "REVERSAL" and lot.expires_at is None:
                assert kind == "REVERSAL"
                assert before + dt.timedelta(days=EXPIRY_DAYS) <= expires_at <= after + dt.timedelta(days=EXPIRY_DAYS)
                lot.expires_at = expires_at

    # --- Orders ----------------------------------------------------------------------------------

    @initialize(target=orders, customer=CUSTOMER, lines=LINES, paid=st.booleans())
    def open_with_an_order(self, customer: int, lines: list[tuple[int, int]], paid: bool) -> str:
        return self.ingest(customer, lines, paid, f"O-{next(self.serial)}")

    @rule(target=orders, customer=CUSTOMER, lines=BIG_LINES, paid=st.booleans())
    def place_a_big_order(self, customer: int, lines: list[tuple[int, int]], paid: bool) -> str:
        return self.ingest(customer, lines, paid, f"O-{next(self.serial)}")

    @rule(target=orders, customer=CUSTOMER, lines=LINES, paid=st.booleans())
    def place_order(self, customer: int, lines: list[tuple[int, int]], paid: bool) -> str:
        return self.ingest(customer, lines, paid, f"O-{next(self.serial)}")

    @rule(target=orders, customer=CUSTOMER, lines=LINES, paid=st.booleans(), percent=st.sampled_from([20, 100, 120]))
    def check_out_with_points(self, customer: int, lines: list[tuple[int, int]], paid: bool, percent: int) -> str:
        """The storefront's checkout: points redeemed for the order's id, then the order sent."""
        external_id = f"O-{next(self.serial)}"
        self.redeem(customer, max(self.accounts[customer].available * percent // 100, MIN_REDEEM), external_id)
        self.ingest(customer, lines, paid, external_id)
        redeemed = [
            points for who, order_id, points, _ in self.redemptions if (who, order_id) == (customer, external_id)
        ]
        self.model_orders[external_id].redeemed = redeemed[0] if redeemed else None
        return external_id

    def ingest(self, customer: int, lines: list[tuple[int, int]], paid: bool, external_id: str) -> str:
        items = {sku: spec for sku, spec in zip(SKUS, lines, strict=False)}
        status = "PAID" if paid else "PLACED"
        body = order_for(
            external_id,
            {"external_id": f"C-{customer}", "email": f"c{customer}@example.com"},
            [(sku, quantity, f"{price}.00") for sku, (quantity, price) in items.items()],
            placed_at=self.clock.isoformat(),
            status=status,
        )
        data = OrderInput(data=body)
        assert data.is_valid(), data.errors

        result = order_ingest(data=data.validated_data)

        assert result.outcome != "replayed"
        order = ModelOrder(external_id, customer, items, status, body)
        account = self.accounts[customer]
        multiplier = GOLD_MULTIPLIER if account.gold else 1
        basis = {sku: quantity * price for sku, (quantity, price) in items.items()}
        expires_at = self.clock + dt.timedelta(days=EXPIRY_DAYS)
        rate_points = floor(sum(basis.values()) * RATE * multiplier)
        earnings = [("rate", rate_points)] + ([("bonus", BONUS)] if account.orders == 0 else [])
        for name, points in earnings:
            # Held until fulfilment: no date yet, and no expiry (it runs from availability).
            lot = Lot("EARN", points, points, None, held=True) if self.hold else Lot("EARN", points, points, expires_at)
            account.lots.append(lot)
            order.earned.append(Earned(name, points, dict(basis), lot))
            account.lifetime += points
        account.gold = account.gold or account.lifetime >= GOLD_AT
        account.orders += 1
        self.model_orders[external_id] = order
        return external_id

    @rule(external_id=orders)
    def send_the_same_order_again(self, external_id: str) -> None:
        order = self.model_orders[external_id]
        data = OrderInput(data=order.body)
        assert data.is_valid(), data.errors
        count = PointsTransaction.objects.count()

        result = order_ingest(data=data.validated_data)

        assert result.outcome == "replayed"
        assert PointsTransaction.objects.count() == count

    def change(
        self,
        order: ModelOrder,
        status: str,
        refund_lines: list[dict] | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> str | None:
        change_id = f"CH-{next(self.serial)}"
        before = dt.datetime.now(dt.UTC)
        count = PointsTransaction.objects.count()
        code = refused(
            lambda: order_status_change(
                external_id=order.external_id,
                status=status,
                refund_lines=refund_lines,
                change_id=change_id,
                occurred_at=occurred_at or self.clock,
            )
        )
        after = dt.datetime.now(dt.UTC)
        if code is not None:
            assert PointsTransaction.objects.count() == count, f"{code} wrote to the ledger"
        else:
            self.last_change = {
                "external_id": order.external_id, "status": status, "refund_lines": refund_lines,
                "change_id": change_id, "occurred_at": occurred_at or self.clock,
            }  # fmt: skip
        self.window = (before, after)
        return code

    def expect_move(self, order: ModelOrder, status: str) -> str | None:
        """The refusal commerce answers for moving the order to ``status`` (None: allowed)."""
        if status == order.status:
            return None  # a replay
        return None if status in MOVES[order.status] else "invalid_transition"

    def end(self, order: ModelOrder, status: str) -> list[tuple[Earned, int, int]]:
        """The model's side of a cancel or a full refund: the redemption back, the earnings taken."""
        order.status = status
        if status == "REFUNDED":
            order.refunded = {sku: quantity for sku, (quantity, _) in order.lines.items()}
        self.give_back(order)
        self.read_back_give_backs(order.customer)
        return self.reverse(order, full=True)

    @rule(external_id=orders)
    def pay(self, external_id: str) -> None:
        order = self.model_orders[external_id]
        expected = self.expect_move(order, "PAID")
        assert self.change(order, "PAID") == expected
        if expected is None:
            order.status = "PAID"

    @rule(external_id=orders, window_over=st.booleans())
    def fulfil(self, external_id: str, window_over: bool) -> None:
        """Fulfilled (on the real clock) either longer ago than the return window, so its held
        points are available at once, or just now, so they stay pending for the window."""
        order = self.model_orders[external_id]
        expected = self.expect_move(order, "FULFILLED")
        window = dt.timedelta(days=RETURN_WINDOW_DAYS)
        at = real_now() - window - dt.timedelta(hours=1) if window_over else real_now()
        first = order.status != "FULFILLED"

        assert self.change(order, "FULFILLED", occurred_at=at) == expected

        if expected is None:
            order.status = "FULFILLED"
            if first and self.hold:
                for earning in order.earned:
                    earning.lot.available_at = at + window
                    earning.lot.expires_at = at + window + dt.timedelta(days=EXPIRY_DAYS)
                assert all(lot.pending != window_over for lot in (e.lot for e in order.earned)), "dated as chosen"

    @rule(external_id=orders)
    def cancel(self, external_id: str) -> None:
        order = self.model_orders[external_id]
        expected = self.expect_move(order, "CANCELLED")
        replay = order.status == "CANCELLED"

        assert self.change(order, "CANCELLED") == expected

        if expected is None and not replay:
            self.assert_fully_reversed(order, self.end(order, "CANCELLED"))

    @rule(external_id=orders)
    def refund_in_full(self, external_id: str) -> None:
        order = self.model_orders[external_id]
        expected = self.expect_move(order, "REFUNDED")
        replay = order.status == "REFUNDED"

        assert self.change(order, "REFUNDED") == expected

        if expected is None and not replay:
            self.assert_fully_reversed(order, self.end(order, "REFUNDED"))

    @rule(external_id=orders, pick=st.integers(0, len(SKUS) - 1), quantity=st.integers(1, 4))
    def refund_part(self, external_id: str, pick: int, quantity: int) -> None:
        """Some units of one line (4: one more than are left to refund)."""
        order = self.model_orders[external_id]
        sku = list(order.lines)[pick % len(order.lines)]
        left = order.lines[sku][0] - order.refunded.get(sku, 0)
        quantity = left + 1 if quantity == 4 else max(min(quantity, left), 1)
        if "REFUNDED" not in MOVES[order.status]:
            expected = "invalid_transition"
        elif quantity > left:
            expected = "refund_exceeds_quantity"
        else:
            expected = None

        assert self.change(order, "REFUNDED", [{"sku": sku, "quantity": quantity}]) == expected

        if expected is not None:
            return
        order.refunded[sku] = order.refunded.get(sku, 0) + quantity
        if all(order.refunded.get(s, 0) == q for s, (q, _) in order.lines.items()):
            self.assert_fully_reversed(order, self.end(order, "REFUNDED"))
        else:
            self.assert_reversal_rows(order, self.reverse(order, full=False))

    @rule()
    def replay_the_last_change(self) -> None:
        if self.last_change is None:
            return
        count = PointsTransaction.objects.count()

        result = order_status_change(**self.last_change)  # a retry sends the same body

        assert result.replayed
        assert PointsTransaction.objects.count() == count

    def assert_reversal_rows(self, order: ModelOrder, expected: list[tuple[Earned, int, int, int]]) -> None:
        """The rows the change just wrote: one per earning reversed, with what was due and what
        could not be taken (the balance ran out)."""
        order.reversals += len(expected)
        rows = list(
            PointsTransaction.objects.filter(
                reference=order.external_id, kind=TransactionKind.REVERSAL, source=Source.ORDER
            ).order_by("id")
        )
        assert len(rows) == order.reversals, (rows, expected)
        rows = rows[len(rows) - len(expected) :]
        got = [
            (row.reverses.rule_id, row.detail["due"], row.detail["asked"], -row.points, row.detail["unrecovered"])
            for row in rows
        ]
        want = [(self.rule_ids[e.rule], due, asked, taken, asked - taken) for e, due, asked, taken in expected]
        assert got == want
        if any(asked != taken for _, _, asked, taken in expected):  # unrecovered only when nothing is left to spend
            assert available_points(LoyaltyAccount.objects.get(pk=rows[-1].account_id)) == 0

    def assert_fully_reversed(self, order: ModelOrder, expected: list[tuple[Earned, int, int, int]]) -> None:
        """After a cancel or a full refund every point of every earning is accounted for: taken
        back, expired, or left unrecovered by the last reversal (the balance ran out), and all
        of it is claimed; a redemption made for the order is given back once."""
        self.assert_reversal_rows(order, expected)
        for earning in PointsTransaction.objects.filter(reference=order.external_id, kind=TransactionKind.EARN):
            reversals = list(earning.reversals.filter(kind=TransactionKind.REVERSAL).order_by("id"))
            back = -sum(row.points for row in reversals)
            expired = -sum(row.points for row in earning.reversals.filter(kind=TransactionKind.EXPIRE))
            unrecovered = reversals[-1].detail["unrecovered"] if reversals else 0
            assert back + expired + unrecovered == earning.points, (earning, reversals)
            assert sum(row.detail["due"] for row in reversals) == earning.points, (earning, reversals)
        if order.redeemed is not None:
            redeem = PointsTransaction.objects.get(reference=order.external_id, kind=TransactionKind.REDEEM)
            give_backs = list(redeem.reversals.all())
            assert [(g.kind, g.points) for g in give_backs] == [("REVERSAL", order.redeemed)]

    # --- Redemptions -----------------------------------------------------------------------------

    def redeem(self, customer: int, points: int, order_id: str) -> None:
        """Redeem through the service; the refusal is the one the model expects, and a redemption
        spends the oldest lots first."""
        account = self.accounts[customer]
        previous = next((r for r in self.redemptions if r[0] == customer and r[1] == order_id), None)
        if points <= 0:
            expected = "points_not_positive"
        elif previous is not None:
            expected = None if previous[2] == points else "idempotency_conflict"
        elif points < MIN_REDEEM:
            expected = "below_min_points"
        elif points > account.available:
            expected = "insufficient_points"
        else:
            expected = None
        lots_before = {lot_id: remaining for lot_id, _, _, remaining, _ in self.db_lots(customer)}
        pending = {row[0] for row, lot in zip(self.db_lots(customer), account.lots, strict=True) if lot.pending}
        outcome = []

        code = refused(
            lambda: outcome.append(
                points_redeem(
                    customer_id=self.customers[customer].pk,
                    program_id=self.program.pk,
                    points=points,
                    order_id=order_id,
                )
            )
        )

        assert code == expected, (code, expected, points, account.available)
        lots_after = {lot_id: remaining for lot_id, _, _, remaining, _ in self.db_lots(customer)}
        if code is not None or previous is not None:
            assert lots_after == lots_before
            if previous is not None and code is None:
                assert not outcome[0].created and outcome[0].transaction.pk == previous[3]
            return
        redeemed = outcome[0]
        assert redeemed.created
        assert redeemed.transaction.points == -points
        assert redeemed.transaction.value == (points * POINT_VALUE).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        # Oldest available first: every available lot older than the newest one this redemption
        # touched is empty now; pending lots are never touched.
        touched = [lot_id for lot_id in lots_before if lots_after[lot_id] != lots_before[lot_id]]
        assert sum(lots_before[i] - lots_after[i] for i in touched) == points
        assert not pending & set(touched), (pending, touched)
        assert all(lots_after[i] == 0 for i in lots_before if i < max(touched) and i not in pending)
        account.take(points, [lot for lot in account.lots if not lot.pending])
        self.redemptions.append((customer, order_id, points, redeemed.transaction.pk))
        if order_id in self.model_orders:
            self.model_orders[order_id].redeemed = points

    @rule(customer=CUSTOMER, points=st.integers(0, MIN_REDEEM + 1))
    def redeem_a_few_points(self, customer: int, points: int) -> None:
        self.redeem(customer, points, f"R-{next(self.serial)}")

    @rule(customer=CUSTOMER, percent=st.sampled_from([10, 50, 99, 100, 101, 150]))
    def redeem_a_share_of_the_balance(self, customer: int, percent: int) -> None:
        """Most of the spendable balance, all of it, or a little more than there is."""
        points = max(self.accounts[customer].available * percent // 100, MIN_REDEEM)
        self.redeem(customer, points, f"R-{next(self.serial)}")

    @rule(external_id=orders, points=st.integers(MIN_REDEEM, 200))
    def redeem_for_the_order(self, external_id: str, points: int) -> None:
        order = self.model_orders[external_id]
        self.redeem(order.customer, points, external_id)

    @rule(pick=st.integers(0, 1000), same=st.booleans())
    def send_a_redemption_again(self, pick: int, same: bool) -> None:
        if not self.redemptions:
            return
        customer, order_id, points, _ = self.redemptions[pick % len(self.redemptions)]
        self.redeem(customer, points if same else points + 1, order_id)

    # --- Time ------------------------------------------------------------------------------------

    @rule(
        days=st.one_of(st.sampled_from([EXPIRY_DAYS - 1, EXPIRY_DAYS, EXPIRY_DAYS + 1]), st.integers(1, 45)),
        nightly_expiry=st.booleans(),
    )
    def advance_clock(self, days: int, nightly_expiry: bool) -> None:
        self.clock += dt.timedelta(days=days)
        if nightly_expiry:
            self.expire(dry_run=False)

    @rule()
    def move_to_the_next_expiry(self) -> None:
        """The clock to the very moment the next open lot expires, and the nightly run then."""
        ahead = [
            lot.expires_at
            for account in self.accounts
            for lot in account.lots
            if lot.remaining and lot.expires_at is not None and lot.expires_at > self.clock
        ]
        if ahead:
            self.clock = min(ahead)
            self.expire(dry_run=False)

    @rule(dry_run=st.booleans())
    def expire(self, dry_run: bool) -> None:
        due = [
            lot
            for account in self.accounts
            for lot in account.lots
            if lot.remaining and lot.expires_at is not None and lot.expires_at <= self.clock
        ]
        last_id = PointsTransaction.objects.order_by("-id").values_list("id", flat=True).first() or 0
        open_before = {
            lot_id: remaining
            for customer in range(CUSTOMERS)
            for lot_id, _, _, remaining, _ in self.db_lots(customer)
            if remaining
        }

        report = points_expire(now=self.clock, dry_run=dry_run)

        assert (report.lots, report.points) == (len(due), sum(lot.remaining for lot in due))
        if dry_run:
            return
        for lot in due:
            lot.expired += lot.remaining
            lot.remaining = 0
        assert not PointsTransaction.objects.filter(
            account__program=self.program, remaining__gt=0, expires_at__lte=self.clock
        ).exists()
        for row in PointsTransaction.objects.filter(kind=TransactionKind.EXPIRE, pk__gt=last_id):
            assert row.reverses.expires_at <= self.clock
            assert -row.points == open_before[row.reverses_id]
            # Nothing pending expires: a held lot's expiry runs from its availability.
            assert not row.reverses.held or row.reverses.available_at < row.reverses.expires_at

    # --- After every step ------------------------------------------------------------------------

    @invariant()
    def ledger_holds(self) -> None:
        assert balances_check() == []
        accounts = {a.customer_id: a for a in LoyaltyAccount.objects.filter(program=self.program)}
        rows = defaultdict(list)
        for row in PointsTransaction.objects.filter(account__program=self.program).order_by("id"):
            rows[row.account_id].append(row)
        for index, customer in enumerate(self.customers):
            account = accounts.get(customer.pk)
            if account is None:
                assert not self.accounts[index].lots
            else:
                self.account_holds(self.accounts[index], account, rows[account.pk])

    def account_holds(self, model: Account, account: LoyaltyAccount, rows: list[PointsTransaction]) -> None:
        running = 0
        for row in rows:
            running += row.points
            assert row.balance_after == running >= 0, row
            if row.points > 0:
                assert 0 <= row.remaining <= row.points, row
            else:
                assert row.remaining is None, row
        lots = sum(row.remaining for row in rows if row.points > 0)
        assert account.balance == running == lots >= 0
        if rows:
            assert rows[-1].balance_after == account.balance
        # An order earns once per rule (the first purchase bonus once per account), and never
        # loses more than it earned.
        earns = [row for row in rows if row.kind == TransactionKind.EARN and row.source == Source.ORDER]
        per_rule = Counter((row.reference, row.rule_id) for row in earns)
        assert max(per_rule.values(), default=0) <= 1, per_rule
        assert sum(1 for row in earns if row.rule_id == self.rule_ids["bonus"]) <= 1
        taken_back: dict[int, int] = defaultdict(int)
        claimed: dict[int, int] = defaultdict(int)
        for row in rows:
            if row.kind == TransactionKind.REVERSAL and row.source == Source.ORDER:
                assert row.points <= 0 and (row.detail["due"] > 0 or row.detail["asked"] > 0), row
                assert row.detail["unrecovered"] == row.detail["asked"] + row.points, row
                taken_back[row.reverses_id] += -row.points
                claimed[row.reverses_id] += row.detail["due"]
        for row in earns:
            assert taken_back[row.pk] <= claimed[row.pk] <= row.points, (row, taken_back[row.pk], claimed[row.pk])
        # Points an order no longer earns stop counting, spent or not.
        assert account.lifetime_earned == sum(row.points for row in earns) - sum(claimed.values())
        # The model: the same balance, lifetime points, tier and lots (in order, with what is left).
        assert account.balance == model.balance, (account.balance, model.balance)
        assert account.lifetime_earned == model.lifetime
        assert (account.tier_id is not None) == model.gold
        credits = [
            (row.kind, row.points, row.remaining, row.expires_at, row.held, row.available_at)
            for row in rows
            if row.points > 0
        ]
        assert credits == [
            (lot.kind, lot.points, lot.remaining, lot.expires_at, lot.held, lot.available_at) for lot in model.lots
        ]
        # Spendable = the available lots, pending = the held ones; a pending lot lost only what
        # its own order's reversals took back (never spent, debited or expired).
        now = real_now()
        assert available_points(account, now=now) == model.available
        assert sum(lot.points for lot in pending_points([account.pk], now=now)[account.pk]) == model.pending
        held = {row.pk: row for row in rows if row.held}
        for row in rows:
            if row.kind == TransactionKind.EXPIRE and row.reverses_id in held:  # never before availability
                lot = held[row.reverses_id]
                assert lot.available_at is not None and lot.available_at <= row.occurred_at, (lot, row)
        for row in held.values():
            if row.available_at is None or row.available_at > now:
                back = sum(-r.points for r in rows if r.reverses_id == row.pk)  # its reversals (and expiry)
                assert row.remaining == row.points - back, row


@pytest.mark.django_db
def test_the_ledger_keeps_its_invariants_under_any_sequence_of_operations():
    run_state_machine_as_test(LedgerMachine, settings=STATE_SETTINGS)


class HeldLedgerMachine(LedgerMachine):
    hold = True


@pytest.mark.django_db
def test_points_held_until_fulfilment_keep_the_invariants_under_any_sequence_of_operations():
    run_state_machine_as_test(HeldLedgerMachine, settings=HELD_SETTINGS)


def _ingest(external_id: str, who: int, lines: list[tuple[str, int, str]]) -> None:
    body = order_for(external_id, {"external_id": f"C-{who}", "email": f"c{who}@example.com"}, lines, status="PAID")
    data = OrderInput(data=body)
    assert data.is_valid(), data.errors
    order_ingest(data=data.validated_data)


@pytest.mark.django_db
def test_an_order_refunded_in_two_steps_takes_back_as_much_as_one_refunded_at_once():
    # Two customers with the same history: 100 points from a first order, spent at the checkout
    # of a second order, which earns 100 points that are spent too. Then the second order is
    # refunded: at once for the first customer, one unit and then the other for the second.
    # Either way its redemption comes back (100) and its 100 points are taken back.
    program = program_make(settings={"min_redeem_points": 1})
    customers = [UserFactory(email=f"c{i}@example.com", external_id=f"C-{i}", password=None) for i in range(2)]
    for who, customer in enumerate(customers):
        _ingest(f"O-1-{who}", who, [("A", 1, "100.00")])
        points_redeem(customer_id=customer.pk, program_id=program.pk, points=100, order_id=f"O-2-{who}")
        _ingest(f"O-2-{who}", who, [("B", 2, "50.00")])
        points_redeem(customer_id=customer.pk, program_id=program.pk, points=100, order_id=f"R-3-{who}")

    order_status_change(external_id="O-2-0", status="REFUNDED")
    order_status_change(external_id="O-2-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}])
    order_status_change(external_id="O-2-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}])

    at_once, in_steps = (LoyaltyAccount.objects.get(program=program, customer=c) for c in customers)
    assert at_once.balance == 0
    assert in_steps.balance == at_once.balance, list(
        in_steps.transactions.order_by("id").values_list("kind", "points", "reference", "detail")
    )
    assert balances_check() == []
