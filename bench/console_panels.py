"""Console panels benchmark: each dashboard and report panel's query on a large data set,
beside a plain ``SELECT count(*) FROM commerce_order`` measured in the same run.

    .venv/bin/python bench/console_panels.py --build --customers 1000000 --orders 10000000
    .venv/bin/python bench/console_panels.py            # time again on the data already built

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/lms_reports_bench (its name must
contain "bench": ``--build`` truncates the tables it fills). ``--build`` writes, with
set-based SQL (generate_series), ``--customers`` customers; ``--orders`` orders over the last
365 days (about 1 in 6 cancelled or refunded, some partly refunded); a checkout with a
redemption of one of 50 campaigns for 1 order in 5; one loyalty program with an account per
customer, an EARN ledger row per order and REDEEM / EXPIRE rows for some; a delivery per
4 orders; 20 customer segments; refusal counts for every campaign, day and five reasons.
Then it runs the daily revenue rollup (``campaigns.revenue_days``) from scratch and once
more, timing both, and times each panel (best of ``--runs``, default 3; a first run warms the cache) and
prints milliseconds and the ratio to the count. The issue's aim: every panel under 1 s.
"""

import argparse
import datetime as dt
import time

from common import configure_environment, django_ready, machine

CAMPAIGNS = 50
DAYS = 365

BUILD = [
    """TRUNCATE campaigns_refusalcount, campaigns_redemption, campaigns_orderredemption,
       loyalty_pointstransaction, loyalty_loyaltyaccount, notifications_delivery, notifications_message,
       segments_customermembership, segments_segment, commerce_orderstatuschange, commerce_orderline,
       commerce_order CASCADE""",
    "DELETE FROM accounts_user WHERE email LIKE '%@bench.example'",
    """INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name, role, phone, country,
         state, city, marketing_email, marketing_sms, marketing_push, is_active, is_staff, date_joined, updated_at)
       SELECT '!', false, 'b' || g || '@bench.example', '', '', 'USER', '', 'IN', '', '', true, false, false,
         true, false, now(), now()
       FROM generate_series(1, %(customers)s) g""",
    """CREATE TEMP TABLE bench_people AS
       SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM accounts_user WHERE email LIKE '%%@bench.example'""",
    "CREATE INDEX ON bench_people (n)",
    """INSERT INTO commerce_order (external_id, placed_at, status, currency, subtotal, shipping, discount_total,
         tax_total, total, refunded_total, shipping_country, shipping_state, shipping_city, payment_method,
         coupon_codes, has_unknown_skus, request_hash, created_at, updated_at, customer_id)
       SELECT 'B' || g, now() - (g %% 365) * interval '1 day' - (g %% 86400) * interval '1 second',
         (ARRAY['PAID','FULFILLED','FULFILLED','PLACED','CANCELLED','REFUNDED'])[1 + g %% 6], 'INR',
         t.total, 0, 0, 0, t.total, CASE WHEN g %% 13 = 0 THEN round(t.total / 4, 2) ELSE 0 END,
         'IN', '', '', '', '[]', false, '', now(), now(), p.id
       FROM generate_series(1, %(orders)s) g
       CROSS JOIN LATERAL (SELECT round((100 + (g::bigint * 7919 %% 490000) / 100.0)::numeric, 2) AS total) t
       JOIN bench_people p ON p.n = g %% %(customers)s""",
    """UPDATE commerce_order SET refunded_total = total WHERE status = 'REFUNDED'""",
    """INSERT INTO campaigns_orderredemption (order_id, status, currency, subtotal, shipping, total_discount,
         shipping_discount, total, evaluated_at, request_hash, response, created_at, void_reason, customer_id)
       SELECT external_id, CASE WHEN status IN ('CANCELLED', 'REFUNDED') THEN 'VOIDED' ELSE 'REDEEMED' END, 'INR',
         subtotal, 0, round(total / 10, 2), 0, total - round(total / 10, 2), placed_at, '', '{}', placed_at, '',
         customer_id
       FROM commerce_order WHERE id %% 5 = 0""",
    """INSERT INTO campaigns_redemption (order_id, code, amount, shipping_amount, lines, status, redeemed_at,
         campaign_id, customer_id, order_redemption_id)
       SELECT r.order_id, '', r.total_discount, 0, '[]', r.status, r.evaluated_at,
         (SELECT min(id) FROM campaigns_campaign WHERE name LIKE 'Bench %%' AND kind = 'DISCOUNT_COUPON') + r.id %% %(campaigns)s,
         r.customer_id, r.id
       FROM campaigns_orderredemption r""",
    """INSERT INTO loyalty_loyaltyaccount (balance, lifetime_earned, streak_days, created_at, updated_at,
         customer_id, program_id)
       SELECT 0, 0, 0, now(), now(), id, %(program)s FROM bench_people""",
    """INSERT INTO loyalty_pointstransaction (kind, points, balance_after, remaining, source, reference, detail,
         reason, idempotency_key, occurred_at, created_at, account_id, held)
       SELECT 'EARN', floor(o.total)::bigint, floor(o.total)::bigint, floor(o.total)::bigint, 'ORDER',
         o.external_id, '{}', '', 'order:' || o.external_id, o.placed_at, now(), a.id, false
       FROM commerce_order o JOIN loyalty_loyaltyaccount a ON a.customer_id = o.customer_id
       WHERE o.status NOT IN ('CANCELLED', 'REFUNDED')""",
    """INSERT INTO loyalty_pointstransaction (kind, points, balance_after, remaining, source, reference, detail,
         reason, idempotency_key, occurred_at, created_at, account_id, held)
       SELECT CASE WHEN id %% 2 = 0 THEN 'REDEEM' ELSE 'EXPIRE' END, -30, 0, NULL,
         CASE WHEN id %% 2 = 0 THEN 'REDEMPTION' ELSE 'EXPIRY' END, reference, '{}', '', 'spend:' || id,
         occurred_at + interval '1 day', now(), account_id, false
       FROM loyalty_pointstransaction WHERE id %% 7 = 0""",
    """UPDATE loyalty_loyaltyaccount a SET balance = s.points, lifetime_earned = s.points
       FROM (SELECT account_id, greatest(sum(points), 0) AS points FROM loyalty_pointstransaction
             GROUP BY account_id) s WHERE s.account_id = a.id""",
    """INSERT INTO notifications_message (key, source_type, source_id, purpose, title, body, image_url, cta_text,
         cta_url, channels, audience, context, status, cursor, recipients, created_at)
       SELECT 'bench:' || g, 'promotion', g, 'MARKETING', 'Sale', '', '', '', '', '["EMAIL"]', '{}', '{}', 'SENT',
         0, 0, now() FROM generate_series(0, %(orders)s / 4 / %(customers)s + 1) g""",
    """INSERT INTO notifications_delivery (channel, status, reason, context, address, title, body, attempts,
         last_error, provider_message_id, available_at, created_at, read_at, clicked_at, recipient_id, message_id)
       SELECT CASE WHEN g %% 3 = 0 THEN 'IN_APP' ELSE 'EMAIL' END,
         (ARRAY['SENT','SENT','READ','CLICKED','FAILED','SKIPPED'])[1 + g %% 6], '', '{}', '', '', '', 1, '', '',
         now(), now() - (g %% 365) * interval '1 day',
         CASE WHEN g %% 6 IN (2, 3) THEN now() END, CASE WHEN g %% 6 = 3 THEN now() END,
         p.id, (SELECT min(id) FROM notifications_message WHERE key LIKE 'bench:%%') + g / %(customers)s
       FROM generate_series(0, %(orders)s / 4 - 1) g JOIN bench_people p ON p.n = g %% %(customers)s""",
    """INSERT INTO segments_segment (name, description, kind, type, criteria, member_count, status,
         refresh_error, created_at, updated_at)
       SELECT 'Bench segment ' || g, '', 'USER', 'STATIC', NULL, g * 997 %% %(customers)s, 'READY', '', now(), now()
       FROM generate_series(1, 20) g""",
    """INSERT INTO campaigns_refusalcount (campaign_id, day, reason, count)
       SELECT c.id, current_date - d, r, (c.id + d) %% 500
       FROM campaigns_campaign c, generate_series(0, 364) d,
         unnest(ARRAY['min_cart','geo','segment','usage_limit','no_matching_items']) r
       WHERE c.name LIKE 'Bench %%' AND c.kind = 'DISCOUNT_COUPON'""",
    "ANALYZE",
]


def build(customers: int, orders: int) -> None:
    from django.db import connection, transaction

    from campaigns.models import Campaign, CampaignKind
    from loyalty.services.programs import program_create

    with connection.cursor() as cursor:
        for statement in BUILD[:2]:  # the old rows first: they protect the old campaigns
            cursor.execute(statement)
    Campaign.objects.filter(name__startswith="Bench ", kind=CampaignKind.DISCOUNT_COUPON).delete()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS + 1)
    Campaign.objects.bulk_create(
        Campaign(name=f"Bench {n:02d}", status="ACTIVE", kind=CampaignKind.DISCOUNT_COUPON, starts_at=start)
        for n in range(CAMPAIGNS)
    )
    program = Campaign.objects.filter(name="Bench rewards", kind=CampaignKind.LOYALTY_PROGRAM).first()
    if program is None:
        program = program_create(
            name="Bench rewards", starts_at=start, status="ACTIVE", timezone="Asia/Kolkata",
            rules=[{"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": 1}], tiers=[], settings={},
        )  # fmt: skip
    params = {"customers": customers, "orders": orders, "campaigns": CAMPAIGNS, "program": program.pk}
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in BUILD[2:-1]:
            began = time.perf_counter()
            cursor.execute(statement, params)
            print(f"  {time.perf_counter() - began:7.1f} s  {' '.join(statement.split())[:70]}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(BUILD[-1])


def best(call, runs: int) -> float:
    call()  # warm
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return min(times)


def rollup_time(*, incremental: bool) -> float:
    """Seconds for ``revenue_days_rollup``: from an empty table (every closed day), or a rerun
    (what the beat does every few minutes: the days changed since)."""
    from campaigns.models import RevenueDay
    from campaigns.revenue_days import revenue_days_rollup

    if not incremental:
        RevenueDay.objects.all().delete()
    began = time.perf_counter()
    revenue_days_rollup()
    return time.perf_counter() - began


def panels() -> list[tuple[str, object]]:
    from campaigns import reports as c
    from campaigns.models import Campaign
    from console.dashboard import dashboard_figures
    from lms.reports import DateRange
    from loyalty import reports as lr
    from notifications.reports import delivery_rates
    from segments.reports import segment_sizes

    d30, d90 = DateRange.last_days(30), DateRange.last_days(90)
    now = dt.datetime.now(dt.UTC)
    campaign = Campaign.objects.filter(name="Bench 00").first()
    program = Campaign.objects.filter(name="Bench rewards").first()
    return [
        ("live campaigns and programs", lambda: c.live_counts_by_kind(at=now)),
        ("redemptions today / 7 / 30 days", lambda: c.redemption_windows()),
        ("revenue with vs without, 30 days", lambda: c.revenue_split(span=d30)),
        ("revenue with vs without, 90 days", lambda: c.revenue_split(span=d90)),
        ("redemptions per day, 30 days", lambda: c.redemptions_daily(span=d30)),
        ("top campaigns by redemptions, 30 d", lambda: c.top_campaigns(span=d30, by="redemptions")),
        ("top campaigns by cost, 30 days", lambda: c.top_campaigns(span=d30, by="cost")),
        ("points issued/redeemed/expired, 30 d", lambda: lr.points_flow(since=d30.since, until=d30.until)),
        ("outstanding points and liability", lambda: lr.outstanding()),
        ("segment sizes", lambda: segment_sizes()),
        ("message rates, 30 days", lambda: delivery_rates(since=d30.since, until=d30.until)),
        ("the whole dashboard, 30 days", lambda: dashboard_figures(d30)),
        ("campaign: figures, 30 days", lambda: c.campaign_figures(campaign=campaign, span=d30)),
        ("campaign: per day, 30 days", lambda: c.redemptions_daily(span=d30, campaign_id=campaign.pk)),
        ("campaign: refusal reasons, 90 days", lambda: c.refusal_reasons(campaign=campaign, span=d90)),
        ("program: points flow, 30 days", lambda: lr.points_flow(since=d30.since, until=d30.until, program=program)),
        (
            "program: points by rule, 30 days",
            lambda: lr.points_by_rule(program=program, since=d30.since, until=d30.until),
        ),
        ("program: tier mix", lambda: lr.tier_mix(program=program)),
        ("program: members and liability", lambda: lr.outstanding(program=program)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = configure_environment("postgres://postgres@127.0.0.1:5432/lms_reports_bench")
    print(f"database {django_ready(url)}")
    if args.build:
        began = time.perf_counter()
        build(args.customers, args.orders)
        print(f"built in {time.perf_counter() - began:.0f} s")

    from django.db import connection

    from campaigns.models import Redemption
    from loyalty.models import PointsTransaction
    from notifications.models import Delivery

    def count_orders():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM commerce_order")
            return cursor.fetchone()[0]

    sizes = {
        "orders": count_orders(), "redemptions": Redemption.objects.count(),
        "ledger rows": PointsTransaction.objects.count(), "deliveries": Delivery.objects.count(),
    }  # fmt: skip
    print("data: " + ", ".join(f"{name} {n:,}" for name, n in sizes.items()))
    for name, value in machine().items():
        print(f"{name}: {value}")
    rollup_first = rollup_time(incremental=False)
    rollup_next = rollup_time(incremental=True)
    print(f"revenue rollup: first run (every closed day) {rollup_first:.1f} s, next run {rollup_next * 1000:.0f} ms")
    baseline = best(count_orders, args.runs)
    print(f"\n{'panel':40} {'ms':>9} {'x count(*)':>11}")
    print(f"{'baseline: SELECT count(*) FROM orders':40} {baseline * 1000:9.1f} {1:11.2f}")
    for name, call in panels():
        seconds = best(call, args.runs)
        flag = "" if seconds < 1 else "  over 1 s"
        print(f"{name:40} {seconds * 1000:9.1f} {seconds / baseline:11.2f}{flag}", flush=True)


if __name__ == "__main__":
    main()
