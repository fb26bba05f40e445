"""``manage.py prune_records [--dry-run] [--batch-size N]``: what the nightly records-prune beat
job does, now (lms/retention.py)."""

import argparse

from django.conf import settings

from lms.command import OperatorCommand
from lms.retention import MAX_BATCH_SIZE, records_prune


def _batch_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_BATCH_SIZE}, not {value!r}")
    return size


class Command(OperatorCommand):
    help = (
        "Delete login events, OTP rows, expired tokens, final notification deliveries and interaction "
        "events older than their RETENTION_*_DAYS (0 keeps them forever), in batches of short transactions. "
        "Safe to re-run: an interrupted run continues where it stopped; nothing old, nothing deleted."
    )
    progress = True

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument(
            "--batch-size",
            type=_batch_size,
            default=settings.RETENTION_BATCH_SIZE,
            help=f"Rows per transaction (default %(default)s, at most {MAX_BATCH_SIZE:,}).",
        )

    def handle(self, *args, dry_run: bool, batch_size: int, **options) -> None:
        results = records_prune(batch_size=batch_size, dry_run=dry_run, progress=self.show_progress)
        verb = "would delete" if dry_run else "deleted"
        for result in results:
            if result.kept_forever:
                age = "kept forever (0 days)"
            else:
                age = "expired" if result.days is None else f"older than {result.days} days"
            self.stdout.write(f"{result.name}: {verb} {result.deleted:,} {result.label} ({age})")
