"""Demo segments for ``make run``: the audiences a marketer reaches for first, made through the
services (validated and refreshed as the console would) over the demo data."""

from typing import Any

from django.db import transaction

from commerce.models import Category
from segments.models import Segment
from segments.services import segment_create

DEMO_SEGMENTS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "Big spenders (₹10,000+ in 90 days)", Segment.Kind.USER, "Customers who spent ₹10,000 or more in 90 days.",
        {"all": [{"field": "total_spend", "op": "gte", "value": "10000", "window_days": 90}]},
    ),
    (
        "New customers", Segment.Kind.USER, "Signed up in the last 30 days.",
        {"all": [{"field": "days_since_signup", "op": "lte", "value": 30}]},
    ),
    (
        "Lapsed 60 days", Segment.Kind.USER, "Bought before, but nothing in the last 60 days.",
        {"all": [{"field": "days_since_last_purchase", "op": "gt", "value": 60}]},
    ),
    (
        "Low-stock products", Segment.Kind.PRODUCT, "Products whose stock is low or out.",
        {"all": [{"field": "stock_status", "op": "in", "value": ["low", "out_of_stock"]}]},
    ),
]  # fmt: skip

ELECTRONICS = "Electronics"


def _electronics_buyers() -> tuple[str, str, str, dict[str, Any]] | None:
    category = Category.objects.filter(name__iexact=ELECTRONICS, parent__isnull=True).order_by("pk").first()
    if category is None:
        return None
    criteria = {"all": [{"field": "bought_category", "op": "any_of", "value": [category.pk], "window_days": 180}]}
    return "Electronics buyers", Segment.Kind.USER, "Bought electronics (or below) in the last 180 days.", criteria


@transaction.atomic
def demo_segments_seed() -> list[Segment]:
    """The demo segments not made yet (by name); each is refreshed once committed."""
    wanted = [*DEMO_SEGMENTS, *filter(None, [_electronics_buyers()])]
    taken = {name.lower() for name in Segment.objects.values_list("name", flat=True)}
    return [
        segment_create(name=name, kind=kind, type=Segment.Type.DYNAMIC, criteria=criteria, description=description)
        for name, kind, description, criteria in wanted
        if name.lower() not in taken
    ]
