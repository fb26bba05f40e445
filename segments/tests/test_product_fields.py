"""Every PRODUCT criterion evaluated on PostgreSQL against a small fixture catalogue.

The fixture is plain Python data (products, orders with their lines and refunds, interaction
events); the expected membership of each tree is computed from that data by the small
evaluator below, never by the engine, and compared with what the compiled ``Q`` selects in
one SQL query.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.conf import settings

from accounts.tests.factories import UserFactory
from commerce.models import EventKind, InteractionEvent, OrderLine, OrderStatus, Product
from commerce.tests.factories import BrandFactory, CategoryFactory, OrderFactory, ProductFactory
from segments.criteria import PRODUCT, CriteriaError, catalogue, criteria_validate, field_get
from segments.fields.product import PRODUCT_FIELDS
from segments.tests.evaluation import World, c, compare, tree_matches

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)


def ago(days: float = 0, hours: float = 0) -> dt.datetime:
    return NOW - dt.timedelta(days=days, hours=hours)


# --- The fixture catalogue, as data ---------------------------------------------------------

CATEGORY_PARENTS = {
    "electronics": None,
    "audio": "electronics",
    "phones": "electronics",
    "android": "phones",
    "fashion": None,
    "shoes": "fashion",
}
BRANDS = ("acme", "zen", "orbit")


@dataclass(frozen=True)
class Item:
    category: str | None
    brand: str | None
    price: Decimal
    stock: int
    active: bool = True


# Price groups are chosen for the percentile bands: electronics has a tie on the 1/3 mark,
# audio has ranks exactly on 1/3 and 2/3, phones and fashion hold one product each.
PRODUCTS = {
    "laptop": Item("electronics", "zen", Decimal("1000.00"), 10),  # exactly the low-stock mark: in stock
    "tablet": Item("electronics", "acme", Decimal("400.00"), 9),  # just below it: low
    "charger": Item("electronics", "acme", Decimal("400.00"), 500),  # exactly the overstock mark: in stock
    "monitor": Item("electronics", "zen", Decimal("250.00"), 501),  # overstock
    "earbuds": Item("audio", "orbit", Decimal("100.00"), 0),
    "speaker": Item("audio", "orbit", Decimal("200.00"), 1),
    "headphones": Item("audio", "acme", Decimal("300.00"), 50),
    "amp": Item("audio", "zen", Decimal("400.00"), 0, active=False),
    "phone": Item("android", "acme", Decimal("500.00"), 0),
    "phone2": Item("android", "zen", Decimal("700.00"), 5),
    "case": Item("phones", "zen", Decimal("50.00"), 600),
    "sneaker": Item("shoes", "zen", Decimal("300.00"), 20),
    "boot": Item("shoes", "acme", Decimal("300.00"), 20),
    "slipper": Item("shoes", None, Decimal("90.00"), 30),
    "shirt": Item("fashion", "acme", Decimal("200.00"), 3, active=False),
    "gift": Item(None, None, Decimal("40.00"), 100),
    "loose": Item(None, None, Decimal("80.00"), 0),
    "voucher": Item(None, "orbit", Decimal("120.00"), 1000, active=False),
}
PLACED, PAID, FULFILLED = OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.FULFILLED
CANCELLED, REFUNDED = OrderStatus.CANCELLED, OrderStatus.REFUNDED
VIEW, WISH, CART = EventKind.PRODUCT_VIEW, EventKind.WISHLIST_ADD, EventKind.CART_ADD
UNKNOWN = None  # a line whose sku the catalogue does not have


@dataclass(frozen=True)
class OrderSpec:
    placed_at: dt.datetime
    status: str
    lines: tuple[tuple[str | None, int, int], ...]  # (product, quantity, refunded quantity)


ORDERS = (
    OrderSpec(ago(2), PAID, (("phone", 2, 0), ("case", 3, 0))),
    # The earbuds came back in full, yet the order counts: they were in it.
    OrderSpec(ago(5), FULFILLED, (("phone", 1, 0), ("earbuds", 4, 4), ("sneaker", 1, 0))),
    OrderSpec(ago(10), PLACED, (("case", 5, 2), ("laptop", 1, 0))),
    OrderSpec(ago(20), PAID, (("headphones", 2, 0), ("phone", 1, 0))),
    OrderSpec(ago(8), PAID, (("headphones", 1, 0),)),
    OrderSpec(ago(29, hours=23), PAID, (("boot", 1, 0),)),  # just inside 30 days
    OrderSpec(ago(30, hours=1), PAID, (("speaker", 10, 0),)),  # just outside 30 days
    OrderSpec(ago(3), CANCELLED, (("monitor", 5, 0),)),
    OrderSpec(ago(4), REFUNDED, (("tablet", 2, 2),)),
    # Two lines for one product (the second under an older sku): one order, four units.
    OrderSpec(ago(60), FULFILLED, (("tablet", 3, 0), ("shirt", 1, 0), ("tablet", 1, 0))),
    OrderSpec(ago(200), PAID, (("charger", 2, 0), ("amp", 1, 0))),
    OrderSpec(ago(-1), PAID, (("gift", 1, 0),)),  # after the evaluation time
    OrderSpec(ago(1), PAID, ((UNKNOWN, 7, 0), ("slipper", 1, 0))),
)
EVENTS = (  # (product, kind, at)
    ("phone", VIEW, ago(1)), ("phone", VIEW, ago(2)), ("phone", VIEW, ago(3)), ("phone", VIEW, ago(40)),
    ("phone", WISH, ago(5)), ("phone", CART, ago(2)),
    ("case", VIEW, ago(1)), ("case", VIEW, ago(1, hours=2)), ("case", VIEW, ago(10)),
    ("case", CART, ago(1)), ("case", CART, ago(15)), ("case", CART, ago(31)),
    ("laptop", VIEW, ago(3)), ("laptop", VIEW, ago(3)), ("laptop", VIEW, ago(3)), ("laptop", VIEW, ago(3)),
    ("laptop", WISH, ago(3)), ("laptop", WISH, ago(29)),
    ("headphones", VIEW, ago(25)),
    ("monitor", VIEW, ago(5)), ("monitor", WISH, ago(45)),
    ("speaker", VIEW, ago(31)),
    ("gift", VIEW, ago(hours=1)), ("gift", VIEW, ago(-1)),  # the second is after the evaluation time
    ("sneaker", CART, ago(6)),
    (None, EventKind.LOGIN, ago(1)), (None, EventKind.CART_ABANDON, ago(1)),  # name no product
)  # fmt: skip
EVERYTHING = set(PRODUCTS)


# --- The expectation, in plain Python -------------------------------------------------------

COUNTED = {PLACED, PAID, FULFILLED}
DEFAULT_WINDOW = {
    "best_seller_percent": 30, "product_views": 30, "wishlist_adds": 30, "cart_adds": 30, "view_to_purchase": 30,
}  # fmt: skip
EVENT_FIELDS = {"product_views": VIEW, "wishlist_adds": WISH, "cart_adds": CART}


def within(at: dt.datetime, window: int | None) -> bool:
    return at <= NOW and (window is None or at >= NOW - dt.timedelta(days=window))


def counted_orders(window: int | None) -> list[OrderSpec]:
    return [o for o in ORDERS if o.status in COUNTED and within(o.placed_at, window)]


def units_sold(key: str, window: int | None) -> int:
    return sum(qty - refunded for o in counted_orders(window) for p, qty, refunded in o.lines if p == key)


def orders_containing(key: str, window: int | None) -> int:
    return sum(any(p == key for p, _, _ in o.lines) for o in counted_orders(window))


def events(key: str, kind: str, window: int | None) -> int:
    return sum(p == key and k == kind and within(at, window) for p, k, at in EVENTS)


def category_and_ancestors(key: str | None) -> set[str]:
    found = set()
    while key is not None:
        found.add(key)
        key = CATEGORY_PARENTS[key]
    return found


def stock_status(stock: int) -> str:
    low = getattr(settings, "SEGMENTS_LOW_STOCK", 10)
    over = getattr(settings, "SEGMENTS_OVERSTOCK", 500)
    if stock == 0:
        return "out_of_stock"
    if stock < low:
        return "low"
    return "overstock" if stock > over else "in_stock"


def price_band(key: str) -> str:
    item = PRODUCTS[key]
    group = [other for other in PRODUCTS.values() if other.category == item.category]
    cheaper = sum(other.price < item.price for other in group)
    percentile = Fraction(cheaper, len(group) - 1) if len(group) > 1 else Fraction(0)
    if percentile < Fraction(1, 3):
        return "low"
    return "mid" if percentile < Fraction(2, 3) else "high"


def best_seller_top_percent(key: str, window: int) -> Fraction | None:
    """The smallest N% whose top holds this product: the share of the catalogue that sold at
    least as many units (ties included); None when it sold nothing."""
    mine = units_sold(key, window)
    if mine <= 0:
        return None
    at_least_as_many = sum(units_sold(other, window) >= mine for other in PRODUCTS)
    return Fraction(100 * at_least_as_many, len(PRODUCTS))


def fact(key: str, name: str, window: int | None) -> Any:
    """The value of field ``name`` for product ``key``; None when it has none."""
    item = PRODUCTS[key]
    match name:
        case "stock_quantity":
            return item.stock
        case "stock_status":
            return stock_status(item.stock)
        case "units_sold":
            return units_sold(key, window)
        case "orders_containing":
            return orders_containing(key, window)
        case "best_seller_percent":
            return best_seller_top_percent(key, window)
        case "never_sold":
            return orders_containing(key, None) == 0
        case "price":
            return item.price
        case "price_band":
            return price_band(key)
        case "product_views" | "wishlist_adds" | "cart_adds":
            return events(key, EVENT_FIELDS[name], window)
        case "view_to_purchase":
            views = events(key, VIEW, window)
            return Fraction(orders_containing(key, window), views) if views else None
        case "category":
            return category_and_ancestors(item.category)
        case "brand":
            return {item.brand} - {None}
        case "active":
            return item.active
    raise AssertionError(name)


def holds(value: Any, op: str, target: Any) -> bool:
    if value is None:  # no value matches no comparison
        return False
    if isinstance(value, set):
        return bool(value & set(target)) == (op == "any_of")
    if isinstance(value, bool):
        return value is target
    if isinstance(value, str):
        if op in ("eq", "ne"):
            return (value == target) == (op == "eq")
        return (value in target) == (op == "in")
    value = Fraction(value)  # exact, like the SQL
    target = [Fraction(Decimal(str(t))) for t in target] if isinstance(target, list) else Fraction(Decimal(str(target)))
    return compare(value, op, target)


def matches(key: str, tree: dict) -> bool:
    def leaf(tree: dict) -> bool:
        window = tree.get("window_days", DEFAULT_WINDOW.get(tree["field"]))
        return holds(fact(key, tree["field"], window), tree["op"], tree["value"])

    return tree_matches(tree, leaf)


def expected(tree: dict) -> set[str]:
    return {key for key in PRODUCTS if matches(key, tree)}


# --- The catalogue in the database, and the engine's answer --------------------------------


@pytest.fixture
def world(db) -> World:
    categories: dict[str, Any] = {}
    for key, parent in CATEGORY_PARENTS.items():  # parents come first
        categories[key] = CategoryFactory(name=key.title(), parent=categories[parent] if parent else None)
    brands = {key: BrandFactory(name=key.title()) for key in BRANDS}
    products = {
        key: ProductFactory(
            sku=key,
            price=item.price,
            stock_quantity=item.stock,
            active=item.active,
            category=categories.get(item.category),
            brand=brands.get(item.brand),
        )
        for key, item in PRODUCTS.items()
    }
    buyer, browser = UserFactory(password=None), UserFactory(password=None)
    for spec in ORDERS:
        first: dict[str, int] = {}
        for key, qty, _ in spec.lines:
            if key is not None:
                first.setdefault(key, qty)
        order = OrderFactory(
            customer=buyer,
            placed_at=spec.placed_at,
            status=spec.status,
            lines=[(products[key], qty) for key, qty in first.items()],
        )
        seen = set()
        for key, qty, refunded in spec.lines:
            if key is None or key in seen:  # an unknown sku, or the product again under an old sku
                OrderLine.objects.create(
                    order=order, product=products.get(key), sku=f"OLD-{key or 'GONE'}", quantity=qty,
                    unit_price=Decimal("10.00"), line_total=Decimal("10.00") * qty, unknown_sku=key is None,
                )  # fmt: skip
            elif refunded:
                OrderLine.objects.filter(order=order, sku=key).update(refunded_quantity=refunded)
            seen.add(key)
    InteractionEvent.objects.bulk_create(
        InteractionEvent(customer=browser, kind=kind, product=products.get(key), occurred_at=at)
        for key, kind, at in EVENTS
    )
    return World(
        ids={"category": {k: c.pk for k, c in categories.items()}, "brand": {k: b.pk for k, b in brands.items()}}
    )


@pytest.fixture
def members(world, django_assert_num_queries):
    """``members(tree)``: the skus the compiled tree selects, read in exactly one query."""

    def run(tree: dict) -> set[str]:
        return world.selected(
            PRODUCT, Product.objects, "sku", tree, now=NOW, assert_num_queries=django_assert_num_queries
        )

    return run


def skus(*keys: str) -> set[str]:
    assert set(keys) <= EVERYTHING, set(keys) - EVERYTHING
    return set(keys)


# --- Every field, alone and negated ---------------------------------------------------------

FIELD_CASES: dict[str, list[dict]] = {
    "stock_quantity": [
        c("stock_quantity", "eq", 0), c("stock_quantity", "gt", 500), c("stock_quantity", "gte", 500),
        c("stock_quantity", "lt", 10), c("stock_quantity", "lte", 10), c("stock_quantity", "between", [5, 50]),
        c("stock_quantity", "ne", 20),
    ],
    "stock_status": [
        c("stock_status", "eq", "out_of_stock"), c("stock_status", "eq", "low"), c("stock_status", "eq", "in_stock"),
        c("stock_status", "eq", "overstock"), c("stock_status", "ne", "in_stock"),
        c("stock_status", "in", ["low", "out_of_stock"]), c("stock_status", "not_in", ["overstock", "low"]),
    ],
    "units_sold": [
        c("units_sold", "eq", 0), c("units_sold", "gte", 4), c("units_sold", "gt", 5), c("units_sold", "eq", 6),
        c("units_sold", "between", [1, 3]), c("units_sold", "ne", 0), c("units_sold", "gte", 1, 30),
        c("units_sold", "eq", 0, 30), c("units_sold", "gte", 3, 7), c("units_sold", "lt", 2, 90),
        c("units_sold", "eq", 10, 31),
    ],
    "orders_containing": [
        c("orders_containing", "eq", 0), c("orders_containing", "gte", 2), c("orders_containing", "eq", 3),
        c("orders_containing", "eq", 1, 30), c("orders_containing", "gte", 2, 7), c("orders_containing", "lte", 1),
        c("orders_containing", "between", [1, 2], 365), c("orders_containing", "ne", 1),
    ],
    "best_seller_percent": [
        c("best_seller_percent", "lte", 5), c("best_seller_percent", "lte", 6), c("best_seller_percent", "lte", 10),
        c("best_seller_percent", "lte", 12), c("best_seller_percent", "lte", 20),
        c("best_seller_percent", "lte", 38), c("best_seller_percent", "lte", 39),
        c("best_seller_percent", "lte", 100), c("best_seller_percent", "lte", 10, 90),
        c("best_seller_percent", "lte", 30, 90), c("best_seller_percent", "lte", 1), c("best_seller_percent", "lte", 50, 3),
    ],
    "never_sold": [c("never_sold", "is", True), c("never_sold", "is", False)],
    "price": [
        c("price", "eq", "400"), c("price", "gte", 500), c("price", "lt", "90.00"), c("price", "lte", "90.00"),
        c("price", "between", ["100", "300"]), c("price", "ne", 300), c("price", "gt", "999.99"),
    ],
    "price_band": [
        c("price_band", "eq", "low"), c("price_band", "eq", "mid"), c("price_band", "eq", "high"),
        c("price_band", "ne", "low"), c("price_band", "in", ["low", "high"]), c("price_band", "not_in", ["mid"]),
    ],
    "product_views": [
        c("product_views", "gte", 1), c("product_views", "eq", 3), c("product_views", "gt", 3),
        c("product_views", "eq", 0), c("product_views", "gte", 4, 60), c("product_views", "gte", 1, 2),
        c("product_views", "ne", 1, 90),
    ],
    "wishlist_adds": [
        c("wishlist_adds", "gte", 1), c("wishlist_adds", "eq", 2), c("wishlist_adds", "gte", 1, 60),
        c("wishlist_adds", "eq", 0, 7), c("wishlist_adds", "between", [1, 1], 28),
    ],
    "cart_adds": [
        c("cart_adds", "gte", 1), c("cart_adds", "eq", 2), c("cart_adds", "gte", 3, 31), c("cart_adds", "lt", 1, 3),
        c("cart_adds", "ne", 0, 7),
    ],
    "view_to_purchase": [
        c("view_to_purchase", "eq", 1), c("view_to_purchase", "gte", "0.5"), c("view_to_purchase", "lt", "0.3"),
        c("view_to_purchase", "eq", 0), c("view_to_purchase", "between", ["0.25", "0.7"]),
        c("view_to_purchase", "ne", 1), c("view_to_purchase", "gt", "0.6666"), c("view_to_purchase", "lt", "0.6667"),
        c("view_to_purchase", "gt", 1), c("view_to_purchase", "eq", "0.75", 60), c("view_to_purchase", "gte", 0, 60),
        c("view_to_purchase", "lte", "0.25", 365),
    ],
    "category": [
        c("category", "any_of", ["electronics"]), c("category", "any_of", ["phones"]),
        c("category", "any_of", ["android", "shoes"]), c("category", "none_of", ["electronics"]),
        c("category", "none_of", ["fashion", "audio"]), c("category", "any_of", ["audio"]),
    ],
    "brand": [
        c("brand", "any_of", ["acme"]), c("brand", "any_of", ["zen", "orbit"]), c("brand", "none_of", ["zen"]),
        c("brand", "none_of", ["acme", "zen", "orbit"]),
    ],
    "active": [c("active", "is", True), c("active", "is", False)],
}  # fmt: skip


def test_every_product_field_in_the_catalogue_has_cases():
    assert set(FIELD_CASES) == {definition.name for definition in PRODUCT_FIELDS}
    assert set(FIELD_CASES) == {definition.name for definition in catalogue(PRODUCT)}
    assert all(case["field"] == name for name, cases in FIELD_CASES.items() for case in cases)


@pytest.mark.parametrize("name", sorted(FIELD_CASES))
def test_each_field_selects_what_the_fixture_data_says(name, members):
    for case in FIELD_CASES[name]:
        assert members(case) == expected(case), case
    # The cases are not vacuous: some select part of the catalogue, not nothing and not all.
    assert any(0 < len(expected(case)) < len(PRODUCTS) for case in FIELD_CASES[name])


@pytest.mark.parametrize("name", sorted(FIELD_CASES))
def test_not_selects_exactly_everything_else(name, members):
    for case in FIELD_CASES[name]:
        assert members({"not": case}) == EVERYTHING - expected(case), case


def test_every_product_field_describes_itself_for_the_catalogue():
    groups = {"stock", "purchase_frequency", "price", "interaction", "catalogue"}
    for definition in PRODUCT_FIELDS:
        described = definition.describe()

        assert described["group"] in groups, definition.name
        assert described["label"], definition.name
        assert definition.kind == PRODUCT
        if definition.value_type in ("integer", "decimal"):
            assert described["unit"], definition.name
    assert field_get(PRODUCT, "stock_status").choices == ("out_of_stock", "low", "in_stock", "overstock")
    assert field_get(PRODUCT, "price_band").choices == ("low", "mid", "high")
    assert field_get(PRODUCT, "best_seller_percent").operators == ("lte",)


# --- The edge semantics, spelled out --------------------------------------------------------


def test_stock_status_bands_use_the_thresholds_inclusively_as_documented(members):
    # Low is 0 < stock < 10, overstock is stock > 500: 10 and 500 are in stock.
    assert members(c("stock_status", "eq", "low")) == skus("tablet", "speaker", "phone2", "shirt")
    assert members(c("stock_status", "eq", "overstock")) == skus("monitor", "case", "voucher")
    assert {"laptop", "charger"} <= members(c("stock_status", "eq", "in_stock"))
    assert members(c("stock_status", "eq", "out_of_stock")) == skus("earbuds", "amp", "phone", "loose")


def test_stock_status_follows_the_threshold_settings(members, settings):
    settings.SEGMENTS_LOW_STOCK = 2
    settings.SEGMENTS_OVERSTOCK = 50

    assert members(c("stock_status", "eq", "low")) == skus("speaker")
    assert members(c("stock_status", "eq", "overstock")) == skus("monitor", "charger", "case", "gift", "voucher")
    for status in ("low", "in_stock", "overstock", "out_of_stock"):
        case = c("stock_status", "eq", status)
        assert members(case) == expected(case), status


def test_units_sold_nets_out_refunds_and_ignores_cancelled_refunded_and_future_orders(members):
    # case: 3 + (5 - 2); earbuds: all 4 came back; monitor only cancelled; tablet's refunded
    # order does not count (its 3 units are 60 days old); gift's order is after now.
    assert members(c("units_sold", "eq", 6)) == skus("case")
    assert "earbuds" in members(c("units_sold", "eq", 0))
    assert members(c("units_sold", "gte", 1, 30)) == skus(
        "phone", "case", "sneaker", "laptop", "headphones", "boot", "slipper"
    )
    assert members(c("units_sold", "eq", 10, 31)) == skus("speaker")  # 30 days and one hour ago
    assert "gift" in members(c("never_sold", "is", True))


def test_orders_containing_counts_orders_not_lines_and_keeps_returned_lines(members):
    assert members(c("orders_containing", "eq", 3)) == skus("phone")
    assert members(c("orders_containing", "eq", 1, 7)) == skus("case", "earbuds", "sneaker", "slipper")
    assert "earbuds" not in members(c("never_sold", "is", True))


def test_never_sold_means_no_line_in_any_counted_order(members):
    # monitor: only a cancelled order; gift: only an order after the evaluation time.
    assert members(c("never_sold", "is", True)) == skus("monitor", "phone2", "gift", "loose", "voucher")


def test_best_sellers_are_the_top_share_of_the_whole_catalogue_and_ties_at_the_cut_stay_out(members):
    # 30 days, 18 products: case 6 units, phone 4, headphones 3, then four products with 1.
    assert members(c("best_seller_percent", "lte", 5)) == set()  # the top product alone is 1/18 = 5.6%
    assert members(c("best_seller_percent", "lte", 6)) == skus("case")
    assert members(c("best_seller_percent", "lte", 12)) == skus("case", "phone")
    assert members(c("best_seller_percent", "lte", 20)) == skus("case", "phone", "headphones")
    # The four one-unit products reach 7/18 = 38.9% together: at 38% none of them is in.
    assert members(c("best_seller_percent", "lte", 38)) == skus("case", "phone", "headphones")
    assert members(c("best_seller_percent", "lte", 39)) == skus(
        "case", "phone", "headphones", "sneaker", "laptop", "boot", "slipper"
    )


def test_a_product_that_sold_nothing_is_never_a_best_seller(members):
    assert members(c("best_seller_percent", "lte", 100)) == {key for key in PRODUCTS if units_sold(key, 30) > 0}
    assert "earbuds" not in members(c("best_seller_percent", "lte", 100))  # sold 4, all returned
    assert members(c("best_seller_percent", "lte", 100, 90)) >= skus("speaker", "tablet", "shirt")


def test_price_band_is_the_percent_rank_within_the_own_category(members):
    # electronics 250 | 400 400 | 1000: the tie sits on exactly 1/3 and is mid.
    # audio 100 | 200 | 300 400: exactly 1/3 is mid, exactly 2/3 is high.
    # A product alone in its category (case, shirt) is low; uncategorised ones form a group.
    assert members(c("price_band", "eq", "low")) == skus(
        "monitor", "earbuds", "phone", "case", "slipper", "shirt", "gift"
    )
    assert members(c("price_band", "eq", "mid")) == skus("tablet", "charger", "speaker", "sneaker", "boot", "loose")
    assert members(c("price_band", "eq", "high")) == skus("laptop", "headphones", "amp", "phone2", "voucher")


def test_view_to_purchase_is_an_exact_fraction_of_orders_per_view(members):
    # 30 days: phone 3 orders / 3 views, case 2 / 3, laptop 1 / 4, headphones 2 / 1,
    # monitor and gift 0 / 1; speaker's only view is 31 days old.
    assert members(c("view_to_purchase", "eq", 1)) == skus("phone")
    assert members(c("view_to_purchase", "gt", "0.6666")) == skus("phone", "case", "headphones")
    assert members(c("view_to_purchase", "lt", "0.6667")) == skus("case", "laptop", "monitor", "gift")
    assert members(c("view_to_purchase", "gt", 1)) == skus("headphones")
    assert members(c("view_to_purchase", "eq", "0.75", 60)) == skus("phone")


@pytest.mark.parametrize(
    "case",
    [
        c("view_to_purchase", "gte", 0), c("view_to_purchase", "lt", 1000), c("view_to_purchase", "ne", "0.5"),
        c("view_to_purchase", "between", [0, 100]), c("view_to_purchase", "gte", 0, 3650),
    ],
)  # fmt: skip
def test_a_product_without_views_matches_no_conversion_comparison_and_not_selects_it(members, case):
    viewed = skus("phone", "case", "laptop", "headphones", "monitor", "gift")
    if case.get("window_days") == 3650:
        viewed = viewed | skus("speaker")

    assert members(case) == viewed & expected(case)
    assert members({"not": case}) == EVERYTHING - members(case)
    assert "sneaker" in members({"not": case})  # bought, never viewed


def test_category_includes_sub_categories_and_none_of_keeps_uncategorised_products(members):
    assert members(c("category", "any_of", ["phones"])) == skus("phone", "phone2", "case")
    assert members(c("category", "none_of", ["electronics", "fashion"])) == skus("gift", "loose", "voucher")
    assert members(c("brand", "none_of", ["acme", "zen", "orbit"])) == skus("slipper", "gift", "loose")


def test_an_unknown_sku_line_does_not_turn_not_into_nothing(members):
    # The line without a product must never put a NULL into an "IN (subquery)".
    assert members({"not": c("best_seller_percent", "lte", 100)}) == EVERYTHING - members(
        c("best_seller_percent", "lte", 100)
    )
    assert members({"not": c("never_sold", "is", False)}) == members(c("never_sold", "is", True))


# --- Validation of the product fields -------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "path"),
    [
        (c("best_seller_percent", "gte", 10), "criteria.op"),
        (c("best_seller_percent", "lte", "10"), "criteria.value"),
        (c("stock_status", "eq", "plenty"), "criteria.value"),
        (c("price_band", "in", ["low", "cheap"]), "criteria.value[1]"),
        (c("never_sold", "is", True, 30), "criteria.window_days"),
        (c("price", "gte", "ten"), "criteria.value"),
        (c("category", "any_of", [0]), "criteria.value[0]"),
        (c("logins", "gte", 1), "criteria.field"),  # a USER field
    ],
)
def test_bad_product_conditions_are_rejected_at_their_path(tree, path):
    with pytest.raises(CriteriaError) as caught:
        criteria_validate(PRODUCT, tree)

    assert caught.value.path == path


def test_windowed_fields_get_their_default_window():
    for name in ("best_seller_percent", "product_views", "wishlist_adds", "cart_adds", "view_to_purchase"):
        op = "lte" if name == "best_seller_percent" else "gte"
        assert criteria_validate(PRODUCT, c(name, op, 1))["window_days"] == 30, name
    assert "window_days" not in criteria_validate(PRODUCT, c("units_sold", "gte", 1))


# --- Combined trees -------------------------------------------------------------------------

COMBINED = [
    # Clear the overstock of things nobody buys: overstocked, active, sold under 2 in 30 days.
    {"all": [c("stock_status", "eq", "overstock"), c("active", "is", True), c("units_sold", "lt", 2, 30)]},
    # Restock candidates: best sellers running low or out.
    {"all": [c("best_seller_percent", "lte", 40), c("stock_status", "in", ["low", "out_of_stock"])]},
    {"any": [
        {"all": [c("category", "any_of", ["electronics"]), c("price_band", "eq", "high")]},
        {"all": [c("product_views", "gte", 3), {"not": c("view_to_purchase", "gte", "0.5")}]},
    ]},
    {"not": {"any": [c("never_sold", "is", True), c("brand", "any_of", ["zen"])]}},
    {"all": [
        {"not": c("category", "any_of", ["fashion"])},
        {"any": [c("wishlist_adds", "gte", 1, 60), c("cart_adds", "gte", 1)]},
        c("price", "between", [50, 600]),
    ]},
    {"not": {"not": {"all": [c("orders_containing", "gte", 1, 365), {"not": {"any": [
        c("price_band", "eq", "low"), c("stock_quantity", "gte", 100)]}}]}}},
    {"any": [
        {"all": [c("brand", "any_of", ["acme"]), c("units_sold", "gte", 1)]},
        c("view_to_purchase", "eq", 0),
        {"not": {"any": [c("active", "is", True), c("stock_status", "ne", "overstock")]}},
    ]},
]  # fmt: skip


@pytest.mark.parametrize("tree", COMBINED, ids=[f"tree{n}" for n in range(len(COMBINED))])
def test_combined_trees_select_what_the_fixture_data_says_in_one_query(tree, members):
    selected = members(tree)  # members() counts exactly one query

    assert selected == expected(tree)
    assert members({"not": tree}) == EVERYTHING - selected


def test_combined_trees_are_not_vacuous():
    assert all(0 < len(expected(tree)) < len(PRODUCTS) for tree in COMBINED)
