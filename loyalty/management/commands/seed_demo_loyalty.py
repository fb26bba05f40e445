"""``manage.py seed_demo_loyalty``: a demo loyalty program with the demo orders' points (loyalty/demo.py)."""

from django.core.management.base import CommandParser

from lms.command import OperatorCommand
from loyalty.demo import DEMO_PROGRAM_NAME, demo_loyalty_seed
from loyalty.models import LoyaltyAccount, LoyaltyProgram


class Command(OperatorCommand):
    help = (
        "Create the demo loyalty program (LMS Rewards: rules, tiers) and earn the stored orders' points. "
        "Safe to re-run: once the demo program exists it does nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any loyalty program exists.")

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and LoyaltyProgram.objects.exists():
            self.stdout.write("A loyalty program exists; nothing to do.")
            return
        existing = LoyaltyProgram.objects.filter(name=DEMO_PROGRAM_NAME).order_by("pk").first()
        if existing is not None:
            self.stdout.write(f"The demo program {existing.name} exists (id {existing.pk}); nothing to do.")
            return
        program = demo_loyalty_seed()
        members = LoyaltyAccount.objects.filter(program=program).count()
        self.stdout.write(
            self.style.SUCCESS(f"Created {program.name} (id {program.pk}); {members} members earned points.")
        )
