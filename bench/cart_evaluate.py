"""Cart evaluation benchmark: the engine and ``POST /api/v1/cart/evaluate`` at 200 live campaigns.

    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/cart_evaluate.py \\
        [--campaigns 200] [--segmented 50] [--lines 20] [--engine-runs 1000] [--requests 500] \\
        [--transport client|http] [--profile engine|api] [--show-queries] [--seed 1] \\
        [--wrk] [--wrk-seconds 10]

DATABASE_URL names a PostgreSQL database the script owns (default
postgres://postgres@127.0.0.1:5432/lms_cartbench; its name must contain "bench", because the
script truncates the users and the commerce, segments and campaigns tables). It creates and
migrates the database when missing and runs with ``DEBUG=false`` and the shared cache of
``REDIS_URL`` (the snapshot version and the throttle counters live there; without it the run
uses the local-memory cache and says so).

It seeds a catalogue of 1,000 products and 2,000 customers with their orders
(``commerce.demo``), 20 static segments, and ``--campaigns`` live campaigns through
``campaign_create``: every rule type, free shipping, shared and single-use codes,
priorities, exclusive and non-stackable ones, limits, budgets, schedules, geo, and
``--segmented`` of them for segment audiences. The customer has a few orders, belongs to
some segments and has redeemed three earlier checkouts. The cart has ``--lines`` lines and
sends three codes (two shared, one single-use). Then it times:

  engine            campaigns.engine.evaluate(cart, context, campaigns) alone, on the inputs
                    cart_evaluate assembles (captured once), beside two baselines on the same
                    inputs: a plain Decimal pass (10% of every line for every campaign) and
                    copy.deepcopy of the inputs
  cart_evaluate     the selector in-process: snapshot check, facts queries, engine
  API               POST /api/v1/cart/evaluate with an integration key, beside
                    GET /api/v1/commerce/products/?sku=X with the same key (same auth and
                    throttle), alternately, through Django's test client in-process
                    (--transport client) or a real gunicorn over HTTP (--transport http)

and, with ``--wrk``, the throughput phase (``bench/throughput.py``): gunicorn (2 workers,
gthread) driven by wrk for this checkout, a worktree of the baseline commit and a bare Django
JSON view, in one run. It prints medians, p99 and the ratios, and the SQL queries per evaluation at 20 and at
``--campaigns`` campaigns (they must be equal). Aims (issue: cart engine performance):
engine median <= 2 ms, API median <= 15 ms and p99 <= 50 ms. ``--profile`` prints a
cProfile of that phase. Run it from the repository root; see bench/README.md for figures.
"""

import argparse
import collections
import copy
import json
import math
import os
import random
import statistics
import sys
import time
from decimal import ROUND_HALF_UP, Decimal

from cart_transports import HttpTransport, TestClientTransport, time_api
from cart_world import (
    SEGMENTS,
    UNIQUE_CODE,
    World,
    history,
    make_campaigns,
    make_segments,
    reset,
    seed_commerce,
    segmented_indexes,
)
from common import configure_environment, django_ready, machine_line, profiled

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lms_cartbench"
AIMS = {"engine_median_ms": 2.0, "api_median_ms": 15.0, "api_p99_ms": 50.0}
SHARED_CODES = ("BENCH003", "bench013")  # campaigns 3 and 13, typed in another case
CENT = Decimal("0.01")
TEN_PERCENT = Decimal("0.10")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=200, help="Live campaigns (default %(default)s, at least 20).")
    parser.add_argument("--segmented", type=int, default=50, help="Of them, with segment audiences.")
    parser.add_argument("--lines", type=int, default=20, help="Cart lines (default %(default)s).")
    parser.add_argument("--engine-runs", type=int, default=1000, help="Timed engine runs (default %(default)s).")
    parser.add_argument("--requests", type=int, default=500, help="Timed requests per endpoint (default %(default)s).")
    parser.add_argument("--transport", choices=("client", "http"), default="client")
    parser.add_argument("--profile", choices=("engine", "api"), help="Print a cProfile of that phase.")
    parser.add_argument("--show-queries", action="store_true", help="Print the SQL of one evaluation.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wrk", action="store_true", help="Also the throughput phase (bench/throughput.py).")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="Seconds of load per wrk run.")
    args = parser.parse_args()
    if args.campaigns < 20:
        parser.error("--campaigns must be at least 20 (the query count is compared at 20).")
    if not 0 <= args.segmented <= args.campaigns:
        parser.error("--segmented must be between 0 and --campaigns.")
    if not 1 <= args.lines <= 500:
        parser.error("--lines must be between 1 and 500 (the API's limit).")
    return args


# --- Measuring ----------------------------------------------------------------------------------


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


def summary(values_ns: list[int]) -> tuple[float, float]:
    """Median and p99 (nearest rank) in milliseconds."""
    ms = [value / 1e6 for value in values_ns]
    return statistics.median(ms), p99(ms)


def cart_request(world: World):
    from django.utils import timezone

    from campaigns.evaluation import CartRequest

    lines = [{**line, "unit_price": Decimal(line["unit_price"])} for line in world.lines]
    return CartRequest(
        lines=lines,
        at=timezone.now(),
        customer=world.customer,
        customer_known=True,
        codes=[*SHARED_CODES, UNIQUE_CODE],
        shipping=Decimal("99.00"),
    )


def engine_inputs(request) -> dict:
    """The exact (cart, context, campaigns) ``cart_evaluate`` hands the engine for ``request``."""
    from campaigns import engine
    from campaigns.evaluation import cart_evaluate

    captured, real = {}, engine.evaluate

    def capture(**kwargs):
        captured.update(kwargs)
        return real(**kwargs)

    engine.evaluate = capture  # the selector calls engine.evaluate through the module
    try:
        cart_evaluate(request)
    finally:
        engine.evaluate = real
    return captured


def evaluate_queries(request) -> tuple[list[str], list[str]]:
    """SQL of one evaluation with the snapshot warm, and with it rebuilt."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.evaluation import cart_evaluate, snapshot_invalidate

    cart_evaluate(request)
    with CaptureQueriesContext(connection) as warm:
        cart_evaluate(request)
    snapshot_invalidate()
    with CaptureQueriesContext(connection) as cold:
        cart_evaluate(request)
    return [q["sql"] for q in warm.captured_queries], [q["sql"] for q in cold.captured_queries]


def api_queries(client, body: bytes) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.post("/api/v1/cart/evaluate", body, content_type="application/json")
    with CaptureQueriesContext(connection) as captured:
        client.post("/api/v1/cart/evaluate", body, content_type="application/json")
    return len(captured.captured_queries)


def time_engine(inputs: dict, runs: int, profile: bool) -> dict[str, list[int]]:
    """The engine and its two baselines, in alternating blocks of 50 runs, so drift in the
    machine's load hits all three alike while one's garbage does not land in another's timing."""
    from campaigns import engine

    cart, context, campaigns = inputs["cart"], inputs["context"], inputs["campaigns"]

    def plain_pass():
        for _ in campaigns:
            for line in cart.lines:
                (line.unit_price * line.quantity * TEN_PERCENT).quantize(CENT, rounding=ROUND_HALF_UP)

    def deep_copy():
        copy.deepcopy((cart, context, campaigns))

    def run_engine():
        engine.evaluate(cart=cart, context=context, campaigns=campaigns)

    phases = {"engine": run_engine} if profile else {"engine": run_engine, "plain": plain_pass, "deepcopy": deep_copy}
    timings = {name: [] for name in phases}
    for function in phases.values():  # warm-up
        for _ in range(20):
            function()
    clock = time.perf_counter_ns
    with profiled(profile, "engine.evaluate"):
        for start in range(0, runs, 50):
            for name, function in phases.items():
                for _ in range(min(50, runs - start)):
                    started = clock()
                    function()
                    timings[name].append(clock() - started)
    return timings


def time_selector(world: World, runs: int) -> list[int]:
    from campaigns.evaluation import cart_evaluate

    request = cart_request(world)
    timings = []
    for _ in range(20):
        cart_evaluate(request)
    for _ in range(runs):
        started = time.perf_counter_ns()
        cart_evaluate(request)
        timings.append(time.perf_counter_ns() - started)
    return timings


def describe_result(result) -> str:
    reasons = collections.Counter(r.reason for r in result.rejected)
    listed = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
    return (
        f"{len(result.discounts)} applied ({result.total_discount} off {result.subtotal} + {result.shipping} shipping), "
        f"{len(result.rejected)} rejected ({listed}), {len(result.hints)} hints"
    )


def main() -> None:
    args = parse_args()
    name = django_ready(
        configure_environment(
            DEFAULT_URL,
            # The throttle still runs (its cache round trips are part of a request) but never refuses the bench.
            THROTTLE_INTEGRATION="1000000/m",
            # The code budgets still count (reserve and give back), but parallel calls of the
            # throughput phase naming the same three codes never meet them.
            THROTTLE_CART_UNKNOWN_CODE_KEY="10000000/h",
            THROTTLE_CART_UNKNOWN_CODE_CUSTOMER="10000000/h",
            CACHE_KEY_PREFIX="lms-bench",
            CELERY_TASK_ALWAYS_EAGER="true",  # nothing left queued in the broker
        )
    )
    from rest_framework_api_key.models import APIKey

    from campaigns import engine

    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    print(machine_line(name))

    rng = random.Random(args.seed)
    reset()
    seed_commerce(args.seed)
    world = World(rng, args.lines)
    segment_ids, mine = make_segments(world)
    segmented = segmented_indexes(args.campaigns, args.segmented)
    _, key = APIKey.objects.create_key(name="bench")
    body = json.dumps({"customer": {"id": world.customer.pk}, "lines": world.lines, "shipping": "99.00",
                       "codes": [*SHARED_CODES, UNIQUE_CODE]}).encode()  # fmt: skip
    client = TestClientTransport(key).client

    make_campaigns(world, range(0, 20), segment_ids, segmented)
    warm_20, cold_20 = evaluate_queries(cart_request(world))
    api_20 = api_queries(client, body)
    make_campaigns(world, range(20, args.campaigns), segment_ids, segmented)
    history(world, rng)
    warm_n, cold_n = evaluate_queries(cart_request(world))
    api_n = api_queries(client, body)
    print(
        f"{args.campaigns} live campaigns ({len(segmented)} for segment audiences, {SEGMENTS} static segments, "
        f"customer {world.customer.pk} in {len(mine)} of them, {world.customer.orders.count()} orders); "
        f"cart of {args.lines} lines with codes {', '.join([*SHARED_CODES, UNIQUE_CODE])}; "
        f"set up in {time.perf_counter() - started:.1f} s"
    )

    inputs = engine_inputs(cart_request(world))
    result = engine.evaluate(**inputs)
    print(f"engine candidates: {len(inputs['campaigns'])}; result: {describe_result(result)}")
    timings = time_engine(inputs, args.engine_runs, args.profile == "engine")
    selector = time_selector(world, max(args.requests // 2, 50))

    transport = HttpTransport(key) if args.transport == "http" else TestClientTransport(key)
    try:
        api, answer = time_api(transport, body, world.cart_products[0]["sku"], args.requests, args.profile == "api")
    finally:
        transport.close()
    if answer["total_discount"] != f"{result.total_discount:.2f}":
        sys.exit(f"the API answered {answer['total_discount']} off; the engine in-process {result.total_discount}")
    if args.wrk:
        import throughput

        throughput.report(throughput.run(key, body, args.wrk_seconds))

    print(f"\nSQL queries per evaluation   at 20 campaigns   at {args.campaigns} campaigns")
    rows = (
        ("cart_evaluate, snapshot warm", len(warm_20), len(warm_n)),
        ("cart_evaluate, snapshot rebuilt", len(cold_20), len(cold_n)),
        ("POST /api/v1/cart/evaluate", api_20, api_n),
    )
    for label, at_20, at_n in rows:
        print(f"  {label:<32}{at_20:>10}{at_n:>18}{'' if at_20 == at_n else '   DIFFERENT'}")
    if args.show_queries:
        print("\nthe warm evaluation's queries:")
        for sql in warm_n:
            print(f"  {sql[:160]}")

    if args.profile:
        return
    engine_median, engine_p99 = summary(timings["engine"])
    table = [
        ("engine.evaluate", timings["engine"], None),
        ("  baseline: 10% of each line x campaign (Decimal)", timings["plain"], timings["engine"]),
        ("  baseline: copy.deepcopy of the inputs", timings["deepcopy"], timings["engine"]),
        ("cart_evaluate (selector, in-process, with SQL)", selector, None),
        ("POST /api/v1/cart/evaluate", api["evaluate"], None),
        ("  baseline: GET /api/v1/commerce/products/?sku=", api["baseline"], api["evaluate"]),
    ]
    print(f"\n{'':<52}{'runs':>6}{'median ms':>11}{'p99 ms':>9}{'min ms':>9}{'ours / it':>11}")
    for label, values, ours in table:
        median, tail = summary(values)
        ratio = f"{summary(ours)[0] / median:>10.1f}x" if ours else ""
        print(f"{label:<52}{len(values):>6}{median:>11.3f}{tail:>9.3f}{min(values) / 1e6:>9.3f}{ratio:>11}")
    per_candidate = engine_median * 1000 / max(len(inputs["campaigns"]), 1)
    print(f"engine: {per_candidate:.0f} us per candidate campaign ({len(inputs['campaigns'])} candidates)")
    api_median, api_p99 = summary(api["evaluate"])
    print(f"\nAPI transport: {transport.name}")
    print(
        f"aims: engine median <= {AIMS['engine_median_ms']} ms ({engine_median:.2f}: "
        f"{'met' if engine_median <= AIMS['engine_median_ms'] else 'MISSED'}); "
        f"API median <= {AIMS['api_median_ms']} ms ({api_median:.2f}: "
        f"{'met' if api_median <= AIMS['api_median_ms'] else 'MISSED'}); "
        f"API p99 <= {AIMS['api_p99_ms']} ms ({api_p99:.2f}: {'met' if api_p99 <= AIMS['api_p99_ms'] else 'MISSED'})"
    )
    print(f"engine p99 {engine_p99:.2f} ms; total run {time.perf_counter() - started:.0f} s")
    cpus = os.cpu_count() or 1
    if load_at_start > cpus / 2:
        print(f"note: other work was running (load {load_at_start:.1f} on {cpus} cpus): medians and p99 are inflated")


if __name__ == "__main__":
    main()
