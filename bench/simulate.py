"""Simulation benchmark: a campaign or program replayed over 90 days of the demo orders, beside
a plain read of the same orders in the same run.

    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/simulate.py [--days 90] [--rounds 3] [--orders N]

DATABASE_URL names a PostgreSQL database the script may fill (default
postgres://postgres@127.0.0.1:5432/lms_simulatebench; its name must contain "bench"). When it
has no orders the script loads the demo data (``manage.py seed_demo``, its default size unless
``--orders``), the demo campaigns (``seed_demo_campaigns``) and the demo program
(``seed_demo_loyalty``). Then, for ``--rounds`` rounds, it times:

  baseline      the window's counted orders and their lines read in batches
                (``campaigns.simulation.orders.order_batches``), nothing judged
  each campaign ``campaign_replay``: the same batches, each order judged by the real engine
  the program   ``program_replay``: the same batches through loyalty's earning code
  end to end    ``simulation_start`` of the first campaign (the run row, progress updates)

and prints the medians (ms), orders per second and the ratio of each to the baseline.
"""

import argparse
import datetime as dt
import statistics
import time

from common import configure_environment, django_ready, machine_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=None, help="Demo orders to seed when the database is empty.")
    args = parser.parse_args()
    url = configure_environment(
        "postgres://postgres@127.0.0.1:5432/lms_simulatebench", SIMULATION_INLINE_MAX_ORDERS="100000000"
    )
    name = django_ready(url)
    from django.core.management import call_command
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignKind
    from campaigns.simulation.orders import order_batches
    from campaigns.simulation.replay import campaign_replay
    from campaigns.simulation.runs import simulation_start
    from commerce.models import Order
    from loyalty.models import LoyaltyProgram
    from loyalty.simulation import program_replay

    if not Order.objects.exists():
        call_command("seed_demo", *(["--orders", str(args.orders)] if args.orders else []), "--no-progress")
    if not Campaign.objects.exclude(kind=CampaignKind.LOYALTY_PROGRAM).exists():
        call_command("seed_demo_campaigns")
    if not LoyaltyProgram.objects.exists():
        call_command("seed_demo_loyalty")
    until = timezone.now()
    since = until - dt.timedelta(days=args.days)
    campaigns = list(Campaign.objects.exclude(kind=CampaignKind.LOYALTY_PROGRAM).order_by("pk"))
    program = LoyaltyProgram.objects.order_by("pk").first()
    orders = sum(len(batch) for batch in order_batches(since, until))

    def baseline() -> None:
        for batch in order_batches(since, until):
            for order in batch:
                order.lines  # noqa: B018 - touched, as a replay would

    work = {"baseline (read only)": baseline}
    for campaign in campaigns:
        label = f"campaign {campaign.pk} {campaign.name[:28]}"
        work[label] = lambda c=campaign: campaign_replay(c, since=since, until=until, progress=lambda done: None)
    if program is not None:
        work[f"program {program.pk} {program.name[:29]}"] = lambda: program_replay(
            program, since=since, until=until, progress=lambda done: None
        )
    work["end to end (run row, progress)"] = lambda: simulation_start(
        campaign=campaigns[0], days=args.days, user_id=None
    )

    times: dict[str, list[float]] = {label: [] for label in work}
    for _ in range(args.rounds):
        for label, run in work.items():
            started = time.perf_counter()
            run()
            times[label].append((time.perf_counter() - started) * 1000)
    print(machine_line(name))
    print(f"{orders} counted orders in the last {args.days} days; median of {args.rounds} rounds")
    base = statistics.median(times["baseline (read only)"])
    print(f"{'':44} {'ms':>9} {'orders/s':>10} {'x baseline':>11}")
    for label, measured in times.items():
        ms = statistics.median(measured)
        print(f"{label:44} {ms:9.1f} {orders / (ms / 1000):10.0f} {ms / base:11.2f}")


if __name__ == "__main__":
    main()
