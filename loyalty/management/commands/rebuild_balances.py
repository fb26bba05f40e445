import sys

from lms.command import OperatorCommand
from loyalty.models import LoyaltyAccount
from loyalty.services.upkeep import balances_check


class Command(OperatorCommand):
    progress = True
    help = (
        "Verify every loyalty balance against its transactions (and its open lots), and that no pending "
        "points were taken. With --check report mismatches and exit 1 if any; without, also set each "
        "such balance to its ledger's sum. Safe to re-run: a matching balance is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Report only; change nothing.")

    def handle(self, *args, check: bool, **options):
        with self.progress_bar(total=LoyaltyAccount.objects.count(), desc="accounts", unit="accounts") as bar:
            mismatches = balances_check(fix=not check, on_progress=bar.update)
        for m in mismatches:
            self.stdout.write(
                f"account {m.account_id} (customer {m.customer_id}, program {m.program_id}): "
                f"balance {m.balance}, transactions sum {m.ledger}, open lots hold {m.open_lots}"
                + (f", {m.pending_taken} pending points taken" if m.pending_taken else "")
            )
        if not mismatches:
            self.stdout.write("every balance matches its transactions")
            return
        if check:
            self.stderr.write(f"{len(mismatches)} mismatched accounts")
            sys.exit(1)
        self.stdout.write(f"{len(mismatches)} balances set to their transactions' sum")
