from django.core.management.base import CommandError
from django.utils.dateparse import parse_datetime

from lms.command import OperatorCommand
from loyalty.services.upkeep import points_expire


class Command(OperatorCommand):
    progress = True
    help = (
        "Expire earned points past their expiry date (one EXPIRE transaction per lot). Safe to re-run: "
        "an expired lot is never expired twice, and an interrupted run finishes on the next."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would expire; write nothing.")
        parser.add_argument("--now", help="Judge expiry at this ISO time instead of now (e.g. to catch up).")
        parser.add_argument("--batch", type=int, default=500, help="Accounts per transaction (default 500).")

    def handle(self, *args, dry_run: bool, now: str | None, batch: int, **options):
        at = None
        if now:
            try:
                at = parse_datetime(now)
            except ValueError:  # well formed but impossible, such as month 13
                at = None
            if at is None or at.tzinfo is None:
                raise CommandError("--now takes an ISO time with its offset, such as 2026-12-01T00:00:00+00:00.")
        if batch < 1:
            raise CommandError("--batch is 1 or more.")
        with self.progress_bar(desc="accounts", unit="accounts") as bar:
            report = points_expire(now=at, batch=batch, dry_run=dry_run, on_progress=bar.update)
        verb = "would expire" if dry_run else "expired"
        self.stdout.write(f"{verb} {report.points} points in {report.lots} lots of {report.accounts} accounts")
