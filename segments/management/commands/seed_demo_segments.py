"""``manage.py seed_demo_segments``: demo segments (segments/demo.py) over the demo data."""

from django.core.management.base import CommandParser

from lms.command import OperatorCommand
from segments.demo import demo_segments_seed
from segments.models import Segment


class Command(OperatorCommand):
    help = (
        "Create demo segments (big spenders, new customers, lapsed 60 days, electronics buyers, low stock). "
        "Safe to re-run: only the demo segments missing by name are made."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any segment exists.")

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and Segment.objects.exists():
            self.stdout.write("Segments exist; nothing to do.")
            return
        made = demo_segments_seed()
        names = ", ".join(segment.name for segment in made) or "none (all exist)"
        self.stdout.write(self.style.SUCCESS(f"Created {len(made)} demo segments: {names}."))
