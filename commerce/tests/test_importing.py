"""manage.py import_products / import_orders: CSV and JSON Lines, streamed, idempotent."""

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from commerce.models import Category, Order, OrderLine, Product

pytestmark = pytest.mark.django_db


def _run(command: str, path, *args: str) -> list[str]:
    out = StringIO()
    call_command(command, str(path), "--no-progress", *args, stdout=out)
    return out.getvalue().splitlines()


def _write_csv(path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


PRODUCT_HEADER = ["sku", "name", "price", "stock_quantity", "active", "category", "brand"]


def test_products_csv_imports_creates_then_is_idempotent_then_updates(tmp_path):
    path = tmp_path / "products.csv"
    _write_csv(
        path,
        PRODUCT_HEADER,
        [
            ["PH-1", "Phone", "19999.00", "5", "true", "Electronics > Phones", "Acme"],
            ["RC-1", "Rice 5kg", "450.50", "100", "1", "Groceries", ""],
            ["BAD-1", "Broken", "-3", "1", "true", "", ""],
            ["BAD-2", "Broken too", "abc", "1", "true", "", ""],
        ],
    )

    first = _run("import_products", path)
    second = _run("import_products", path)

    assert first[0] == "created 2, rejected 2"
    assert "rejected by reason: validation_error 2" in first[1]
    assert any("line 4 (BAD-1): validation_error: price:" in line for line in first)
    assert any("line 5 (BAD-2): validation_error: price:" in line for line in first)
    assert second[0] == "unchanged 2, rejected 2"
    phone = Product.objects.select_related("category__parent", "brand").get(sku="PH-1")
    assert (phone.category.name, phone.category.parent.name, phone.brand.name) == ("Phones", "Electronics", "Acme")
    assert Category.objects.filter(name="Electronics").count() == 1

    _write_csv(path, ["sku", "price"], [["PH-1", "17999.00"]])
    assert _run("import_products", path)[0] == "updated 1, rejected 0"
    phone.refresh_from_db()
    assert str(phone.price) == "17999.00" and phone.name == "Phone" and phone.stock_quantity == 5


def test_products_jsonl_reports_bad_json_lines_and_writes_every_reject(tmp_path):
    path = tmp_path / "products.jsonl"
    path.write_text(
        json.dumps({"sku": "A-1", "name": "A", "price": "1.00"})
        + "\n{not json\n\n"
        + json.dumps({"sku": "A-2", "price": "2.00"})
        + "\n"
    )
    rejects = tmp_path / "rejects.csv"

    lines = _run("import_products", path, "--rejects", str(rejects))

    assert lines[0] == "created 1, rejected 2"
    rows = list(csv.reader(rejects.open()))
    assert rows[0] == ["line", "key", "code", "message"]
    assert [(row[0], row[2]) for row in rows[1:]] == [("2", "parse_error"), ("4", "product_incomplete")]
    assert list(Product.objects.values_list("sku", flat=True)) == ["A-1"]


ORDER_HEADER = [
    "external_id", "customer_external_id", "customer_email", "placed_at", "status", "subtotal", "shipping",
    "discount_total", "total", "coupon_codes", "sku", "quantity", "unit_price",
]  # fmt: skip


def test_orders_csv_groups_consecutive_rows_into_orders_and_replays_on_rerun(tmp_path):
    Product.objects.create(sku="PH-1", name="Phone", price="100.00")
    path = tmp_path / "orders.csv"
    _write_csv(
        path,
        ORDER_HEADER,
        [
            ["O-1", "C-1", "a@example.com", "2026-10-01T10:00:00Z", "PAID", "250.00", "40.00", "10.00", "280.00", "DIWALI;NEW", "PH-1", "2", "100.00"],
            ["O-1", "C-1", "a@example.com", "2026-10-01T10:00:00Z", "PAID", "250.00", "40.00", "10.00", "280.00", "DIWALI;NEW", "XX-9", "1", "50.00"],
            ["O-2", "C-2", "b@example.com", "2026-10-02T10:00:00Z", "PLACED", "100.00", "0", "0", "999.00", "", "PH-1", "1", "100.00"],
            ["O-3", "C-1", "", "2026-10-03T10:00:00Z", "FULFILLED", "100.00", "0", "0", "100.00", "", "PH-1", "1", "100.00"],
        ],
    )  # fmt: skip

    first = _run("import_orders", path)
    second = _run("import_orders", path)

    assert first[0] == "created 2, rejected 1"
    assert any(line.startswith("  line 4 (O-2): validation_error: total:") for line in first)
    assert second[0] == "replayed 2, rejected 1"
    order = Order.objects.get(external_id="O-1")
    assert order.coupon_codes == ["DIWALI", "NEW"] and order.has_unknown_skus
    assert sorted(OrderLine.objects.filter(order=order).values_list("sku", "quantity")) == [("PH-1", 2), ("XX-9", 1)]
    assert Order.objects.get(external_id="O-3").customer == order.customer  # found by external_id alone


def test_orders_jsonl_in_small_batches_matches_the_api_shape(tmp_path):
    Product.objects.create(sku="PH-1", name="Phone", price="100.00")
    orders = [
        {
            "external_id": f"J-{n}",
            "customer": {"email": f"c{n % 3}@example.com"},
            "placed_at": "2026-10-01T10:00:00+05:30",
            "subtotal": "100.00",
            "total": "100.00",
            "lines": [{"sku": "PH-1", "quantity": 1, "unit_price": "100.00"}],
        }
        for n in range(7)
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(order) + "\n" for order in orders))

    lines = _run("import_orders", path, "--batch-size", "3")

    assert lines[0] == "created 7, rejected 0"
    assert Order.objects.count() == 7
    assert Order.objects.values("customer").distinct().count() == 3


def test_import_refuses_bad_invocations(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_orders", str(tmp_path / "missing.csv"))
    unknown = tmp_path / "orders.txt"
    unknown.write_text("x")
    with pytest.raises(CommandError, match="--format"):
        call_command("import_orders", str(unknown), "--no-progress")
    headerless = tmp_path / "orders.csv"
    _write_csv(headerless, ["external_id", "sku"], [["O-1", "PH-1"]])
    with pytest.raises(CommandError, match="lacks the column"):
        call_command("import_orders", str(headerless), "--no-progress")
    with pytest.raises(CommandError, match="batch-size"):
        call_command("import_products", str(headerless), "--batch-size", "5000")
