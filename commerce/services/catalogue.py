"""Catalogue writes: categories (a tree), brands, products upserted by sku."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from commerce.models import Brand, Category, Product
from commerce.services import ItemResult
from lms.errors import Invalid
from lms.snapshots import SharedVersion

CATEGORY_PATH_SEPARATOR = ">"
PRODUCT_FIELDS = ("name", "price", "stock_quantity", "active")
# Readers that keep a copy of the catalogue per process (the cart evaluation's sku lookup)
# rebuild it when this version moves (``lms.snapshots``).
CATALOGUE_VERSION_KEY = "commerce:catalogue:version"
CATALOGUE_VERSION = SharedVersion(CATALOGUE_VERSION_KEY)


def catalogue_invalidate() -> None:
    """Every node rebuilds its copy of the catalogue now and again once this transaction
    commits (a rebuild in between would still read the old rows, under the new version)."""
    CATALOGUE_VERSION.bump()


def category_path_parse(path: str) -> list[str]:
    """``"Electronics > Phones"`` -> ``["Electronics", "Phones"]``."""
    return [part.strip() for part in path.split(CATEGORY_PATH_SEPARATOR) if part.strip()]


def _named(queryset, name: str):
    """The row whose name equals ``name`` case-insensitively, by the database's own lower()
    (the one the unique constraints use, so "Kelvin" and "\u212aelvin" agree with them)."""
    return queryset.alias(lowered=Lower("name")).filter(lowered=Lower(Value(name))).first()


def _named_ensure(model, name: str, **scope):
    """Find or create by case-insensitive name; a lost insert race re-reads the winner."""
    existing = _named(model.objects.filter(**scope), name)
    if existing is None:
        try:
            with transaction.atomic():
                existing = model.objects.create(name=name, **scope)
            catalogue_invalidate()
        except IntegrityError:
            existing = _named(model.objects.filter(**scope), name)
    return existing


def category_ensure(*, path: list[str]) -> Category:
    """The category at ``path`` from the root, creating missing levels (race-safe)."""
    parent = None
    for name in path:
        parent = _named_ensure(Category, name, parent=parent)
    if parent is None:
        raise Invalid("category_invalid", "An empty category path names no category.", field="category")
    return parent


def brand_ensure(*, name: str) -> Brand:
    return _named_ensure(Brand, name)


class _Lookups:
    """Categories and brands a batch names, each resolved once per batch."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        category_ids = {item["category_id"] for item in items if item.get("category_id")}
        brand_ids = {item["brand_id"] for item in items if item.get("brand_id")}
        self.categories = Category.objects.in_bulk(category_ids)
        self.brands = Brand.objects.in_bulk(brand_ids)
        self.category_paths: dict[tuple[str, ...], Category] = {}
        self.brand_names: dict[str, Brand] = {}

    def check(self, item: dict[str, Any]) -> None:
        """Refuse unknown ids before any category or brand is created for the item."""
        if item.get("category_id") and item["category_id"] not in self.categories:
            raise Invalid("category_unknown", f"No category with id {item['category_id']}.", field="category_id")
        if item.get("brand_id") and item["brand_id"] not in self.brands:
            raise Invalid("brand_unknown", f"No brand with id {item['brand_id']}.", field="brand_id")

    def category(self, item: dict[str, Any]) -> Category | None:
        """The item's category (created from a name or path as needed); call check() first."""
        if item.get("category_id"):
            return self.categories[item["category_id"]]
        if item.get("category"):
            path = tuple(part.lower() for part in category_path_parse(item["category"]))
            if path not in self.category_paths:
                self.category_paths[path] = category_ensure(path=category_path_parse(item["category"]))
            return self.category_paths[path]
        return None

    def brand(self, item: dict[str, Any]) -> Brand | None:
        if item.get("brand_id"):
            return self.brands[item["brand_id"]]
        if item.get("brand"):
            key = item["brand"].strip().lower()
            if key not in self.brand_names:
                self.brand_names[key] = brand_ensure(name=item["brand"].strip())
            return self.brand_names[key]
        return None


@transaction.atomic
def products_upsert(*, items: list[dict[str, Any]]) -> list[ItemResult]:
    """Create or update products by sku in a constant number of queries per batch.

    Items are validated dicts (``ProductInput``). A later item with the same sku wins.
    The write is one ``INSERT ... ON CONFLICT (sku) DO UPDATE``, so a concurrent upsert of
    the same new sku can never fail on the unique constraint.
    """
    now = timezone.now()
    lookups = _Lookups(items)
    existing = Product.objects.in_bulk([item["sku"] for item in items], field_name="sku")
    results: list[ItemResult] = []
    to_write: dict[str, Product] = {}
    for index, item in enumerate(items):
        result = ItemResult(index=index, key=item["sku"])
        results.append(result)
        current = to_write.get(item["sku"]) or existing.get(item["sku"])
        try:
            # Everything that can refuse the item is checked before a category or brand is created.
            if current is None and (item.get("price") is None or not item.get("name")):
                raise Invalid("product_incomplete", "A new product needs a name and a price.")
            lookups.check(item)
            category, brand = lookups.category(item), lookups.brand(item)
        except Invalid as error:
            result.reject(error)
            continue
        product = Product(
            sku=item["sku"],
            name=item.get("name", current.name if current else ""),
            price=item.get("price", current.price if current else None),
            stock_quantity=item.get("stock_quantity", current.stock_quantity if current else 0),
            active=item.get("active", current.active if current else True),
            category=category if ("category" in item or "category_id" in item or not current) else current.category,
            brand=brand if ("brand" in item or "brand_id" in item or not current) else current.brand,
            created_at=current.created_at if current else now,
            updated_at=now,
        )
        if current is None:
            result.outcome = "created"
        elif all(getattr(product, f) == getattr(current, f) for f in (*PRODUCT_FIELDS, "category_id", "brand_id")):
            result.outcome = "unchanged" if item["sku"] not in to_write else "updated"
        else:
            result.outcome = "updated" if item["sku"] in existing else "created"
        if result.outcome != "unchanged":
            to_write[item["sku"]] = product
        result.obj = product
    if to_write:
        Product.objects.bulk_create(
            sorted(to_write.values(), key=lambda product: product.sku),  # rows locked in sku order: no deadlocks
            update_conflicts=True,
            unique_fields=["sku"],
            update_fields=[*PRODUCT_FIELDS, "category", "brand", "updated_at"],
            batch_size=1000,
        )
        if any(_reshaped(product, existing.get(sku)) for sku, product in to_write.items()):
            catalogue_invalidate()  # a price or stock change alone leaves the evaluation's copy true
    return results


def _reshaped(product: Product, before: Product | None) -> bool:
    """A new product, or one moved to another category or brand."""
    return before is None or (product.category_id, product.brand_id) != (before.category_id, before.brand_id)
