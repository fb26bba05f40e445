"""Loyalty earning benchmark: points earned per second through bulk order ingestion, beside the plain insert.

    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/loyalty_earn.py \\
        [--orders 6000] [--batch 1000] [--rounds 3] [--door service|api] [--tier-basis LIFETIME_POINTS|SPEND] \\
        [--profile] [--show-queries]

DATABASE_URL names a PostgreSQL database the script owns (default
postgres://postgres@127.0.0.1:5432/lms_loyaltybench; its name must contain "bench", because
the script truncates the users and the commerce, segments, campaigns and loyalty tables). It
creates and migrates the database when missing and runs with ``DEBUG=false`` and the shared
cache of ``REDIS_URL`` (the campaigns snapshot version the loyalty hook checks lives there).

It seeds a catalogue (``commerce.demo``: 16 leaf categories under 6 departments)
and customers, and a loyalty program through ``program_create``: POINTS_PER_RUPEE, two
CATEGORY_POINTS rules on departments (so a line earns through its category's parent),
FIRST_PURCHASE_BONUS, three tiers with multipliers, points expiring after a year. It
generates realistic order bodies (``demo.order_bodies``: 1-5 lines, discounts, PLACED to
REFUNDED; about 84 % of them in a status that earns) and validates them with ``OrderInput``
before anything is timed. Then, for ``--rounds`` rounds (the order of the three turned
round each time, so drift in the machine falls on all of them), each on fresh order ids:

  plain insert     the orders and lines with psycopg executemany (as bench/ingest_orders.py),
                   then deleted again, untimed
  ingest, no program
                   commerce.services.orders.orders_ingest in batches of --batch, with the
                   program switched off: the loyalty hook returns at once
  ingest, program  the same with the program switched on: accounts created and locked,
                   earnings computed, EARN transactions written, balances, lifetime points
                   and tiers moved, in the ingesting transaction

(``--door api``: the two ingests through POST /api/v1/commerce/orders/bulk with an API key
instead, JSON parsing and OrderInput validation included.) It prints each round, the medians:
orders/s, EARN transactions/s and points/s, the ratios to the plain insert and to the
ingest without a program, and the SQL statements of one warm batch with and without the
program (COPY, BEGIN, COMMIT and savepoints included; the difference is the loyalty hook's).
At the end it checks the ledger: ``balances_check()`` finds nothing, lifetime points equal
the earnings, no order ingested while the program was off earned, and every earning order
ingested while it was on did. The aim (issue 6) is ingestion with the program live at
>= 20 % of the plain insert; the ratio to the same ingestion without a program is printed
too. ``--profile`` prints a cProfile and the slowest queries of one extra batch with the
program on. Run it from the repository root; see bench/README.md for recorded figures.
"""

import argparse
import contextlib
import cProfile
import dataclasses
import datetime as dt
import json
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from decimal import Decimal

from common import configure_environment, django_ready, machine_line
from ingest_orders import plain_rows, run_plain

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lms_loyaltybench"
AIM = 0.20  # of the plain insert
PLAIN_PREFIX = "SQL-"  # the plain insert's copies of the orders (deleted after each round)
MODES = ("plain", "off", "on")
LABELS = {
    "plain": "plain insert (psycopg executemany)",
    "off": "orders_ingest, no program live",
    "on": "orders_ingest, program live",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders", type=int, default=6_000, help="Orders per measurement per round (default %(default)s)."
    )
    parser.add_argument("--batch", type=int, default=1_000, help="Orders per orders_ingest call (max 1000).")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of the three measurements (default %(default)s).")
    parser.add_argument("--customers", type=int, default=10_000, help="Customers seeded (default %(default)s).")
    parser.add_argument("--products", type=int, default=500, help="Products seeded (default %(default)s).")
    parser.add_argument("--door", choices=("service", "api"), default="service",
                        help="orders_ingest directly, or the bulk API (default %(default)s).")  # fmt: skip
    parser.add_argument("--tier-basis", choices=("LIFETIME_POINTS", "SPEND"), default="LIFETIME_POINTS")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra batch with the program on.")
    parser.add_argument(
        "--show-queries", action="store_true", help="Print the SQL of one warm batch with the program on."
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.batch <= 1_000:
        parser.error("--batch must be between 1 and 1000 (the bulk API's limit).")
    if args.orders < args.batch:
        parser.error("--orders must be at least --batch.")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1.")
    if args.door == "api" and (args.profile or args.show_queries):
        parser.error("--profile and --show-queries time the service: use them with --door service.")
    return args


# --- Data ---------------------------------------------------------------------------------------


def reset() -> None:
    """Empty every table the bench writes (TRUNCATE: the ledger's append-only trigger is per row)."""
    from django.apps import apps
    from django.db import connection

    tables = {"accounts_user", "rest_framework_api_key_apikey"}
    for label in ("commerce", "segments", "campaigns", "loyalty"):
        tables |= {model._meta.db_table for model in apps.get_app_config(label).get_models(include_auto_created=True)}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(sorted(tables))} RESTART IDENTITY CASCADE")


def seed_catalogue(spec) -> None:
    from django.db import connection

    from commerce import demo

    print(f"seeded {demo.seed(spec)}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def program_make(as_of: dt.datetime, tier_basis: str):
    """The live program's rules, made through the service (switched off until measured)."""
    from campaigns.models import CampaignStatus
    from commerce.models import Category
    from loyalty.services.programs import program_create

    departments = dict(Category.objects.filter(parent__isnull=True).values_list("name", "pk"))
    if tier_basis == "SPEND":  # rupees spent in the last year
        thresholds, settings = ("10000", "50000", "200000"), {"tier_basis": "SPEND", "tier_window_days": 365}
    else:  # lifetime points
        thresholds, settings = ("1000", "5000", "20000"), {}
    return program_create(
        name="Bench rewards",
        starts_at=as_of - dt.timedelta(days=400),  # before the first order placed
        status=CampaignStatus.INACTIVE,
        timezone="Asia/Kolkata",
        settings={"point_value": Decimal("0.25"), "expiry_days": 365, **settings},
        rules=[
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": Decimal("0.1")},
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("0.2"),
                "category_ids": [departments["Electronics"]],
            },
            {
                "rule_type": "CATEGORY_POINTS",
                "points_per_rupee": Decimal("0.15"),
                "category_ids": [departments["Fashion"], departments["Beauty"]],
            },
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 200},
        ],
        tiers=[
            {"name": "Silver", "threshold": Decimal(thresholds[0]), "multiplier": Decimal("1.10")},
            {"name": "Gold", "threshold": Decimal(thresholds[1]), "multiplier": Decimal("1.25")},
            {"name": "Platinum", "threshold": Decimal(thresholds[2]), "multiplier": Decimal("1.50")},
        ],
    )


def program_switch(program, on: bool) -> None:
    from campaigns.models import CampaignStatus
    from campaigns.services.campaigns import campaign_status_set
    from loyalty.selectors import snapshot_get

    campaign_status_set(campaign=program, status=CampaignStatus.ACTIVE if on else CampaignStatus.INACTIVE)
    snapshot = snapshot_get()  # rebuilt now, not inside the first timed batch
    assert (program.pk in snapshot.programs) == on, "the program did not switch"


def validated(bodies: list[dict]) -> list[dict]:
    """The bodies as ``OrderInput`` hands them to ``orders_ingest`` (the bulk API's validation)."""
    from rest_framework import serializers

    from commerce.api.serializers import OrderInput

    validator = OrderInput()
    items = []
    for body in bodies:
        try:
            items.append(validator.run_validation(body))
        except serializers.ValidationError as error:
            sys.exit(f"order {body['external_id']} does not validate: {error.detail}")
    return items


class Slot:
    """One measurement's orders: the JSON bodies and, for the service door, the validated items."""

    def __init__(self, bodies: list[dict], batch: int, door: str) -> None:
        self.bodies = bodies
        self.ids = [body["external_id"] for body in bodies]
        self.batches = [bodies[start : start + batch] for start in range(0, len(bodies), batch)]
        if door == "service":
            self.items = [validated(chunk) for chunk in self.batches]
        else:
            self.payloads = [json.dumps({"orders": chunk}).encode() for chunk in self.batches]


# --- Measurements -------------------------------------------------------------------------------


def ingest_service(slot: Slot) -> int:
    from commerce.services.orders import orders_ingest

    created = 0
    for items in slot.items:
        results = orders_ingest(items=items)
        refused = [r for r in results if r.error is not None or r.outcome == "replayed"]
        if refused:
            sys.exit(f"orders_ingest did not create {refused[0].key}: {refused[0].error or 'replayed'}")
        created += len(results)
    return created


def ingest_api(slot: Slot, client) -> int:
    created = 0
    for payload, chunk in zip(slot.payloads, slot.batches, strict=True):
        response = client.post("/api/v1/commerce/orders/bulk", payload, content_type="application/json")
        if response.status_code != 200 or response.json()["created"] != len(chunk):
            sys.exit(f"bulk API answered {response.status_code}: {response.content[:500]!r}")
        created += len(chunk)
    return created


def plain_insert(url: str, slot: Slot, batch: int) -> tuple[int, float]:
    """Copies of the slot's orders under other external ids, timed; deleted again after."""
    from django.db import connection

    bodies = [{**body, "external_id": PLAIN_PREFIX + body["external_id"]} for body in slot.bodies]
    rows = plain_rows(bodies)
    started = time.perf_counter()
    count = run_plain(url, rows, batch)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM commerce_orderline WHERE order_id IN "
            "(SELECT id FROM commerce_order WHERE external_id LIKE %s)",
            [PLAIN_PREFIX + "%"],
        )
        cursor.execute("DELETE FROM commerce_order WHERE external_id LIKE %s", [PLAIN_PREFIX + "%"])
    return count, seconds


def earned() -> tuple[int, int]:
    """EARN transactions in the ledger and their points."""
    from django.db.models import Count, Sum

    from loyalty.models import PointsTransaction, TransactionKind

    totals = PointsTransaction.objects.filter(kind=TransactionKind.EARN).aggregate(n=Count("id"), points=Sum("points"))
    return totals["n"], totals["points"] or 0


def queries_of(run, slot: Slot) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run(slot)
    return [query["sql"] for query in captured.captured_queries]


@contextlib.contextmanager
def profiled(label: str):
    """cProfile of the block, and each SQL statement's time by its first words (COPY is not seen here)."""
    from django.db import connection

    spent: dict[str, list[float]] = defaultdict(list)

    def clock(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[" ".join(str(sql).split())[:150]].append(time.perf_counter() - started)

    profiler = cProfile.Profile()
    with connection.execute_wrapper(clock):
        profiler.enable()
        started = time.perf_counter()
        try:
            yield
        finally:
            total = time.perf_counter() - started
            profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"\n--- cProfile of {label} (by {order}, top 35) ---")
        pstats.Stats(profiler).sort_stats(order).print_stats(35)
    sql_total = sum(sum(times) for times in spent.values())
    print(f"--- SQL of {label}: {sum(len(t) for t in spent.values())} statements (COPY, BEGIN, COMMIT not seen), "
          f"{sql_total:.3f} s of {total:.3f} s ---")  # fmt: skip
    for sql, times in sorted(spent.items(), key=lambda item: -sum(item[1]))[:20]:
        print(f"  {sum(times) * 1000:8.1f} ms  x{len(times):<4} {sql}")


# --- Checks -------------------------------------------------------------------------------------


def ledger_check(off_ids: list[str], on_ids: list[str]) -> list[str]:
    """What is wrong with the ledger after the run (nothing, when earning is right)."""
    from django.db.models import Sum

    from commerce.models import Order
    from loyalty.models import LoyaltyAccount, PointsTransaction, Source, TransactionKind
    from loyalty.services.upkeep import balances_check

    problems = []
    mismatches = balances_check()
    if mismatches:
        problems.append(f"balances_check: {len(mismatches)} accounts differ from their ledger, e.g. {mismatches[0]}")
    earn_points = earned()[1]
    lifetime = LoyaltyAccount.objects.aggregate(total=Sum("lifetime_earned"))["total"] or 0
    if lifetime != earn_points:
        problems.append(f"lifetime points {lifetime} != points earned {earn_points}")
    if PointsTransaction.objects.exclude(kind=TransactionKind.EARN).exists():
        problems.append("the ledger holds other transactions than EARN (only new orders were ingested)")
    references = set(
        PointsTransaction.objects.filter(kind=TransactionKind.EARN, source=Source.ORDER).values_list(
            "reference", flat=True
        )
    )
    early = references & set(off_ids)
    if early:
        problems.append(f"{len(early)} orders ingested with the program off earned, e.g. {sorted(early)[:3]}")
    counted = set(Order.objects.counted().filter(external_id__in=on_ids).values_list("external_id", flat=True))
    missed = counted - references
    if missed:
        problems.append(
            f"{len(missed)} earning orders ingested with the program on earned nothing, e.g. {sorted(missed)[:3]}"
        )
    if references - counted - set(off_ids):
        problems.append("orders that do not earn (cancelled, refunded) earned")
    return problems


# --- Run ----------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    url = configure_environment(
        DEFAULT_URL,
        THROTTLE_INTEGRATION="1000000/m",
        CACHE_KEY_PREFIX="lms-loyaltybench",
        CELERY_TASK_ALWAYS_EAGER="true",  # nothing left queued in the broker
    )
    name = django_ready(url)
    from django.db.models import Count

    from commerce import demo
    from commerce.models import OrderLine
    from loyalty.models import LoyaltyAccount

    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    print(machine_line(name))

    as_of = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    extra = 3 + (1 if args.profile else 0)  # warm-up batches: off, on (cold), on (warm); profiled
    slots = 2 * args.rounds
    spec = demo.DemoSpec(
        seed=args.seed,
        products=args.products,
        customers=args.customers,
        orders=slots * args.orders + extra * args.batch,
        events_per_customer=0,
        as_of=as_of,
    )
    reset()
    seed_catalogue(dataclasses.replace(spec, orders=0))
    program = program_make(as_of, args.tier_basis)

    # Order i goes to measurement i mod N: every measurement gets orders from the whole
    # half-year, so the same mix of statuses, sizes and repeat customers.
    bodies = list(demo.order_bodies(spec))
    warm_bodies, bodies = bodies[: extra * args.batch], bodies[extra * args.batch :]
    by_slot = [bodies[n::slots] for n in range(slots)]
    lines = sum(len(body["lines"]) for body in bodies)
    made = time.perf_counter()
    measured = {"off": [Slot(by_slot[2 * r], args.batch, args.door) for r in range(args.rounds)],
                "on": [Slot(by_slot[2 * r + 1], args.batch, args.door) for r in range(args.rounds)]}  # fmt: skip
    warm = [Slot(warm_bodies[n * args.batch : (n + 1) * args.batch], args.batch, args.door) for n in range(extra)]
    print(
        f"{len(bodies)} order bodies ({lines} lines) for {args.rounds} rounds of {args.orders} per measurement, "
        f"batches of {args.batch}, door {args.door}; "
        f"{'validated' if args.door == 'service' else 'encoded'} in {time.perf_counter() - made:.1f} s"
    )

    if args.door == "api":
        from rest_framework.test import APIClient
        from rest_framework_api_key.models import APIKey

        _, key = APIKey.objects.create_key(name="bench")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

        def ingest(slot: Slot) -> int:
            return ingest_api(slot, client)
    else:
        ingest = ingest_service

    # Warm-up (untimed): a batch each way, its queries counted; the first batch with the
    # program on creates its accounts and pays for the cold caches.
    program_switch(program, False)
    queries_off = queries_of(ingest, warm[0])
    program_switch(program, True)
    queries_cold = queries_of(ingest, warm[1])
    queries_on = queries_of(ingest, warm[2])
    program_switch(program, False)
    off_ids = [*warm[0].ids]
    on_ids = [*warm[1].ids, *warm[2].ids]

    door = "POST .../orders/bulk" if args.door == "api" else "orders_ingest"

    def label(mode: str) -> str:
        return LABELS[mode].replace("orders_ingest", door)

    results: dict[str, list[tuple[int, float, int, int]]] = {mode: [] for mode in MODES}  # orders, s, tx, points
    print(
        f"\n{'round':<6}{'measurement':<38}{'orders':>8}{'seconds':>9}{'orders/s':>10}{'EARN tx/s':>11}{'points/s':>11}"
    )
    for round_index in range(args.rounds):
        order = MODES if round_index % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            transactions = points = 0
            if mode == "plain":
                count, seconds = plain_insert(url, measured["off"][round_index], args.batch)
            else:
                slot = measured[mode][round_index]
                program_switch(program, mode == "on")
                before = earned()
                clock = time.perf_counter()
                count = ingest(slot)
                seconds = time.perf_counter() - clock
                after = earned()
                transactions, points = after[0] - before[0], after[1] - before[1]
                (on_ids if mode == "on" else off_ids).extend(slot.ids)
            results[mode].append((count, seconds, transactions, points))
            print(
                f"{round_index + 1:<6}{label(mode):<38}{count:>8}{seconds:>9.2f}{count / seconds:>10.0f}"
                f"{transactions / seconds:>11.0f}{points / seconds:>11.0f}"
            )
    program_switch(program, False)

    if args.profile:
        program_switch(program, True)
        with profiled(f"one batch of {args.batch} with the program on"):
            ingest(warm[3])
        on_ids.extend(warm[3].ids)
        program_switch(program, False)

    def median(mode: str, index: int) -> float:
        return statistics.median(row[index] / row[1] for row in results[mode])

    plain, off, on = median("plain", 0), median("off", 0), median("on", 0)
    print(f"\nmedians of {args.rounds} rounds{'':<20}{'orders/s':>10}{'EARN tx/s':>11}{'points/s':>11}"
          f"{'vs plain':>10}{'vs no program':>15}")  # fmt: skip
    for mode, rate in (("plain", plain), ("off", off), ("on", on)):
        versus = f"{rate / off:>15.1%}" if mode != "plain" else ""
        earning = f"{median(mode, 2):>11.0f}{median(mode, 3):>11.0f}"
        print(f"{label(mode):<40}{rate:>10.0f}{earning}{rate / plain:>10.1%}{versus}")
    batches = args.orders // args.batch
    print(
        f"\nSQL statements per batch of {args.batch} (COPY, BEGIN, COMMIT, savepoints included): "
        f"no program {len(queries_off)}, program live {len(queries_on)} "
        f"(first batch after switching on: {len(queries_cold)}); the loyalty hook's: "
        f"{len(queries_on) - len(queries_off)}; {batches} batches per measurement"
    )
    if args.show_queries:
        print("\nthe warm batch's queries with the program live:")
        for sql in queries_on:
            print(f"  {sql[:200]}")
    accounts = LoyaltyAccount.objects.count()
    tiers = LoyaltyAccount.objects.order_by("tier__threshold").values_list("tier__name").annotate(n=Count("id"))
    held = ", ".join(f"{tier or 'no tier'} {n}" for tier, n in tiers)
    transactions, points = earned()
    print(
        f"ledger: {transactions} EARN transactions, {points} points, {accounts} accounts ({held}); "
        f"{OrderLine.objects.count()} order lines stored"
    )

    problems = ledger_check(off_ids, on_ids)
    print(f"aim: ingestion with a live program >= {AIM:.0%} of the plain insert: {on / plain:.1%} "
          f"({'met' if on / plain >= AIM else 'MISSED'}); of the same ingestion without a program: {on / off:.1%} "
          f"({'met' if on / off >= AIM else 'MISSED'})")  # fmt: skip
    print(f"total run {time.perf_counter() - started:.0f} s")
    cpus = os.cpu_count() or 1
    if load_at_start > cpus / 2:
        print(f"note: other work was running (load {load_at_start:.1f} on {cpus} cpus): rates are lower")
    if problems:
        sys.exit("LEDGER CHECK FAILED:\n  " + "\n  ".join(problems))
    print("ledger check: balances_check() found nothing; every earning order earned once, no other did")


if __name__ == "__main__":
    main()
