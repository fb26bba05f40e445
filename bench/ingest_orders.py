"""Order ingestion benchmark: the bulk API and ``import_orders`` beside a plain SQL insert.

    .venv/bin/python bench/ingest_orders.py [--orders 20000] [--batch 1000]

DATABASE_URL names a PostgreSQL database the script owns (default
postgres://postgres@127.0.0.1:5432/lms_bench; its name must contain "bench", because the
script truncates the commerce tables and users). It creates and migrates the database when
missing, seeds a catalogue and customers with ``commerce.demo``, generates N realistic order
bodies in the API's JSON shape, then times, one after the other on empty order tables:

  plain insert   psycopg executemany of the same orders and lines (ids from the sequence)
  bulk API       POST /api/v1/commerce/orders/bulk through DRF's test client with an API key
                 (the whole stack: JSON parsing, auth, validation, service, response)
  import_orders  manage.py import_orders FILE.jsonl --no-progress

and prints orders/s for each and its ratio to the plain insert. The aim (issue 3) is bulk
ingestion at >= 25% of the plain-insert rate. ``--profile api|import`` prints a cProfile of
that phase. Run it from the repository root; see bench/README.md for recorded figures.
"""

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from io import StringIO

from common import configure_environment, django_ready, machine_line

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lms_bench"
ORDER_TABLES = ("commerce_order", "commerce_orderline", "commerce_orderstatuschange", "commerce_refundline")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000, help="Orders per method (default %(default)s).")
    parser.add_argument("--batch", type=int, default=1_000, help="Orders per call/transaction (max 1000).")
    parser.add_argument("--customers", type=int, default=10_000, help="Customers seeded (default %(default)s).")
    parser.add_argument("--products", type=int, default=500, help="Products seeded (default %(default)s).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=("api", "import"), help="Print a cProfile of that phase.")
    args = parser.parse_args()
    if not 1 <= args.batch <= 1_000:
        parser.error("--batch must be between 1 and 1000 (the bulk API's limit).")
    return args


def truncate(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def prepare_catalogue(spec) -> None:
    from django.db import connection

    from commerce import demo

    truncate(*ORDER_TABLES, "commerce_interactionevent", "commerce_product", "commerce_category", "commerce_brand")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_user CASCADE")
    summary = demo.seed(spec)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {summary}")


# --- (a) plain insert ---------------------------------------------------------------------------

ORDER_INSERT = (
    "INSERT INTO commerce_order (id, external_id, customer_id, placed_at, status, currency, subtotal, shipping, "
    "discount_total, tax_total, total, refunded_total, shipping_country, shipping_state, shipping_city, "
    "payment_method, coupon_codes, has_unknown_skus, request_hash, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s, %s, false, %s, now(), now())"
)
LINE_INSERT = (
    "INSERT INTO commerce_orderline (order_id, product_id, sku, name, quantity, unit_price, line_total, "
    "refunded_quantity, category_id, brand_id, category_name, brand_name, unknown_sku) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s, false)"
)


def plain_rows(bodies: list[dict]) -> list[tuple[tuple, list[tuple]]]:
    """The rows ingestion would write for each body (looked up and hashed before timing)."""
    from psycopg.types.json import Jsonb

    from accounts.models import User
    from commerce import demo
    from commerce.models import Product

    customers = dict(User.objects.filter(external_id__isnull=False).values_list("external_id", "id"))
    products = {
        p.sku: p for p in Product.objects.select_related("category", "brand").only("id", "sku", "category", "brand")
    }
    rows = []
    for body in bodies:
        order = (
            body["external_id"], customers[body["customer"]["external_id"]], datetime.fromisoformat(body["placed_at"]),
            body["status"], body["currency"], body["subtotal"], body["shipping"], body["discount_total"],
            body["tax_total"], body["total"], body["shipping_country"], body["shipping_state"], body["shipping_city"],
            body["payment_method"], Jsonb(body["coupon_codes"]), demo.request_hash(body),
        )  # fmt: skip
        lines = []
        for line in body["lines"]:
            product = products[line["sku"]]
            lines.append((
                product.id, line["sku"], line["name"], line["quantity"], line["unit_price"], line["line_total"],
                product.category_id, product.brand_id, product.category.name, product.brand.name,
            ))  # fmt: skip
        rows.append((order, lines))
    return rows


def run_plain(url: str, rows: list[tuple[tuple, list[tuple]]], batch: int) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        sequence = conn.execute("SELECT pg_get_serial_sequence('commerce_order', 'id')").fetchone()[0]
        conn.commit()
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, len(chunk)])
                ids = [row[0] for row in cursor.fetchall()]
                cursor.executemany(ORDER_INSERT, [(oid, *order) for oid, (order, _) in zip(ids, chunk, strict=True)])
                cursor.executemany(
                    LINE_INSERT,
                    [(oid, *line) for oid, (_, lines) in zip(ids, chunk, strict=True) for line in lines],
                )
    return len(rows)


# --- (b) bulk API -------------------------------------------------------------------------------


def run_api(payloads: list[bytes], expected: list[int]) -> int:
    from rest_framework.test import APIClient
    from rest_framework_api_key.models import APIKey

    _, key = APIKey.objects.create_key(name=f"bench-{secrets.token_hex(4)}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    created = 0
    for payload, count in zip(payloads, expected, strict=True):
        response = client.post("/api/v1/commerce/orders/bulk", payload, content_type="application/json")
        if response.status_code != 200:
            sys.exit(f"bulk API answered {response.status_code}: {response.content[:500]!r}")
        body = response.json()
        if body["created"] != count:
            sys.exit(f"bulk API created {body['created']} of {count}: {json.dumps(body['results'][:3])}")
        created += body["created"]
    return created


# --- (c) import_orders --------------------------------------------------------------------------


def import_orders_available() -> bool:
    from django.core.management import get_commands

    return "import_orders" in get_commands()


def run_import(path: str, batch: int) -> int:
    from django.core.management import call_command

    out = StringIO()
    call_command("import_orders", path, "--no-progress", "--batch-size", str(batch), stdout=out)
    summary = out.getvalue()
    if "rejected 0" not in summary:
        sys.exit(f"import_orders rejected orders:\n{summary}")
    from commerce.models import Order

    return Order.objects.count()


def timed(label: str, profile: bool, function, *args) -> tuple[int, float]:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    count = function(*args)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        print(f"\n--- cProfile of {label} (cumulative, top 40) ---")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return count, seconds


def main() -> None:
    args = parse_args()
    # No throttling of the benchmark's own requests.
    url = configure_environment(DEFAULT_URL, THROTTLE_ANON="1000000/m", THROTTLE_USER="1000000/m")
    name = django_ready(url)
    from commerce import demo

    print(machine_line(name))

    spec = demo.DemoSpec(
        seed=args.seed,
        products=args.products,
        customers=args.customers,
        orders=args.orders,
        events_per_customer=0,
        as_of=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
    )
    prepare_catalogue(dataclasses.replace(spec, orders=0))
    started = time.perf_counter()
    bodies = list(demo.order_bodies(spec))
    lines = sum(len(body["lines"]) for body in bodies)
    print(f"generated {len(bodies)} order bodies ({lines} lines) in {time.perf_counter() - started:.1f} s")

    results: list[tuple[str, int, float]] = []

    rows = plain_rows(bodies)
    truncate(*ORDER_TABLES)
    count, seconds = timed("plain insert", False, run_plain, url, rows, args.batch)
    results.append(("plain insert (psycopg executemany)", count, seconds))
    del rows

    batches = [bodies[start : start + args.batch] for start in range(0, len(bodies), args.batch)]
    payloads = [json.dumps({"orders": batch}).encode() for batch in batches]
    truncate(*ORDER_TABLES)
    count, seconds = timed("bulk API", args.profile == "api", run_api, payloads, [len(b) for b in batches])
    results.append((f"bulk API (POST .../orders/bulk, {args.batch}/call)", count, seconds))
    del payloads

    if import_orders_available():
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
            for body in bodies:
                handle.write(json.dumps(body) + "\n")
        try:
            truncate(*ORDER_TABLES)
            count, seconds = timed("import_orders", args.profile == "import", run_import, handle.name, args.batch)
            results.append((f"manage.py import_orders (JSONL, batch {args.batch})", count, seconds))
        finally:
            os.unlink(handle.name)
    else:
        print("import_orders: the command does not exist yet (commerce/management/commands/import_orders.py); skipped")

    base_rate = results[0][1] / results[0][2]
    print(f"\n{'method':<52} {'orders':>8} {'seconds':>8} {'orders/s':>9} {'vs plain':>9}")
    for label, count, seconds in results:
        rate = count / seconds
        print(f"{label:<52} {count:>8} {seconds:>8.2f} {rate:>9.0f} {rate / base_rate:>9.1%}")
    print("\naim: bulk ingestion >= 25% of the plain-insert rate")


if __name__ == "__main__":
    main()
