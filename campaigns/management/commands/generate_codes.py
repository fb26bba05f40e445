"""``manage.py generate_codes CAMPAIGN_ID COUNT``: random unique codes for a campaign, from ops."""

import os
import time

from django.core.management.base import CommandError

from campaigns.models import Campaign
from campaigns.services.codes import DEFAULT_CHARSET, EXPORT_COLUMNS, MAX_GENERATE, codes_for_export, codes_generate
from lms.api.csv import csv_lines
from lms.command import OperatorCommand
from lms.errors import DomainError


class Command(OperatorCommand):
    progress = True
    help = (
        f"Generate COUNT (at most {MAX_GENERATE:,}) random unique codes for a coupon campaign with code_type "
        "UNIQUE, in one transaction, and print a summary; --output writes the batch's codes as CSV. Each run "
        "adds COUNT new codes in a new batch: re-running is harmless but not a no-op (a failed run adds none)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int, help="The campaign's id.")
        parser.add_argument("count", type=int, help="How many new codes.")
        parser.add_argument("--prefix", default="", help="Before the random part (letters, digits, '-', '_').")
        parser.add_argument("--suffix", default="", help="After the random part.")
        parser.add_argument("--length", type=int, default=8, help="Random characters per code (default 8).")
        parser.add_argument("--charset", default=DEFAULT_CHARSET, help="Characters to draw from (default %(default)s).")
        parser.add_argument("--max-uses", type=int, default=1, help="Uses per code (default 1).")
        parser.add_argument("--batch", default="", help="The batch name (default gen-<UTC time>).")
        parser.add_argument(
            "--output", metavar="FILE.csv", help="Write every code of the batch (code,max_uses,uses,batch,created_at)."
        )

    def handle(self, *args, campaign_id: int, count: int, output: str | None, **options) -> None:
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign with id {campaign_id}.")
        # The file is written beside its destination and renamed at the end: a path that cannot be
        # written fails before any code is made, and an existing file is never left half-written.
        partial = f"{output}.part" if output else None
        try:
            handle = open(partial, "w", encoding="utf-8", newline="") if partial else None
        except OSError as exc:
            raise CommandError(f"Cannot write {partial}: {exc.strerror}.")
        try:
            started = time.perf_counter()
            try:
                result = codes_generate(
                    campaign=campaign,
                    count=count,
                    prefix=options["prefix"],
                    suffix=options["suffix"],
                    length=options["length"],
                    charset=options["charset"],
                    max_uses=options["max_uses"],
                    batch=options["batch"],
                )
            except DomainError as exc:
                raise CommandError(f"{exc.code}: {exc.message}")
            seconds = time.perf_counter() - started
            self.stdout.write(
                f"Generated {result.count:,} codes for campaign {campaign.pk} ({campaign.name}) in batch "
                f"{result.batch} in {seconds:.1f} s; sample: {', '.join(result.sample[:3])}"
            )
            if handle:
                written = self._write(handle, campaign, result.batch, result.count)
                os.replace(partial, output)
                self.stdout.write(f"Wrote {written:,} codes of batch {result.batch} to {output}.")
        finally:
            if handle:
                handle.close()
                if os.path.exists(partial):
                    os.unlink(partial)

    def _write(self, handle, campaign: Campaign, batch: str, total: int) -> int:
        lines = csv_lines(EXPORT_COLUMNS, codes_for_export(campaign, batch=batch))
        handle.write(next(lines))
        written = 0
        for line in self.progress_bar(lines, total=total, desc="codes", unit="codes"):
            handle.write(line)
            written += 1
        handle.flush()
        return written
