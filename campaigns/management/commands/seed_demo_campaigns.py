"""``manage.py seed_demo_campaigns``: demo discount and free-shipping campaigns (campaigns/demo.py)."""

from django.core.management.base import CommandParser

from campaigns.demo import demo_campaigns_seed
from campaigns.models import Campaign
from lms.command import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create demo campaigns (a DIWALI20 coupon, free shipping, welcome, bulk, BOGO, category, unique codes). "
        "Safe to re-run: with the demo codes taken it refuses (code_taken) and creates nothing; --if-empty does "
        "nothing when any campaign exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any campaign exists.")

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and Campaign.objects.exists():
            self.stdout.write("Campaigns exist; nothing to do.")
            return
        made = demo_campaigns_seed()
        self.stdout.write(self.style.SUCCESS(f"Created {len(made)} demo campaigns: {', '.join(c.name for c in made)}."))
