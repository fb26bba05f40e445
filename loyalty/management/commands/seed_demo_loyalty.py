"""``manage.py seed_demo_loyalty``: a demo loyalty program with the demo orders' points (loyalty/demo.py)."""

from django.core.management.base import BaseCommand, CommandParser

from loyalty.demo import demo_loyalty_seed
from loyalty.models import LoyaltyAccount, LoyaltyProgram


class Command(BaseCommand):
    help = "Create the demo loyalty program (LMS Rewards: rules, tiers) and earn the stored orders' points."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any loyalty program exists.")

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and LoyaltyProgram.objects.exists():
            self.stdout.write("A loyalty program exists; nothing to do.")
            return
        program = demo_loyalty_seed()
        members = LoyaltyAccount.objects.filter(program=program).count()
        self.stdout.write(
            self.style.SUCCESS(f"Created {program.name} (id {program.pk}); {members} members earned points.")
        )
