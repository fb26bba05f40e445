"""Reads: a segment's query, membership checks, members, previews."""

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import Role, User
from commerce.models import Brand, Category, Product
from segments.criteria import PRODUCT, USER, criteria_compile, criteria_validate
from segments.models import CustomerMembership, ProductMembership, Segment

SAMPLE_SIZE = 10


def kind_queryset(kind: str) -> QuerySet:
    """What a segment may hold: active customer accounts (not staff or administrators), or products."""
    if kind == USER:
        return User.objects.filter(is_active=True, is_staff=False, role=Role.USER)
    return Product.objects.all()


def segment_queryset(kind: str, criteria: dict[str, Any], *, now: dt.datetime | None = None) -> QuerySet:
    """Everyone (or every product) the stored criteria select, as ONE query, at ``now``."""
    tree = criteria_validate(kind, criteria)  # stored as JSON: back to decimals and dates
    return kind_queryset(kind).filter(criteria_compile(kind, tree, now=now or timezone.now()))


def segment_members(segment: Segment) -> QuerySet:
    """The materialised members, ordered by id (what a refresh last stored)."""
    if segment.kind == Segment.Kind.USER:
        memberships = CustomerMembership.objects.filter(segment=segment, customer=OuterRef("pk"))
        return User.objects.filter(Exists(memberships)).order_by("pk")
    memberships = ProductMembership.objects.filter(segment=segment, product=OuterRef("pk"))
    return Product.objects.filter(Exists(memberships)).order_by("pk")


# A members list's and export's columns (key, heading) for each kind.
MEMBER_COLUMNS = {
    USER: (("id", "Id"), ("email", "Email"), ("first_name", "First name"), ("last_name", "Last name"),
           ("external_id", "External id")),
    PRODUCT: (("id", "Id"), ("sku", "SKU"), ("name", "Name")),
}  # fmt: skip


def member_columns(kind: str) -> tuple[tuple[str, str], ...]:
    return MEMBER_COLUMNS[kind]


def segment_member_rows(segment: Segment) -> QuerySet:
    """The materialised members as rows of ``member_columns`` (dicts), ordered by id."""
    return segment_members(segment).values(*(key for key, _ in MEMBER_COLUMNS[segment.kind]))


def segment_contains(segment: Segment | int, customer: User | int) -> bool:
    """Is the customer a member, as of the segment's last refresh? (Campaign eligibility.)"""
    segment_id = segment.pk if isinstance(segment, Segment) else segment
    customer_id = customer.pk if isinstance(customer, User) else customer
    return CustomerMembership.objects.filter(segment_id=segment_id, customer_id=customer_id).exists()


def segment_contains_product(segment: Segment | int, product: Product | int) -> bool:
    segment_id = segment.pk if isinstance(segment, Segment) else segment
    product_id = product.pk if isinstance(product, Product) else product
    return ProductMembership.objects.filter(segment_id=segment_id, product_id=product_id).exists()


def member_sample(kind: str, queryset: QuerySet) -> list[dict[str, Any]]:
    if kind == PRODUCT:
        return list(queryset.order_by("pk").values("id", "sku", "name")[:SAMPLE_SIZE])
    return list(queryset.order_by("pk").values("id", "email", "external_id", "first_name", "last_name")[:SAMPLE_SIZE])


def segment_preview(kind: str, criteria: dict[str, Any]) -> dict[str, Any]:
    """How many would match now, and the first few, without saving anything."""
    queryset = segment_queryset(kind, criteria)
    return {"count": queryset.count(), "sample": member_sample(kind, queryset)}


def segments_audience(spec: dict[str, Any], after: int, limit: int) -> list[int]:
    """Notifications' ``segments`` audience: active members of any listed segment, by id, a page
    at a time (read from the materialised membership, one query)."""
    members = (
        CustomerMembership.objects.filter(
            segment_id__in=spec.get("ids", []), customer_id__gt=after, customer__is_active=True
        )
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .distinct()
    )
    return list(members[:limit])


CHOICES_SHOWN = 1000


def criteria_choices() -> dict[str, list[dict[str, Any]]]:
    """The categories and brands a criteria builder picks from by name (two queries)."""
    categories = Category.objects.order_by("parent__name", "name").values("id", "name", "parent__name")
    return {
        "categories": [
            {"id": row["id"], "name": f"{row['parent__name']} › {row['name']}" if row["parent__name"] else row["name"]}
            for row in categories[:CHOICES_SHOWN]
        ],
        "brands": list(Brand.objects.order_by("name").values("id", "name")[:CHOICES_SHOWN]),
    }
