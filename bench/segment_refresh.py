"""Segment refresh benchmark: the compiled criteria beside the best hand-written SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lms_segments_bench \\
        .venv/bin/python bench/segment_refresh.py [--spend 20000] [--runs 3]

The database must hold the demo data at benchmark scale, loaded once with
``manage.py seed_demo --customers 1000000 --orders 10000000`` (its name must contain
"bench": the script creates and deletes a segment there). It times, alternately and
``--runs`` times each (best run counts):

  segment refresh    segments.services.segment_refresh of a three-condition segment:
                     total_spend >= X in 90 days AND days_since_last_login <= 30 AND
                     country = IN (DELETE + INSERT ... SELECT of the compiled query, commit)
  hand-written SQL   the same membership with the best SQL we could write: one grouped
                     pass over the 90 days of orders joined to the users, written into the
                     same membership table the same way

checks both give the same members, and prints seconds, the ratio (aim: <= 1.5x) and the
peak Python memory of the refresh (tracemalloc; aim: <= 256 MB).
"""

import argparse
import os
import platform
import secrets
import subprocess
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HAND_WRITTEN = """
INSERT INTO segments_customermembership (segment_id, customer_id)
SELECT %(segment)s, u.id
FROM accounts_user u
JOIN (
    SELECT customer_id
    FROM commerce_order
    WHERE status IN ('PLACED', 'PAID', 'FULFILLED') AND placed_at >= %(since)s AND placed_at <= %(now)s
    GROUP BY customer_id
    HAVING SUM(total - refunded_total) >= %(spend)s
) spenders ON spenders.customer_id = u.id
WHERE lower(u.country) = 'in' AND u.is_active AND NOT u.is_staff AND u.role = 'USER'
  AND (u.last_login > %(login_after)s OR EXISTS (
      SELECT 1 FROM commerce_interactionevent e
      WHERE e.customer_id = u.id AND e.kind = 'LOGIN' AND e.occurred_at > %(login_after)s AND e.occurred_at <= %(now)s))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--spend", type=int, default=20_000, help="total_spend threshold in rupees (default %(default)s)."
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lms_segments_bench")
    if "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("DATABASE_URL must name a database whose name contains 'bench'.")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # never a key written in the repository
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from commerce.models import Order
    from segments.models import CustomerMembership, Segment
    from segments.services import segment_refresh

    users, orders = User.objects.count(), Order.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(
        f"{users} customers, {orders} orders; cpus {cpu}; memory {memory:.1f} GiB; postgresql {pg}; python {platform.python_version()}"
    )

    criteria = {
        "all": [
            {"field": "total_spend", "op": "gte", "value": args.spend, "window_days": 90},
            {"field": "days_since_last_login", "op": "lte", "value": 30},
            {"field": "country", "op": "eq", "value": "IN"},
        ]
    }
    Segment.objects.filter(name="bench: spenders active in IN").delete()
    segment = Segment.objects.create(
        name="bench: spenders active in IN", kind="USER", type="DYNAMIC", criteria=criteria
    )

    def ours(now) -> tuple[float, int, int]:
        tracemalloc.start()
        started = time.perf_counter()
        count = segment_refresh(segment_id=segment.pk, at=now).member_count
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return elapsed, count, peak

    def hand_written(now) -> tuple[float, int]:
        params = {
            "segment": segment.pk,
            "since": now - timedelta(days=90),
            "now": now,
            "spend": args.spend,
            "login_after": now - timedelta(days=31),
        }
        started = time.perf_counter()
        with transaction.atomic():
            CustomerMembership.objects.filter(segment=segment).delete()
            with connection.cursor() as cursor:
                cursor.execute(HAND_WRITTEN, params)
                count = cursor.rowcount
        return time.perf_counter() - started, count

    best_ours, best_hand, peak_max, counts = float("inf"), float("inf"), 0, set()
    for run in range(args.runs):
        now = timezone.now()  # both answer for the same instant
        seconds, count, peak = ours(now)
        ours_members = set(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))
        best_ours, peak_max = min(best_ours, seconds), max(peak_max, peak)
        hand_seconds, hand_count = hand_written(now)
        hand_members = set(CustomerMembership.objects.filter(segment=segment).values_list("customer_id", flat=True))
        best_hand = min(best_hand, hand_seconds)
        if ours_members != hand_members:
            sys.exit(f"run {run}: different members: ours {len(ours_members)}, hand-written {len(hand_members)}")
        counts.add(count)
        print(f"run {run + 1}: segment refresh {seconds:.2f} s ({count} members), hand-written {hand_seconds:.2f} s")
    segment.delete()

    print()
    print(f"{'method':<20}{'best s':>10}{'members':>10}{'ratio':>8}")
    print(f"{'hand-written SQL':<20}{best_hand:>10.2f}{min(counts):>10}{1:>8.2f}")
    print(f"{'segment refresh':<20}{best_ours:>10.2f}{min(counts):>10}{best_ours / best_hand:>8.2f}")
    print(f"peak Python memory during the refresh: {peak_max / 2**20:.1f} MB")
    print("aims: ratio <= 1.5, peak Python memory <= 256 MB")


if __name__ == "__main__":
    main()
