"""Coupon code generation benchmark: ``codes_generate`` beside a plain bulk insert.

    .venv/bin/python bench/generate_codes.py [--count 100000] [--runs 3] [--existing 0]

DATABASE_URL names a PostgreSQL database the script owns (default
postgres://postgres@127.0.0.1:5432/lms_codes_bench; its name must contain "bench", because the
script truncates the coupon code table). It creates and migrates the database when missing,
makes one coupon campaign with unique codes, then times, alternately and ``--runs`` times each
(the best run counts), each on a code table holding only ``--existing`` codes of another
campaign:

  plain insert     COPY of N distinct codes (drawn before timing) into campaigns_couponcode,
                   in one transaction: the floor for writing those rows and their indexes
  codes_generate   campaigns.services.codes.codes_generate(count=N): checks, the density
                   count, drawing with secrets, INSERT ... ON CONFLICT DO NOTHING RETURNING,
                   the top-up, commit

and prints seconds, codes/s and the ratio. The aim (issue: coupon codes) is 100,000 codes in
<= 6 s. Run it from the repository root; see bench/README.md for recorded figures.
"""

import argparse
import time

from common import configure_environment, django_ready, machine_line

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lms_codes_bench"
AIM_SECONDS_PER_100K = 6.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="Codes per run (default %(default)s).")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each method; the best counts.")
    parser.add_argument(
        "--existing", type=int, default=0, help="Codes of another campaign in the table before each run."
    )
    return parser.parse_args()


def campaigns():
    """The measured campaign (unique codes) and another one whose codes fill the table."""
    from django.utils import timezone

    from campaigns.models import Campaign

    def make(name: str) -> Campaign:
        campaign, _ = Campaign.objects.get_or_create(
            name=name,
            defaults={"redemption_type": "COUPON_CODE", "code_type": "UNIQUE", "starts_at": timezone.now()},
        )
        return campaign

    return make("bench: generated codes"), make("bench: existing codes")


def reset(other, existing: int) -> None:
    """An empty code table, then ``existing`` codes of the other campaign, vacuumed and analysed."""
    from django.db import connection

    from campaigns.services.codes import codes_generate

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE campaigns_couponcode RESTART IDENTITY CASCADE")
    if existing:
        codes_generate(campaign=other, count=existing, length=10, batch="bench-existing")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE campaigns_couponcode")


def run_plain(campaign, codes: list[str]) -> int:
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(
            "COPY campaigns_couponcode (campaign_id, code, max_uses, uses, batch, created_at) FROM STDIN"
        ) as copy:
            for code in codes:
                copy.write_row((campaign.pk, code, 1, 0, "bench-plain", now))
    return len(codes)


def run_generate(campaign, count: int) -> int:
    from campaigns.services.codes import codes_generate

    return codes_generate(campaign=campaign, count=count).count


def main() -> None:
    args = parse_args()
    name = django_ready(configure_environment(DEFAULT_URL))
    from campaigns.services.codes import DEFAULT_CHARSET, _random_strings

    print(machine_line(name))
    campaign, other = campaigns()

    best: dict[str, float] = {}
    for run in range(1, args.runs + 1):
        # The plain insert writes codes of the shape codes_generate makes (8 of the 31 characters).
        codes = list(dict.fromkeys(_random_strings(DEFAULT_CHARSET, 8, args.count + 100)))[: args.count]
        for label, function, argument in (
            ("plain insert (COPY, precomputed codes)", run_plain, codes),
            ("codes_generate", run_generate, args.count),
        ):
            reset(other, args.existing)
            started = time.perf_counter()
            count = function(campaign, argument)
            seconds = time.perf_counter() - started
            assert count == args.count, (label, count)
            print(f"run {run}: {label}: {seconds:.2f} s")
            best[label] = min(best.get(label, seconds), seconds)

    plain = best["plain insert (COPY, precomputed codes)"]
    print(f"\n{args.count:,} codes, {args.existing:,} codes already stored; best of {args.runs}")
    print(f"{'method':<42} {'seconds':>8} {'codes/s':>9} {'vs plain':>9}")
    for label, seconds in best.items():
        print(f"{label:<42} {seconds:>8.2f} {args.count / seconds:>9.0f} {seconds / plain:>8.2f}x")
    aim = AIM_SECONDS_PER_100K * args.count / 100_000
    verdict = "met" if best["codes_generate"] <= aim else "NOT met"
    print(f"\naim: {args.count:,} codes in <= {aim:.1f} s: {verdict}")


if __name__ == "__main__":
    main()
