"""Order status changes: the life cycle, cancels, whole and partial refunds, idempotency."""

import itertools
from decimal import Decimal

import pytest

from commerce.hooks import OrderChange
from commerce.models import Order, OrderLine, OrderStatus, OrderStatusChange, RefundLine
from commerce.tests.factories import OrderFactory, ProductFactory
from conftest import client_with_key
from lms.errors import Conflict
from lms.testing import assert_error, run_concurrently

ORDERS = "/api/v1/commerce/orders/"
REPLAYED = "Idempotent-Replayed"

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    """PAID: 2 x A at 50.00 and 1 x B at 100.00 (subtotal 200.00), 20.00 order discount: 180.00."""
    return OrderFactory(
        external_id="ORD-1",
        status=OrderStatus.PAID,
        discount_total=Decimal("20.00"),
        lines=[(ProductFactory(sku="A", price=Decimal("50.00")), 2), (ProductFactory(sku="B"), 1)],
    )


_refund_ids = itertools.count(1)


def _patch(client, external_id: str, **body):
    """PATCH a status change; a refund of lines gets a fresh change_id unless the test names one."""
    if body.get("refund_lines") and "change_id" not in body:
        body["change_id"] = f"REFUND-{next(_refund_ids)}"
    return client.patch(f"{ORDERS}{external_id}/", body)


def _line(sku: str) -> OrderLine:
    return OrderLine.objects.get(order__external_id="ORD-1", sku=sku)


def _written() -> tuple[int, int]:
    return OrderStatusChange.objects.count(), RefundLine.objects.count()


# --- The life cycle ---------------------------------------------------------------------------


def test_an_order_goes_placed_paid_fulfilled_refunded(integration_client):
    OrderFactory(external_id="ORD-9", status=OrderStatus.PLACED, lines=[(ProductFactory(), 3)])

    statuses = []
    for status in ("PAID", "FULFILLED", "REFUNDED"):
        response = _patch(integration_client, "ORD-9", status=status)
        assert response.status_code == 200, response.json()
        assert REPLAYED not in response
        statuses.append(response.json()["status"])

    assert statuses == ["PAID", "FULFILLED", "REFUNDED"]
    order = Order.objects.get(external_id="ORD-9")
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_total == order.total == Decimal("300.00")
    assert list(order.status_changes.values_list("from_status", "to_status")) == [
        ("", "PLACED"),
        ("PLACED", "PAID"),
        ("PAID", "FULFILLED"),
        ("FULFILLED", "REFUNDED"),
    ]
    assert order.lines.get().refunded_quantity == 3
    refund = RefundLine.objects.get()
    assert (refund.quantity, refund.amount) == (3, Decimal("300.00"))


def test_a_placed_order_can_be_cancelled(integration_client):
    OrderFactory(external_id="ORD-9", status=OrderStatus.PLACED)

    response = _patch(integration_client, "ORD-9", status="CANCELLED", reason="customer asked")

    assert response.status_code == 200
    assert response.json()["status_changes"][-1]["reason"] == "customer asked"
    order = Order.objects.get(external_id="ORD-9")
    assert order.status == OrderStatus.CANCELLED
    assert order.refunded_total == Decimal("0.00")
    assert not RefundLine.objects.exists()


@pytest.mark.parametrize("final", [OrderStatus.REFUNDED, OrderStatus.CANCELLED])
def test_a_final_status_cannot_go_back_to_paid(integration_client, final):
    OrderFactory(external_id="ORD-9", status=final)
    before = _written()

    response = _patch(integration_client, "ORD-9", status="PAID")

    body = assert_error(response, 409, "invalid_transition")
    assert body["details"] == {"from_status": final, "to_status": "PAID"}
    assert "none" in body["message"]
    assert Order.objects.get(external_id="ORD-9").status == final
    assert _written() == before


def test_an_invalid_transition_names_the_allowed_ones(integration_client):
    OrderFactory(external_id="ORD-9", status=OrderStatus.FULFILLED)

    body = assert_error(_patch(integration_client, "ORD-9", status="PAID"), 409, "invalid_transition")

    assert "allowed: REFUNDED" in body["message"]


def test_an_unknown_order_is_404(integration_client):
    assert_error(_patch(integration_client, "NOPE", status="PAID"), 404, "order_unknown")


def test_an_unknown_status_is_400(integration_client, order):
    body = assert_error(_patch(integration_client, "ORD-1", status="SHIPPED"), 400, "validation_error")

    assert "status" in body["details"]


# --- Refunds ----------------------------------------------------------------------------------


def test_a_partial_refund_records_its_lines_and_keeps_the_status(integration_client, order):
    response = _patch(
        integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}], change_id="R-1"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["refunded_total"]) == ("PAID", "90.00")
    assert body["status_changes"][-1] == {
        "from_status": "PAID",
        "to_status": "PAID",
        "occurred_at": body["status_changes"][-1]["occurred_at"],
        "refund_amount": "90.00",
        "external_id": "R-1",
        "reason": "",
    }
    change = OrderStatusChange.objects.get(external_id="R-1")
    assert change.refund_amount == Decimal("90.00")
    # B is 100.00 of a 200.00 subtotal with a 20.00 discount: the customer paid 90.00 for it.
    assert list(change.refund_lines.values_list("line__sku", "quantity", "amount")) == [("B", 1, Decimal("90.00"))]
    assert (_line("B").refunded_quantity, _line("A").refunded_quantity) == (1, 0)
    assert Order.objects.get().status == OrderStatus.PAID


def test_refunding_what_is_left_makes_the_order_refunded(integration_client, order):
    _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}])
    _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}])

    response = _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}])

    assert response.json()["status"] == "REFUNDED"
    order = Order.objects.get()
    assert (order.status, order.refunded_total) == (OrderStatus.REFUNDED, Decimal("180.00"))
    assert list(RefundLine.objects.order_by("id").values_list("line__sku", "amount")) == [
        ("A", Decimal("45.00")),
        ("B", Decimal("90.00")),
        ("A", Decimal("45.00")),
    ]
    assert list(order.status_changes.values_list("to_status", flat=True)) == ["PAID", "PAID", "PAID", "REFUNDED"]


def test_a_whole_refund_after_a_partial_one_refunds_only_what_is_left(integration_client, order):
    _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}])

    response = _patch(integration_client, "ORD-1", status="REFUNDED")

    assert response.json()["status"] == "REFUNDED"
    last = OrderStatusChange.objects.order_by("id").last()
    assert last.refund_amount == Decimal("135.00")
    assert list(last.refund_lines.order_by("line_id").values_list("line__sku", "quantity")) == [("A", 1), ("B", 1)]
    assert Order.objects.get().refunded_total == Decimal("180.00")


def test_a_refund_line_may_give_the_amount_refunded(integration_client, order):
    _patch(
        integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1, "amount": "12.34"}]
    )

    assert RefundLine.objects.get().amount == Decimal("12.34")
    assert Order.objects.get().refunded_total == Decimal("12.34")


def test_refunding_more_than_is_left_is_a_conflict(integration_client, order):
    _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}])
    before = _written()

    response = _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 2}])

    body = assert_error(response, 409, "refund_exceeds_quantity")
    assert body["details"] == {"path": "refund_lines[0].quantity", "left": 1}
    assert _line("A").refunded_quantity == 1
    assert _written() == before


def test_a_refund_of_an_sku_not_in_the_order_is_400(integration_client, order):
    before = _written()

    response = _patch(
        integration_client,
        "ORD-1",
        status="REFUNDED",
        refund_lines=[{"sku": "A", "quantity": 1}, {"sku": "ZZZ", "quantity": 1}],
    )

    body = assert_error(response, 400, "refund_line_unknown")
    assert body["details"] == {"path": "refund_lines[1].sku"}
    assert _line("A").refunded_quantity == 0
    assert _written() == before


@pytest.mark.parametrize("current", [OrderStatus.PLACED, OrderStatus.PAID])
def test_refund_lines_with_a_status_other_than_refunded_are_400(integration_client, order, current):
    Order.objects.filter(pk=order.pk).update(status=current)
    before = _written()

    response = _patch(integration_client, "ORD-1", status="PAID", refund_lines=[{"sku": "A", "quantity": 1}])

    body = assert_error(response, 400, "refund_lines_need_refunded")
    assert body["details"] == {"field": "refund_lines"}
    assert _written() == before
    assert Order.objects.get().status == current


@pytest.mark.parametrize(
    "refund_lines",
    [
        [{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 1}],
        [{"sku": "A", "quantity": 0}],
        [{"sku": "A", "quantity": 1, "amount": "-1.00"}],
        [],
    ],
    ids=["duplicate-sku", "zero-quantity", "negative-amount", "empty"],
)
def test_bad_refund_lines_are_400(integration_client, order, refund_lines):
    body = assert_error(
        _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=refund_lines), 400, "validation_error"
    )

    assert any(path.startswith("refund_lines") for path in body["details"]), body
    assert _line("A").refunded_quantity == 0


def test_a_retry_with_the_same_change_id_is_a_replay(integration_client, order):
    first = _patch(
        integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}], change_id="R-1"
    )
    before = _written()

    retry = _patch(
        integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}], change_id="R-1"
    )

    assert retry.status_code == 200
    assert retry[REPLAYED] == "true"
    assert retry.json() == first.json()
    assert _written() == before
    assert _line("A").refunded_quantity == 1
    assert Order.objects.get().refunded_total == Decimal("45.00")


@pytest.mark.parametrize(
    "changed",
    [
        {"refund_lines": [{"sku": "A", "quantity": 2}]},
        {"refund_lines": [{"sku": "B", "quantity": 1}]},
        {"refund_lines": [{"sku": "A", "quantity": 1, "amount": "10.00"}]},
        {"reason": "damaged"},
        {"status": "CANCELLED", "refund_lines": None},
    ],
    ids=["quantity", "sku", "amount", "reason", "status"],
)
def test_a_change_id_reused_with_another_body_is_idempotency_conflict(integration_client, order, changed):
    first = {"status": "REFUNDED", "refund_lines": [{"sku": "A", "quantity": 1}], "change_id": "R-1"}
    _patch(integration_client, "ORD-1", **first)
    before = _written()

    reused = {key: value for key, value in {**first, **changed}.items() if value is not None}
    body = assert_error(_patch(integration_client, "ORD-1", **reused), 409, "idempotency_conflict")

    assert body["details"] == {"change_id": "R-1"}
    assert "R-1" in body["message"]
    assert _written() == before
    assert _line("A").refunded_quantity == 1


def test_a_retry_listing_the_refund_lines_in_another_order_is_a_replay(integration_client, order):
    lines = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]
    _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=lines, change_id="R-1")

    retry = _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=lines[::-1], change_id="R-1")

    assert retry.status_code == 200
    assert retry[REPLAYED] == "true"


def test_refund_lines_without_a_change_id_are_400(integration_client, order):
    response = integration_client.patch(
        f"{ORDERS}ORD-1/", {"status": "REFUNDED", "refund_lines": [{"sku": "A", "quantity": 1}]}
    )

    body = assert_error(response, 400, "validation_error")

    assert "change_id" in body["details"]
    assert _line("A").refunded_quantity == 0


def test_a_move_to_the_current_status_is_a_replay(integration_client, order):
    before = _written()

    response = _patch(integration_client, "ORD-1", status="PAID")

    assert response.status_code == 200
    assert response[REPLAYED] == "true"
    assert response.json()["status"] == "PAID"
    assert _written() == before


def test_a_hook_receives_the_refunded_lines(integration_client, order, order_hook):
    seen: list[OrderChange] = []
    order_hook(seen.append)

    _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}])

    (change,) = seen
    assert (change.from_status, change.to_status, change.refund_amount) == ("PAID", "PAID", Decimal("90.00"))
    assert [(r.line.sku, r.quantity, r.amount) for r in change.refunded_lines] == [("B", 1, Decimal("90.00"))]


def test_a_hook_that_refuses_a_refund_leaves_the_order_as_it_was(integration_client, order, order_hook):
    before = _written()

    @order_hook
    def refuse(change: OrderChange) -> None:
        raise Conflict("points_already_spent", "The points this order earned were spent.")

    response = _patch(integration_client, "ORD-1", status="REFUNDED", refund_lines=[{"sku": "B", "quantity": 1}])

    assert_error(response, 409, "points_already_spent")
    assert _written() == before
    assert _line("B").refunded_quantity == 0
    assert Order.objects.get().refunded_total == Decimal("0.00")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refunds_of_the_last_unit_of_a_line_refund_it_once(integration_key):
    OrderFactory(
        external_id="ORD-1",
        status=OrderStatus.PAID,
        lines=[(ProductFactory(sku="A"), 2), (ProductFactory(sku="B"), 1)],
    )
    _patch(client_with_key(integration_key), "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}])

    responses = run_concurrently(
        2,
        lambda _: _patch(
            client_with_key(integration_key), "ORD-1", status="REFUNDED", refund_lines=[{"sku": "A", "quantity": 1}]
        ),
    )

    assert sorted(r.status_code for r in responses) == [200, 409], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "refund_exceeds_quantity"
    line = _line("A")
    assert (line.quantity, line.refunded_quantity) == (2, 2)
    assert RefundLine.objects.filter(line=line).count() == 2
    order = Order.objects.get()
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, Decimal("200.00"))
