"""``manage.py refresh_segments [--id ID ...]``: recompute memberships now, in this process."""

from django.core.management.base import CommandError

from lms.command import OperatorCommand
from segments.models import Segment
from segments.services import segment_refresh


class Command(OperatorCommand):
    help = (
        "Refresh the membership of every segment (or the given ones) now, with a progress bar. Safe to re-run: "
        "each refresh recomputes the membership from the data; one failing segment does not stop the others."
    )
    progress = True

    def add_arguments(self, parser) -> None:
        parser.add_argument("--id", type=int, action="append", dest="ids", help="A segment id; repeat for several.")

    def handle(self, *args, ids: list[int] | None, **options) -> None:
        segments = Segment.objects.order_by("pk")
        if ids:
            segments = segments.filter(pk__in=ids)
            missing = sorted(set(ids) - set(segments.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"No segment with id {', '.join(map(str, missing))}.")
        failed = 0
        for segment in self.progress_bar(list(segments), desc="segments"):
            try:
                refreshed = segment_refresh(segment_id=segment.pk)
                self.stdout.write(f"{segment.pk} {segment.name}: {refreshed.member_count} members")
            except Exception as exc:  # one bad segment does not stop the others
                failed += 1
                self.stderr.write(f"{segment.pk} {segment.name}: FAILED: {exc}")
        if failed:
            raise CommandError(f"{failed} segment(s) failed to refresh.")
