"""The cart engine alone (no database, no Django): ``evaluate`` with 200 and 500 campaigns
that all stack on a 20-line cart, today's engine (commit 032f3d1, loaded from git under
another name) beside this one in the same run, and the cost of a campaign that cannot match
on a 20-line and a 200-line cart.

    .venv/bin/python bench/engine_evaluate.py [--rounds 200]

Both engines get dataclass inputs built from the same plain description (``plan_*``), so
they judge the very same campaigns and carts; the script checks that they agree on the
result before timing.
"""

import argparse
import datetime as dt
import importlib
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "032f3d1"
AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
# This thread's CPU time, not the wall clock: on a machine other jobs share (2 cores here, often
# at load 6+), the wall clock measures the queue for a core; CPU time measures the engine.
# --wall measures the wall clock instead.
CLOCK = time.thread_time
D = Decimal


def load_baseline() -> object:
    """Today's engine as the package ``engine_032f3d1`` in a temporary directory."""
    folder = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    package = folder / f"engine_{BASELINE}"
    package.mkdir()
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{BASELINE}:campaigns/engine/"], cwd=ROOT, capture_output=True, text=True
    )
    for name in listing.stdout.split():
        text = subprocess.run(
            ["git", "show", f"{BASELINE}:campaigns/engine/{name}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        (package / name).write_text(text.replace("campaigns.engine", package.name))
    sys.path.insert(0, str(folder))
    return importlib.import_module(package.name)


def plan_cart(lines: int, rng: random.Random) -> list[dict]:
    """Plain lines: product i, a leaf category under one of 4 parents, one of 6 brands."""
    plan = []
    for i in range(1, lines + 1):
        leaf = 100 + i % 12
        plan.append({
            "sku": f"SKU-{i}", "quantity": rng.randint(1, 4), "unit_price": D(rng.randint(500, 5000)),
            "product_id": i, "category_ids": (leaf, leaf % 4 + 1), "brand_id": 10 + i % 6,
        })  # fmt: skip
    return plan


def plan_stacking(count: int, rng: random.Random) -> list[dict]:
    """Automatic, stackable campaigns of every rule type, each giving something on the cart."""
    plans = []
    for cid in range(1, count + 1):
        shape = cid % 7
        pct = D(rng.choice((1, 2, 3)))
        if shape == 0:
            rule = {"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": pct}
        elif shape == 1:
            rule = {
                "rule_type": "CATEGORY",
                "discount_type": "PERCENTAGE",
                "value": pct,
                "category_ids": (cid % 4 + 1,),
            }
        elif shape == 2:
            rule = {"rule_type": "BRAND", "discount_type": "FIXED_AMOUNT", "value": D(rng.choice((5, 10, 20))),
                    "brand_ids": (10 + cid % 6,)}  # fmt: skip
        elif shape == 3:
            rule = {"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": pct,
                    "product_ids": tuple(rng.sample(range(1, 21), 3))}  # fmt: skip
        elif shape == 4:
            rule = {"rule_type": "BULK_PURCHASE", "discount_type": "PERCENTAGE",
                    "tiers": ((D(2), D(1)), (D(5), D(2)), (D(500), D(3))), "category_ids": (cid % 4 + 1,)}  # fmt: skip
        elif shape == 5:
            rule = {"rule_type": "CUSTOM_CART_TOTAL", "discount_type": "FIXED_AMOUNT",
                    "tiers": ((D(1000), D(10)), (D(10**7), D(50)))}  # fmt: skip
        else:
            rule = {"rule_type": "BUY_X_GET_Y", "discount_type": "PERCENTAGE", "value": D(5),
                    "buy_quantity": 1, "get_quantity": 1, "brand_ids": (10 + cid % 6, 10 + (cid + 1) % 6)}  # fmt: skip
        plans.append({"id": cid, "priority": rng.randint(0, 5), "max_discount": D(2000) if cid % 5 == 0 else None,
                      "rules": [rule]})  # fmt: skip
    return plans


def plan_unmatched(count: int) -> list[dict]:
    """Campaigns aimed at products, categories and brands the cart does not hold."""
    kinds = (("PRODUCT", "product_ids"), ("CATEGORY", "category_ids"), ("BRAND", "brand_ids"))
    return [
        {
            "id": cid,
            "priority": 0,
            "max_discount": None,
            "rules": [
                {
                    "rule_type": kinds[cid % 3][0],
                    "discount_type": "PERCENTAGE",
                    "value": D(10),
                    kinds[cid % 3][1]: (10_000 + cid,),
                }
            ],
        }  # fmt: skip
        for cid in range(1, count + 1)
    ]


def build(engine, cart_plan: list[dict], campaign_plans: list[dict]):
    t = engine.types if hasattr(engine, "types") else importlib.import_module(engine.__name__ + ".types")
    lines = tuple(
        t.Line(
            sku=p["sku"],
            quantity=p["quantity"],
            unit_price=p["unit_price"],
            product_id=p["product_id"],
            category_ids=frozenset(p["category_ids"]),
            brand_id=p["brand_id"],
        )  # fmt: skip
        for p in cart_plan
    )
    campaigns = []
    for plan in campaign_plans:
        rules = []
        for n, r in enumerate(plan["rules"]):
            fields = {k: v for k, v in r.items() if k not in ("tiers",)}
            for name in ("category_ids", "brand_ids", "product_ids"):
                if name in fields:
                    fields[name] = frozenset(fields[name])
            tiers = tuple(t.Tier(threshold=a, value=b) for a, b in r.get("tiers", ()))
            rules.append(t.Rule(id=plan["id"] * 10 + n, tiers=tiers, **fields))
        campaigns.append(t.Campaign(
            id=plan["id"], name=f"Campaign {plan['id']}", kind=t.DISCOUNT_COUPON, starts_at=AT - dt.timedelta(days=1),
            priority=plan["priority"], max_discount=plan["max_discount"], rules=tuple(rules),
        ))  # fmt: skip
    return t.Cart(lines=lines, shipping=D(99)), t.Context(at=AT), campaigns


def interleaved(runs: dict[str, tuple], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per ``evaluate`` for each (engine, inputs) of ``runs``, taken in turns
    (the order rotating every round) so a busy machine weighs on all of them alike."""
    for engine, (cart, context, campaigns) in runs.values():
        engine.evaluate(cart=cart, context=context, campaigns=campaigns)  # warm
    out: dict[str, list[float]] = {label: [] for label in runs}
    labels = list(runs)
    for round_ in range(rounds):
        for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
            engine, (cart, context, campaigns) = runs[label]
            start = CLOCK()
            engine.evaluate(cart=cart, context=context, campaigns=campaigns)
            out[label].append((CLOCK() - start) * 1000)
    return out


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def same_result(old, new, inputs_old, inputs_new) -> bool:
    a = old.evaluate(cart=inputs_old[0], context=inputs_old[1], campaigns=inputs_old[2])
    b = new.evaluate(cart=inputs_new[0], context=inputs_new[1], campaigns=inputs_new[2])
    keep = ("subtotal", "shipping", "discounts", "shipping_discount", "total_discount", "total", "rejected", "hints")
    return all(repr(getattr(a, name)) == repr(getattr(b, name)) for name in keep), len(b.discounts)


def machine_line() -> str:
    """As bench/common.py's ``machine_line``, without the database (this bench has none)."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"cpus (nproc) {nproc}; cpu {cpu}; memory {total_kb / 1024 / 1024:.1f} GiB; python {platform.python_version()}; "
        f"os {platform.platform()}; load average {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--wall", action="store_true", help="time by the wall clock, not this thread's CPU time")
    args = parser.parse_args()
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    sys.path.insert(0, str(ROOT))
    new = importlib.import_module("campaigns.engine")
    old = load_baseline()
    rng = random.Random(13)
    cart20 = plan_cart(20, rng)
    print(machine_line())
    print(
        f"clock: {'wall (perf_counter)' if args.wall else 'thread CPU time (thread_time)'}; {args.rounds} rounds, taken in turns"
    )
    print(f"{'campaigns':>9} {'engine':>8} {'median ms':>10} {'p99 ms':>8} {'applied':>8}")
    for size in (200, 500):
        plans = plan_stacking(size, random.Random(size))
        inputs_old, inputs_new = build(old, cart20, plans), build(new, cart20, plans)
        same, applied = same_result(old, new, inputs_old, inputs_new)
        if not same:
            sys.exit(f"{size} campaigns: the engines disagree on the result")
        times = interleaved({"today": (old, inputs_old), "new": (new, inputs_new)}, args.rounds)
        medians = {label: statistics.median(values) for label, values in times.items()}
        for label, values in times.items():
            print(f"{size:>9} {label:>8} {medians[label]:>10.2f} {p99(values):>8.2f} {applied:>8}")
        print(f"{size:>9} {'ratio':>8} {medians['today'] / medians['new']:>10.1f}x faster (same results)")
    print("cost of one campaign that cannot match (200 such campaigns, minus an empty run), us:")
    for lines in (20, 200):
        cart = plan_cart(lines, random.Random(lines))
        runs = {}
        for label, engine in (("today", old), ("new", new)):
            runs[f"{label} busy"] = (engine, build(engine, cart, plan_unmatched(200)))
            runs[f"{label} idle"] = (engine, build(engine, cart, []))
        times = {label: statistics.median(values) for label, values in interleaved(runs, args.rounds).items()}
        row = [
            f"{label} {(times[f'{label} busy'] - times[f'{label} idle']) * 1000 / 200:.2f}"
            for label in ("today", "new")
        ]
        print(f"  {lines:>3} lines: " + ", ".join(row))


if __name__ == "__main__":
    main()
