"""Order ingestion: one order (idempotent on external_id), the bulk back-fill, the hooks."""

from decimal import Decimal

import pytest

from accounts.models import LoginEvent, User
from accounts.tests.factories import UserFactory
from commerce.hooks import OrderChange
from commerce.models import Order, OrderLine, OrderStatus, OrderStatusChange
from commerce.tests.factories import CategoryFactory, ProductFactory, order_body, order_line_body
from conftest import client_with_key
from lms.errors import Conflict
from lms.testing import assert_error, run_concurrently

ORDERS = "/api/v1/commerce/orders/"
BULK = "/api/v1/commerce/orders/bulk"
REPLAYED = "Idempotent-Replayed"

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone():
    return ProductFactory(sku="PH-1", name="Phone", category=CategoryFactory(name="Phones"), brand__name="Acme")


@pytest.fixture
def case():
    return ProductFactory(sku="CS-1", name="Case", category__name="Accessories", brand__name="Acme")


def _two_line_order(external_id: str = "ORD-1", **extra) -> dict:
    return order_body(
        external_id,
        lines=[order_line_body("PH-1", 1, "1000.00"), order_line_body("CS-1", 2, "50.00")],
        **extra,
    )


def _counts() -> tuple[int, int, int, int]:
    return (Order.objects.count(), OrderLine.objects.count(), OrderStatusChange.objects.count(), User.objects.count())


# --- One order --------------------------------------------------------------------------------


def test_an_order_is_stored_with_its_lines_and_captured_catalogue_data(integration_client, phone, case):
    response = integration_client.post(
        ORDERS, _two_line_order(discount_total="100.00", shipping="40.00", tax_total="18.00", status="PAID")
    )

    assert response.status_code == 201, response.json()
    assert REPLAYED not in response
    body = response.json()
    assert (body["external_id"], body["status"], body["currency"]) == ("ORD-1", "PAID", "INR")
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("1100.00", "100.00", "1058.00")
    assert body["has_unknown_skus"] is False
    assert body["warnings"] == []
    assert [(line["sku"], line["quantity"], line["line_total"]) for line in body["lines"]] == [
        ("PH-1", 1, "1000.00"),
        ("CS-1", 2, "100.00"),
    ]
    assert body["lines"][0]["category_id"] == phone.category_id
    assert (body["lines"][0]["category_name"], body["lines"][0]["brand_name"]) == ("Phones", "Acme")
    assert [(c["from_status"], c["to_status"]) for c in body["status_changes"]] == [("", "PAID")]

    order = Order.objects.get(external_id="ORD-1")
    assert order.total == Decimal("1058.00")
    lines = list(order.lines.order_by("id"))
    assert [(line.product, line.category, line.brand) for line in lines] == [
        (phone, phone.category, phone.brand),
        (case, case.category, case.brand),
    ]
    assert order.status_changes.get().to_status == OrderStatus.PAID


def test_a_line_keeps_the_category_the_product_had_at_purchase_time(integration_client, phone):
    integration_client.post(ORDERS, order_body(lines=[order_line_body("PH-1")]))
    old_category = phone.category
    phone.category = CategoryFactory(name="Refurbished")
    phone.save()

    response = integration_client.get(f"{ORDERS}ORD-1/")

    line = OrderLine.objects.get(order__external_id="ORD-1")
    assert (line.category, line.category_name) == (old_category, "Phones")
    assert response.json()["lines"][0]["category_name"] == "Phones"


def test_an_unknown_customer_is_created_from_the_email_without_a_password(integration_client, phone):
    response = integration_client.post(
        ORDERS,
        order_body(customer={"external_id": "C-9", "email": "New.Buyer@Example.com", "first_name": "Nia"}),
    )

    assert response.status_code == 201, response.json()
    user = User.objects.get(external_id="C-9")
    assert (user.email, user.first_name) == ("new.buyer@example.com", "Nia")
    assert not user.has_usable_password()
    assert response.json()["customer"] == {"id": user.pk, "external_id": "C-9", "email": "new.buyer@example.com"}
    assert Order.objects.get().customer == user


def test_a_known_customer_is_found_by_external_id(integration_client, phone):
    known = UserFactory(external_id="C-1", email="asha@example.com")

    response = integration_client.post(ORDERS, order_body(customer={"external_id": "C-1"}))

    assert response.status_code == 201, response.json()
    assert Order.objects.get().customer == known
    assert User.objects.count() == 1


@pytest.mark.parametrize("fields", [{"is_staff": True}, {"role": "ADMIN"}], ids=["staff", "admin"])
def test_an_order_is_never_bound_to_a_console_account(integration_client, phone, fields):
    root = User.objects.create_user("root@example.com", None, external_id="C-1", **fields)

    by_email = integration_client.post(ORDERS, order_body("ORD-1", customer={"email": "ROOT@example.com"}))
    by_external_id = integration_client.post(ORDERS, order_body("ORD-2", customer={"external_id": "C-1"}))

    assert_error(by_email, 409, "customer_protected")
    assert_error(by_external_id, 409, "customer_protected")
    assert not Order.objects.exists()
    assert list(User.objects.values_list("pk", flat=True)) == [root.pk]


def test_an_unknown_sku_is_accepted_and_flagged(integration_client, phone):
    body = order_body(
        lines=[
            order_line_body("PH-1"),
            order_line_body("GHOST-1", 1, "10.00", name="Ghost", category="Toys", brand="Nobody"),
        ]
    )

    response = integration_client.post(ORDERS, body)

    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["has_unknown_skus"] is True
    assert [line["unknown_sku"] for line in answer["lines"]] == [False, True]
    assert [(w["code"], w["path"]) for w in answer["warnings"]] == [("unknown_sku", "lines[1].sku")]
    assert "GHOST-1" in answer["warnings"][0]["message"]
    ghost = OrderLine.objects.get(sku="GHOST-1")
    assert (ghost.product, ghost.unknown_sku, ghost.name, ghost.category_name, ghost.brand_name) == (
        None,
        True,
        "Ghost",
        "Toys",
        "Nobody",
    )
    assert Order.objects.get().has_unknown_skus is True


def test_a_retry_of_the_same_order_replays_the_first_answer_and_writes_nothing(integration_client, phone):
    body = order_body(lines=[order_line_body("PH-1"), order_line_body("GHOST-1", 1, "10.00")])
    first = integration_client.post(ORDERS, body)
    counts = _counts()

    retry = integration_client.post(ORDERS, body)

    assert retry.status_code == 201
    assert retry[REPLAYED] == "true"
    assert retry.json() == first.json()
    assert _counts() == counts


def test_the_same_external_id_with_a_different_body_is_a_conflict(integration_client, phone):
    integration_client.post(ORDERS, order_body())
    counts = _counts()

    response = integration_client.post(ORDERS, order_body(lines=[order_line_body("PH-1", 2)]))

    body = assert_error(response, 409, "order_conflict")
    assert body["details"] == {"external_id": "ORD-1"}
    assert _counts() == counts
    assert Order.objects.get().lines.get().quantity == 1


def _lines(n: int) -> list[dict]:
    return [order_line_body(f"S-{i}", 1, "1.00") for i in range(n)]


def _with(body: dict, path: str, value) -> dict:
    """``body`` with the value at a dotted path (``lines.1.line_total``) replaced."""
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        ("subtotal", "-1.00", "subtotal"),
        ("total", "lots", "total"),
        ("shipping", "-5.00", "shipping"),
        ("lines.0.unit_price", "-1.00", "lines[0].unit_price"),
        ("lines.0.quantity", 0, "lines[0].quantity"),
        ("lines.1.line_total", "99.00", "lines[1].line_total"),
        ("subtotal", "1149.00", "subtotal"),
        ("total", "1149.00", "total"),
        ("lines.2.sku", "PH-1", "lines[2].sku"),
        ("lines", [], "lines"),
        ("lines", _lines(501), "lines"),
        ("currency", "inr", "currency"),
        ("status", "SHIPPED", "status"),
        ("customer", {"first_name": "Nobody"}, "customer"),
        ("customer", {"email": "not-an-email"}, "customer.email"),
        ("placed_at", "yesterday", "placed_at"),
    ],
)
def test_bad_order_input_is_400_naming_the_path(integration_client, phone, path, value, error_path):
    body = order_body(
        lines=[order_line_body("PH-1", 1, "1000.00"), order_line_body("CS-1", 2, "50.00"), order_line_body("X-1")]
    )

    response = integration_client.post(ORDERS, _with(body, path, value))

    error = assert_error(response, 400, "validation_error")
    assert error_path in error["details"], error
    assert error["message"].startswith(f"{error_path}:"), error
    assert not Order.objects.exists()


def test_a_total_that_does_not_add_up_says_what_it_should_be(integration_client, phone):
    body = order_body(discount_total="10.00", shipping="5.00")
    body["total"] = "100.00"

    error = assert_error(integration_client.post(ORDERS, body), 400, "validation_error")

    assert "95.00" in error["message"]


def test_an_unknown_customer_external_id_without_email_is_customer_unknown(integration_client, phone):
    response = integration_client.post(ORDERS, order_body(customer={"external_id": "C-404"}))

    assert_error(response, 400, "customer_unknown")
    assert _counts() == (0, 0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_six_concurrent_posts_of_the_same_order_store_it_once(integration_key):
    ProductFactory(sku="PH-1")
    body = order_body(lines=[order_line_body("PH-1"), order_line_body("GHOST-1", 2, "5.00")])

    responses = run_concurrently(6, lambda _: client_with_key(integration_key).post(ORDERS, body))

    assert [r.status_code for r in responses] == [201] * 6, [r.content for r in responses]
    assert sorted(r.get(REPLAYED, "") for r in responses) == [""] + ["true"] * 5
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 2
    assert OrderStatusChange.objects.count() == 1
    assert User.objects.filter(email="buyer@example.com").count() == 1
    assert len({r.json()["id"] for r in responses}) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_external_id_with_different_bodies_store_one(integration_key):
    ProductFactory(sku="PH-1")
    bodies = [order_body(lines=[order_line_body("PH-1", 1)]), order_body(lines=[order_line_body("PH-1", 3)])]

    responses = run_concurrently(2, lambda i: client_with_key(integration_key).post(ORDERS, bodies[i]))

    assert sorted(r.status_code for r in responses) == [201, 409], [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 201)
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "order_conflict"
    assert Order.objects.count() == 1
    assert OrderLine.objects.get().quantity == winner.json()["lines"][0]["quantity"]


# --- Bulk -------------------------------------------------------------------------------------


def _post_bulk(client, *orders):
    response = client.post(BULK, {"orders": list(orders)})
    assert response.status_code == 200, response.content
    return response.json()


def test_bulk_reports_each_order_at_its_position(integration_client, phone):
    integration_client.post(ORDERS, order_body("ORD-OLD"))
    invalid = order_body("ORD-BAD")
    invalid["total"] = "1.00"

    body = _post_bulk(
        integration_client,
        order_body("ORD-A", lines=[order_line_body("PH-1"), order_line_body("GHOST-1")]),
        invalid,
        order_body("ORD-OLD"),
        order_body("ORD-B", customer={"external_id": "C-404"}),
        order_body("ORD-C"),
    )

    assert (body["created"], body["replayed"], body["rejected"]) == (2, 1, 2)
    results = body["results"]
    assert [(r["index"], r["key"], r["outcome"]) for r in results] == [
        (0, "ORD-A", "created"),
        (1, "ORD-BAD", "rejected"),
        (2, "ORD-OLD", "replayed"),
        (3, "ORD-B", "rejected"),
        (4, "ORD-C", "created"),
    ]
    assert results[0]["warnings"][0]["path"] == "lines[1].sku"
    assert results[1]["error"]["code"] == "validation_error"
    assert "total" in results[1]["error"]["details"]
    assert results[3]["error"]["code"] == "customer_unknown"
    assert set(Order.objects.values_list("external_id", flat=True)) == {"ORD-OLD", "ORD-A", "ORD-C"}
    assert OrderLine.objects.filter(order__external_id="ORD-A").count() == 2


def test_the_same_order_twice_in_one_batch_is_stored_once(integration_client, phone):
    body = _post_bulk(integration_client, order_body("ORD-1"), order_body("ORD-1"))

    assert [r["outcome"] for r in body["results"]] == ["created", "replayed"]
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 1


def test_one_external_id_twice_in_a_batch_with_different_bodies_rejects_the_second(integration_client, phone):
    body = _post_bulk(integration_client, order_body("ORD-1"), order_body("ORD-1", lines=[order_line_body("PH-1", 5)]))

    assert [r["outcome"] for r in body["results"]] == ["created", "rejected"]
    assert body["results"][1]["error"]["code"] == "order_conflict"
    assert OrderLine.objects.get().quantity == 1


def test_more_than_1000_orders_is_batch_too_large(integration_client):
    response = integration_client.post(BULK, {"orders": [{}] * 1001})

    assert_error(response, 400, "batch_too_large")


@pytest.mark.parametrize("payload", [{"orders": []}, {"orders": "ORD-1"}, [order_body()]])
def test_a_bulk_body_that_is_not_a_list_of_orders_is_400(integration_client, payload):
    body = assert_error(integration_client.post(BULK, payload), 400, "validation_error")

    assert "orders" in body["details"]


# --- Hooks ------------------------------------------------------------------------------------


def test_a_hook_sees_each_ingested_order_once(integration_client, phone, order_hook):
    seen: list[OrderChange] = []

    @order_hook
    def record(change: OrderChange) -> None:
        assert change.order.lines.count() == 1  # the lines are stored before the hook runs
        seen.append(change)

    integration_client.post(ORDERS, order_body(status="PAID"))
    integration_client.post(ORDERS, order_body(status="PAID"))  # a replay emits nothing

    (change,) = seen
    assert (change.order.external_id, change.from_status, change.to_status) == ("ORD-1", None, "PAID")
    assert change.refunded_lines == ()


def test_a_hook_that_refuses_an_order_answers_409_and_stores_nothing(integration_client, phone, order_hook):
    @order_hook
    def refuse(change: OrderChange) -> None:
        LoginEvent.objects.create(user=change.order.customer)  # written, then rolled back
        raise Conflict("points_budget_exhausted", "No points left this month.", program=7)

    response = integration_client.post(ORDERS, order_body())

    body = assert_error(response, 409, "points_budget_exhausted")
    assert body["details"] == {"program": 7}
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    assert not OrderStatusChange.objects.exists()
    assert not LoginEvent.objects.exists()


def test_a_hook_refusing_one_order_of_a_batch_rejects_only_that_one(integration_client, phone, order_hook):
    @order_hook
    def write(change: OrderChange) -> None:
        LoginEvent.objects.create(user=change.order.customer, user_agent=change.order.external_id)

    @order_hook
    def refuse_big_orders(change: OrderChange) -> None:
        if change.order.total > 500:
            raise Conflict("order_too_big", "Orders above 500 are refused.")

    body = _post_bulk(
        integration_client,
        order_body("ORD-A"),
        order_body("ORD-BIG", lines=[order_line_body("PH-1", 6)]),
        order_body("ORD-BIG", lines=[order_line_body("PH-1", 6)]),
        order_body("ORD-C"),
    )

    assert [r["outcome"] for r in body["results"]] == ["created", "rejected", "rejected", "created"]
    assert [r["error"]["code"] for r in body["results"][1:3]] == ["order_too_big", "order_too_big"]
    assert set(Order.objects.values_list("external_id", flat=True)) == {"ORD-A", "ORD-C"}
    assert set(OrderLine.objects.values_list("order__external_id", flat=True)) == {"ORD-A", "ORD-C"}
    assert set(OrderStatusChange.objects.values_list("order__external_id", flat=True)) == {"ORD-A", "ORD-C"}
    # The first hook's write for the refused order went with it; the others' are committed.
    assert sorted(LoginEvent.objects.values_list("user_agent", flat=True)) == ["ORD-A", "ORD-C"]


def test_a_customer_created_for_a_refused_order_is_removed_with_it(integration_client, phone, order_hook):
    UserFactory(email="known@example.com", external_id="C-KNOWN")

    @order_hook
    def refuse_big_orders(change: OrderChange) -> None:
        if change.order.total > 500:
            raise Conflict("order_too_big", "Orders above 500 are refused.")

    big = [order_line_body("PH-1", 6)]
    body = _post_bulk(
        integration_client,
        order_body("ORD-NEW", lines=big, customer={"external_id": "C-NEW", "email": "new@example.com"}),
        order_body("ORD-KNOWN", lines=big, customer={"external_id": "C-KNOWN"}),
        order_body("ORD-SHARED-BIG", lines=big, customer={"external_id": "C-SHARED", "email": "shared@example.com"}),
        order_body("ORD-SHARED", customer={"external_id": "C-SHARED", "email": "shared@example.com"}),
    )

    assert [r["outcome"] for r in body["results"]] == ["rejected", "rejected", "rejected", "created"]
    # Created for the refused order alone: gone with it. Known before, or kept by another order: stays.
    assert not User.objects.filter(email="new@example.com").exists()
    assert User.objects.filter(email="known@example.com").exists()
    assert User.objects.filter(email="shared@example.com").exists()
    assert list(Order.objects.values_list("external_id", flat=True)) == ["ORD-SHARED"]


def test_a_customer_created_for_a_single_refused_order_is_removed_with_it(integration_client, phone, order_hook):
    @order_hook
    def refuse(change: OrderChange) -> None:
        raise Conflict("try_later", "Not now.")

    assert_error(integration_client.post(ORDERS, order_body()), 409, "try_later")

    assert not User.objects.filter(email="buyer@example.com").exists()


def test_a_refused_order_can_be_sent_again_once_the_hook_accepts_it(integration_client, phone, order_hook):
    refusing = {"on": True}

    @order_hook
    def refuse(change: OrderChange) -> None:
        if refusing["on"]:
            raise Conflict("try_later", "Not now.")

    assert_error(integration_client.post(ORDERS, order_body()), 409, "try_later")
    refusing["on"] = False

    response = integration_client.post(ORDERS, order_body())

    assert response.status_code == 201
    assert REPLAYED not in response
    assert Order.objects.count() == 1


def test_an_order_ingested_already_refunded_is_refunded_in_full(integration_client, phone):
    body = order_body("ORD-R", lines=[order_line_body("PH-1", 2), order_line_body("XX-1", 1)], status="REFUNDED")

    response = integration_client.post(ORDERS, body)

    assert response.status_code == 201, response.json()
    order = Order.objects.get(external_id="ORD-R")
    assert order.status == "REFUNDED" and order.refunded_total == order.total
    assert all(line.refunded_quantity == line.quantity for line in order.lines.all())
    # Nothing is left to refund.
    again = integration_client.patch(f"{ORDERS}ORD-R/", {"status": "REFUNDED"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"


def test_a_batch_hook_sees_a_bulk_ingest_at_once_and_a_single_order_alone(integration_client, phone):
    from commerce.hooks import order_batch_hooks

    calls: list[list[str]] = []

    def record(changes) -> None:
        calls.append([change.order.external_id for change in changes])

    order_batch_hooks.register("test-record", record)
    try:
        _post_bulk(integration_client, order_body("ORD-A"), order_body("ORD-B"), order_body("ORD-C"))
        integration_client.post(ORDERS, order_body("ORD-D"))
        integration_client.patch(f"{ORDERS}ORD-D/", {"status": "CANCELLED"}, format="json")
    finally:
        order_batch_hooks.unregister("test-record")

    assert calls == [["ORD-A", "ORD-B", "ORD-C"], ["ORD-D"], ["ORD-D"]]
