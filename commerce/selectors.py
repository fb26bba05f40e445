"""Catalogue reads: categories (a tree) and brands by id, name or path."""

from django.core.cache import cache
from django.db.models import Value
from django.db.models.functions import Lower

from accounts.models import User
from commerce.models import Brand, Category, Order
from commerce.services.catalogue import category_path_parse


def categories_named(value: str) -> set[int]:
    """Category ids for a filter value: an id, a name (at any level, case-insensitive) or a
    path from the root (``"Electronics > Phones"``), as the bulk upsert takes them."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:  # longer: no bigint, no id
        return {int(value)}
    names = category_path_parse(value)
    named = Category.objects.alias(lowered=Lower("name"))
    if not names:
        return set()
    if len(names) == 1:
        return set(named.filter(lowered=Lower(Value(names[0]))).values_list("id", flat=True))
    found: set[int] = set()
    for depth, part in enumerate(names):
        level = named.filter(lowered=Lower(Value(part)))
        level = level.filter(parent__isnull=True) if depth == 0 else level.filter(parent_id__in=found)
        found = set(level.values_list("id", flat=True))
    return found


def category_ids_below(ids: set[int]) -> set[int]:
    """The categories and every category below them (the tree is shallow: one query a level)."""
    found, frontier = set(ids), set(ids)
    while frontier:
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= frontier
    return found


def brands_named(value: str) -> set[int]:
    """Brand ids for a filter value: an id, or a name (case-insensitive)."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:  # longer: no bigint, no id
        return {int(value)}
    named = Brand.objects.alias(lowered=Lower("name")).filter(lowered=Lower(Value(value)))
    return set(named.values_list("id", flat=True))


def category_ancestors(category_id: int | None, parents: dict[int, int | None]) -> frozenset[int]:
    """A category and all its ancestors, walking ``parents`` (category id -> parent id)."""
    found: set[int] = set()
    while category_id is not None and category_id not in found:
        found.add(category_id)
        category_id = parents.get(category_id)
    return frozenset(found)


# --- Places the data holds (the console's state and city choices) --------------------------------

KNOWN_PLACES_KEY = "console:known-places"
KNOWN_PLACES_SECONDS = 600  # a new city shows in the console's choices within ten minutes
KNOWN_PLACES_MOST = 5000  # per kind: a bound on the page's choices, far above India's cities


def known_places() -> dict[str, list[str]]:
    """The states and cities customers' profiles and orders' shipping addresses name, one
    spelling per name (case aside), sorted; remembered for ``KNOWN_PLACES_SECONDS`` since
    reading the orders takes a scan of the table."""
    return cache.get_or_set(KNOWN_PLACES_KEY, _known_places_read, KNOWN_PLACES_SECONDS)


def _known_places_read() -> dict[str, list[str]]:
    places = {}
    for kind, customer_column, order_column in (
        ("states", "state", "shipping_state"),
        ("cities", "city", "shipping_city"),
    ):
        values = (
            User.objects.exclude(**{customer_column: ""})
            .order_by()
            .values_list(customer_column, flat=True)
            .distinct()
            .union(
                Order.objects.exclude(**{order_column: ""}).order_by().values_list(order_column, flat=True).distinct()
            )
        )
        spelled: dict[str, str] = {}
        for value in values[:KNOWN_PLACES_MOST]:
            spelled.setdefault(value.strip().casefold(), value.strip())
        places[kind] = sorted(spelled.values(), key=str.casefold)
    return places
