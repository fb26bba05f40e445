"""Loyalty criteria this app adds to the segments catalogue (registered in ``apps.ready``):
"members of the Gold Club", "customers holding over 5,000 points", "Gold-tier customers",
"who earned 1,000 points in the last 30 days"."""

from django.db.models import Exists, OuterRef, Q, Sum

from loyalty.models import LoyaltyAccount, PointsTransaction, TransactionKind
from segments.builders import aggregate_compare
from segments.criteria import NUMBER_OPS, SET_OPS, TEXT_OPS, USER, Context, Field, register_field


def _accounts(ctx: Context):
    return LoyaltyAccount.objects.all()


def _earned(ctx: Context):
    rows = PointsTransaction.objects.filter(kind=TransactionKind.EARN, occurred_at__lte=ctx.now)
    return rows.filter(occurred_at__gte=ctx.since) if ctx.since else rows


def _member(ctx: Context, op: str, ids: list[int]) -> Q:
    q = Q(Exists(LoyaltyAccount.objects.filter(customer=OuterRef("pk"), program_id__in=ids)))
    return q if op == "any_of" else ~q


def _tier(ctx: Context, op: str, value) -> Q:
    names = [value] if isinstance(value, str) else list(value)
    q = Q()
    for name in names:
        q |= Q(tier__name__iexact=str(name).strip())
    found = Q(Exists(LoyaltyAccount.objects.filter(q, customer=OuterRef("pk"))))
    return found if op in ("eq", "in") else ~found


FIELDS = [
    Field(
        "loyalty_member", USER, "loyalty", "Member of a loyalty program", "id_list", SET_OPS,
        build=_member, help="Loyalty program ids (the customer has an account in one of them).",
    ),
    Field(
        "points_balance", USER, "loyalty", "Points balance (all programs)", "integer", NUMBER_OPS,
        unit="points", build=aggregate_compare(_accounts, "customer", Sum("balance")),
        help="Points held now, summed over the customer's programs; 0 for non-members.",
    ),
    Field(
        "loyalty_tier", USER, "loyalty", "Loyalty tier", "text", TEXT_OPS, build=_tier,
        help="The tier's name in any program (e.g. Gold); not case-sensitive.",
    ),
    Field(
        "points_earned", USER, "loyalty", "Points earned (in the last N days)", "integer", NUMBER_OPS,
        unit="points", window="optional", build=aggregate_compare(_earned, "account__customer", Sum("points")),
        help="Earned from orders and logins, before reversals; lifetime without window_days.",
    ),
]  # fmt: skip


def register() -> None:
    for definition in FIELDS:
        register_field(definition)
