"""``manage.py assign_codes CAMPAIGN_ID SEGMENT_ID``: give each member of a customer segment their
own unique code of a campaign, from ops (a segment too big to wait for over HTTP)."""

import time

from django.core.management.base import CommandError

from campaigns.models import Campaign
from campaigns.services.code_assignment import codes_assign_segment
from lms.command import OperatorCommand
from lms.errors import DomainError
from segments.models import Segment


class Command(OperatorCommand):
    progress = True
    help = (
        "Give each member of a customer segment who holds none of the campaign's codes one free unique code "
        "(a transaction per 1,000 members; idempotent) and print how many were given one, already held one, "
        "or were left without one because the free codes ran out. Safe to re-run: a member who holds a code "
        "never gets a second; a run after generating more codes serves only those left without one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int, help="The campaign's id (redeemed with UNIQUE coupon codes).")
        parser.add_argument("segment_id", type=int, help="The customer segment's id.")

    def handle(self, *args, campaign_id: int, segment_id: int, **options) -> None:
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign with id {campaign_id}.")
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None:
            raise CommandError(f"No segment with id {segment_id}.")
        started = time.perf_counter()
        try:
            members = segment.customer_memberships.count()
            with self.progress_bar(total=members, desc="members", unit="members") as bar:
                result = codes_assign_segment(campaign=campaign, segment=segment, on_progress=bar.update)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}")
        self.stdout.write(
            f"Campaign {campaign.pk} ({campaign.name}), segment {segment.pk} ({segment.name}) in "
            f"{time.perf_counter() - started:.1f} s: {result.assigned:,} given a code, {result.already_held:,} "
            f"already held one, {result.short:,} left without one."
        )
        if result.short:
            self.stderr.write(
                f"{result.short:,} member(s) got no code: no free code was left. Generate or import more codes "
                "(generate_codes) and run this again; nobody gets a second code."
            )
