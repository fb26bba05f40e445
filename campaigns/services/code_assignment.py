"""Customers' own unique codes: give each listed customer (or each member of a segment) one
free code of a unique-codes campaign, which from then on only they can use (the engine answers
anybody else ``code_not_yours``).

A free code is unused (``uses = 0``) and was never given to anybody (``assigned_at`` null). A
run is idempotent: a customer who holds one of the campaign's codes (used or not) is counted
``already_held`` and given nothing, so a rerun, or a second run over an overlapping audience,
gives nobody a second code. When the free codes run out the rest are counted ``short``: make
more codes (generate or import) and run it again. Codes are not generated here: a campaign
keeps no code settings (prefix, length, charset) to make them with, and a marketer should
choose them.

Each batch of at most ``BATCH`` customers is one transaction. Lock order (the redemptions'
order: customer rows, then codes): the batch's customer rows in primary-key order, then free
codes with ``FOR UPDATE SKIP LOCKED``.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from campaigns.models import Campaign, CodeType, CouponCode, RedemptionType
from campaigns.services.campaigns import invalid
from lms.db import bulk_set
from lms.errors import Conflict, NotFound
from segments.models import CustomerMembership, Segment

BATCH = 1000
PLAIN_CUSTOMER = {"is_staff": False, "is_superuser": False, "role": Role.USER}


@dataclass(frozen=True)
class CodeAssignment:
    assigned: int = 0  # customers given a code by this run
    already_held: int = 0  # customers who held one of the campaign's codes before
    short: int = 0  # customers left without a code: no free code was left for them

    def __add__(self, other: "CodeAssignment") -> "CodeAssignment":
        return CodeAssignment(
            assigned=self.assigned + other.assigned,
            already_held=self.already_held + other.already_held,
            short=self.short + other.short,
        )


def codes_assign(*, campaign: Campaign, customer_ids: Iterable[int]) -> CodeAssignment:
    """Give each listed customer without one of the campaign's codes one free code; one
    transaction per batch, idempotent. An id that is not a customer is 400 before anything."""
    _assignable(campaign.pk)
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        raise invalid("customer_ids", "List at least one customer.")
    known: set[int] = set()
    for chunk in _chunks(ids):
        known.update(User.objects.filter(pk__in=chunk, **PLAIN_CUSTOMER).values_list("pk", flat=True))
    unknown = [pk for pk in ids if pk not in known]
    if unknown:
        shown = ", ".join(str(pk) for pk in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise invalid("customer_ids", f"{len(unknown)} id(s) are not customers: {shown}.")
    total = CodeAssignment()
    for chunk in _chunks(ids):
        total += _assign_batch(campaign.pk, chunk)
    return total


def codes_assign_segment(
    *, campaign: Campaign, segment: Segment, on_progress: Callable[[int], None] | None = None
) -> CodeAssignment:
    """``codes_assign`` for every member of a customer segment (its materialised membership),
    read in batches by customer id: memory stays flat whatever the audience's size.
    ``on_progress`` is told the members of each batch done (a command's progress bar)."""
    if segment.kind != Segment.Kind.USER:
        raise invalid("segment_id", f"Segment {segment.pk} is a product segment; codes go to customer segments.")
    _assignable(campaign.pk)
    total, after = CodeAssignment(), 0
    while True:
        members = CustomerMembership.objects.filter(segment_id=segment.pk, customer_id__gt=after)
        ids = list(members.order_by("customer_id").values_list("customer_id", flat=True)[:BATCH])
        if not ids:
            return total
        total += _assign_batch(campaign.pk, ids)
        after = ids[-1]
        if on_progress is not None:
            on_progress(len(ids))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _assignable(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("not_found", f"No campaign with id {campaign_id}.")
    if campaign.redemption_type != RedemptionType.COUPON_CODE or campaign.code_type != CodeType.UNIQUE:
        raise Conflict(
            "campaign_not_unique_codes",
            f"Campaign {campaign.pk} has no unique codes to give: only a campaign redeemed with a coupon code "
            f"(redemption_type {RedemptionType.COUPON_CODE}) and code_type {CodeType.UNIQUE} has.",
            redemption_type=campaign.redemption_type,
            code_type=campaign.code_type,
        )
    if campaign.archived:
        raise Conflict("campaign_archived", f"Campaign {campaign.pk} is archived; its codes are not given out.")
    return campaign


@transaction.atomic
def _assign_batch(campaign_id: int, customer_ids: list[int]) -> CodeAssignment:
    # Checked again in each batch: a campaign archived or switched to shared codes meanwhile
    # stops the run here (what was given before stays given).
    _assignable(campaign_id)
    # Two runs over the same customers take turns here, so neither can give a customer a
    # second code between the other's "does this customer hold one?" and its update (the
    # partial unique index would refuse it, failing the batch). FOR NO KEY UPDATE: orders
    # and redemptions that only reference these customers go on.
    customers = list(
        User.objects.select_for_update(no_key=True)
        .filter(pk__in=customer_ids, **PLAIN_CUSTOMER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    held = set(
        CouponCode.objects.filter(campaign_id=campaign_id, assigned_to_id__in=customers).values_list(
            "assigned_to_id", flat=True
        )
    )
    needy = [pk for pk in customers if pk not in held]
    free: list[int] = []
    if needy:
        # SKIP LOCKED: a code another run is giving out, or a checkout is redeeming right now,
        # is passed over, never given twice; two runs at once take disjoint codes without
        # waiting for each other. (A code skipped for a checkout that then rolls back stays
        # free for the next run.)
        free = list(
            CouponCode.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, assigned_at__isnull=True, uses=0)
            .order_by("pk")
            .values_list("pk", flat=True)[: len(needy)]
        )
    now = timezone.now()
    # The rows are locked and were free when locked: nobody can have used or taken them since.
    given = zip(free, needy[: len(free)], strict=True)  # the lowest ids first when codes run short
    bulk_set(
        [CouponCode(pk=code_id, assigned_to_id=customer, assigned_at=now) for code_id, customer in given],
        ["assigned_to", "assigned_at"],
    )
    return CodeAssignment(assigned=len(free), already_held=len(held), short=len(needy) - len(free))
