"""``manage.py seed_demo``: a realistic demo data set for the commerce mirror (see commerce/demo.py)."""

import argparse
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from commerce.demo import DemoDataExists, DemoSpec, default_as_of, seed
from commerce.models import Order, Product
from lms.command import OperatorCommand


def _as_of(value: str) -> datetime:
    """A date (midnight in the project's time zone) or an ISO datetime."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date or ISO datetime: {value!r}") from error
    if len(value) == 10:  # a bare date
        parsed = datetime.combine(parsed.date(), time(), ZoneInfo(settings.TIME_ZONE))
    elif parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    return parsed.astimezone(UTC)


class Command(OperatorCommand):
    progress = True
    help = (
        "Load demo data: a category tree, brands, products, customers, orders over the last 6 months and "
        "interaction events. Deterministic for a --seed and --as-of; scales to millions of orders. Safe to re-run: "
        "on a database with demo data it refuses and changes nothing (--if-empty: does nothing)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = DemoSpec(as_of=datetime.now(UTC))
        parser.add_argument(
            "--seed", type=int, default=defaults.seed, help="Same seed, same data (default %(default)s)."
        )
        parser.add_argument("--products", type=int, default=defaults.products, help="Default %(default)s.")
        parser.add_argument("--customers", type=int, default=defaults.customers, help="Default %(default)s.")
        parser.add_argument("--orders", type=int, default=defaults.orders, help="Default %(default)s.")
        parser.add_argument(
            "--events-per-customer",
            type=float,
            default=defaults.events_per_customer,
            help="Average interaction events per customer, skewed to heavy users (default %(default)s).",
        )
        parser.add_argument(
            "--as-of",
            type=_as_of,
            default=None,
            help="The data ends here: a date (midnight, project time zone) or ISO datetime; default today.",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when products or orders already exist (make run)."
        )

    def handle(self, *args, **options) -> None:
        if options["if_empty"]:
            products, orders = Product.objects.count(), Order.objects.count()
            if products or orders:
                self.stdout.write(
                    f"Demo data not loaded: the database already has {products} products and {orders} orders."
                )
                return
        try:
            spec = DemoSpec(
                seed=options["seed"],
                products=options["products"],
                customers=options["customers"],
                orders=options["orders"],
                events_per_customer=options["events_per_customer"],
                as_of=options["as_of"] or default_as_of(),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        try:
            summary = seed(spec, progress=self.show_progress)
        except DemoDataExists as error:
            if options["if_empty"]:
                self.stdout.write(f"Demo data not loaded: {error}.")
                return
            raise CommandError(
                f"Demo data is already loaded: {error}. Run it on an empty database, or pass --if-empty."
            ) from error
        self.stdout.write(self.style.SUCCESS(f"Seeded {summary}."))
