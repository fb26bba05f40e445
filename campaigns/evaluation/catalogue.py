"""The catalogue as the cart evaluation sees it: a copy per process of every product's id,
categories (with their ancestors), brand and product segments by sku, and the categories and
brands by external id and name (for lines of products we do not mirror).

Kept like the campaigns' snapshot: tagged with a version held in the shared cache, which
catalogue writes and product-segment refreshes bump on commit
(``commerce.services.catalogue.catalogue_invalidate``), and rebuilt after ``CATALOGUE_TTL``
whatever happens. A sku missing from the copy (a product newer than it) is read from the
database, so a new product is never judged unknown.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from commerce.models import Brand, Category, Product
from commerce.selectors import category_ancestors
from commerce.services import catalogue as writes
from lms.snapshots import ProcessCopy
from segments.models import ProductMembership

CATALOGUE_TTL = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Item:
    product_id: int | None  # None: a line of a product we do not mirror
    category_ids: frozenset[int]
    brand_id: int | None
    segment_ids: frozenset[int]


@dataclass(frozen=True)
class Catalogue:
    version: str | None
    built_at: dt.datetime
    products: dict[str, Item]
    parents: dict[int, int | None]
    categories: dict[str, int]  # external id or name -> id (external ids win; the oldest of a name)
    brands: dict[str, int]

    def ancestors(self, category_id: int | None) -> frozenset[int]:
        return category_ancestors(category_id, self.parents)


def _by_reference(rows: list[tuple[int, str, str]]) -> dict[str, int]:
    """(pk, name, external_id) rows in pk order -> a map by external id, else by name."""
    by_name = {name: pk for pk, name, _ in reversed(rows)}  # the oldest of two same-named rows
    return {**by_name, **{external_id: pk for pk, _, external_id in rows if external_id}}


def items_of(rows, parents: dict[int, int | None], segments: dict[int, set[int]]) -> dict[str, Item]:
    """(sku, pk, category_id, brand_id) rows as the evaluation's items."""
    ancestors: dict[int | None, frozenset[int]] = {}
    items = {}
    for sku, pk, category_id, brand_id in rows:
        if category_id not in ancestors:
            ancestors[category_id] = category_ancestors(category_id, parents)
        items[sku] = Item(pk, ancestors[category_id], brand_id, frozenset(segments.get(pk, ())))
    return items


def _build(version: str | None, now: dt.datetime) -> Catalogue:
    categories = list(Category.objects.order_by("pk").values_list("pk", "parent_id", "name", "external_id"))
    parents = {pk: parent for pk, parent, _, _ in categories}
    segments: dict[int, set[int]] = defaultdict(set)
    for product_id, segment_id in ProductMembership.objects.values_list("product_id", "segment_id"):
        segments[product_id].add(segment_id)
    rows = Product.objects.values_list("sku", "pk", "category_id", "brand_id")
    return Catalogue(
        version=version,
        built_at=now,
        products=items_of(rows, parents, segments),
        parents=parents,
        categories=_by_reference([(pk, name, external) for pk, _, name, external in categories]),
        brands=_by_reference(list(Brand.objects.order_by("pk").values_list("pk", "name", "external_id"))),
    )


_COPY: ProcessCopy[Catalogue] = ProcessCopy(writes.CATALOGUE_VERSION, CATALOGUE_TTL, _build)


def catalogue_version() -> str | None:
    return writes.CATALOGUE_VERSION.read()


def catalogue_get(now: dt.datetime, version: str | None = None) -> Catalogue:
    """This process's copy, rebuilt when the catalogue changed anywhere or it is too old.
    ``version``: as already read from the shared cache (None: read it here)."""
    return _COPY.get(now, version)
