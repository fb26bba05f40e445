"""Planning the demo rows from a ``DemoSpec``: products, customers, orders and their bodies,
each a function of the spec (see ``commerce.demo``)."""

import bisect
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from commerce.demo.data import (
    BANK_OFFER_RATE,
    CENT,
    COUNTRY,
    COUPON_RATE,
    COUPONS,
    DAY,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    FREE_SHIPPING_FROM,
    LAST_NAMES,
    LEAVES,
    LINE_COUNT_WEIGHTS,
    ORDER_DAYS,
    PAYMENT_METHODS,
    SHIPPING_FEE,
    SHIPPING_GST,
    SIGNUP_DAYS,
    STATES,
    STATUS_BY_AGE,
    ZERO,
    skewed_fraction,
)
from commerce.models import OrderStatus


def default_as_of() -> datetime:
    """Today's midnight in the project's time zone: runs on the same day give the same rows."""
    local = datetime.now(ZoneInfo(settings.TIME_ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


@dataclass(frozen=True)
class DemoSpec:
    seed: int = 42
    products: int = 200
    customers: int = 500
    orders: int = 3_000
    events_per_customer: float = 6.0
    as_of: datetime = field(default_factory=default_as_of)

    def __post_init__(self) -> None:
        for name in ("products", "customers", "orders"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative.")
        if self.events_per_customer < 0:
            raise ValueError("events_per_customer must not be negative.")
        if self.orders and not (self.customers and self.products):
            raise ValueError("Orders need customers and products.")
        if self.events_per_customer and self.customers and not self.products:
            raise ValueError("Events need products.")
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware.")


def customer_external_id(index: int) -> str:
    return f"C{index + 1:06d}"


def order_external_id(index: int) -> str:
    return f"ORD-{index + 1:08d}"


# --- Deterministic randomness ---------------------------------------------------------------

_MASK = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _rng(spec: DemoSpec, phase: str) -> random.Random:
    """One sequential stream per phase: a phase's rows do not depend on another phase's sizes."""
    return random.Random(f"lms-demo:{spec.seed}:{phase}")


def _cumulative(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(cumulative: list[float], u: float) -> int:
    """The index a uniform ``u`` in [0, 1) falls on, for cumulative weights."""
    return min(bisect.bisect_right(cumulative, u * cumulative[-1]), len(cumulative) - 1)


# --- Products -------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)  # identity: a product is in an order's lines or not
class DemoProduct:
    sku: str
    name: str
    leaf: int
    brand: str
    price: Decimal
    stock_quantity: int
    active: bool
    # Known once the catalogue is in the database.
    id: int = 0
    category_id: int = 0
    category_name: str = ""
    brand_id: int = 0


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    """Log-uniform in the band, at a price point shoppers see: 1,299 / 449 / 85 / 20."""
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    if value >= 1_000:
        value = round(value / 100) * 100 - 1
    elif value >= 100:
        value = round(value / 50) * 50 - 1
    else:
        value = max(round(value / 5) * 5, 5)
    return Decimal(min(max(int(value), low), high)).quantize(CENT)


def _stock(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.08:
        return 0  # out of stock
    if roll < 0.23:
        return rng.randint(1, 9)  # low
    if roll < 0.33:
        return rng.randint(1_000, 5_000)  # overstocked
    return rng.randint(10, 400)


def plan_products(spec: DemoSpec) -> list[DemoProduct]:
    """The catalogue's products (without ids); the first N are the same whatever the count."""
    rng = _rng(spec, "products")
    shares = _cumulative(leaf.share for leaf in LEAVES)
    products = []
    for n in range(spec.products):
        leaf_index = _pick(shares, rng.random())
        leaf = LEAVES[leaf_index]
        brand = rng.choice(tuple(leaf.items))
        variant = rng.choice(leaf.variants)
        name = f"{brand} {rng.choice(leaf.items[brand])}{' ' + variant if variant else ''}"
        products.append(
            DemoProduct(
                sku=f"{leaf.code}-{n + 1:06d}",
                name=name,
                leaf=leaf_index,
                brand=brand,
                price=_price(rng, *leaf.prices),
                stock_quantity=_stock(rng),
                active=rng.random() >= 0.05,
            )
        )
    return products


# --- Customers ------------------------------------------------------------------------------


class Customers:
    """Customer ``i``'s attributes as pure functions of (seed, i), so orders and events can ask
    for any customer's sign-up date or city without keeping a million rows in memory.

    Activity is ranked by a fixed permutation of the indices: the customer of rank 0 is the
    busiest, and ranks are spread over ids (C000001 is not special).
    """

    def __init__(self, spec: DemoSpec) -> None:
        self.spec = spec
        self.count = spec.customers
        n = max(self.count, 1)
        self._salt = _splitmix(spec.seed & _MASK)
        multiplier = int(n * 0.6180339887) | 1
        while math.gcd(multiplier, n) != 1:
            multiplier += 1
        self._a, self._b = multiplier % n or 1, self._salt % n
        self._a_inverse = pow(self._a, -1, n) if n > 1 else 0
        self._as_of = int(spec.as_of.timestamp())
        self._locations = [(state, city) for state, _, cities in STATES for city in cities]
        self._location_weights = _cumulative(
            weight * (2 if position == 0 else 1) / (len(cities) + 1)
            for _, weight, cities in STATES
            for position in range(len(cities))
        )

    def _unit(self, index: int, salt: int) -> float:
        return _splitmix(self._salt ^ (index * 16 + salt)) / 2.0**64

    def by_rank(self, rank: int) -> int:
        return (self._a * rank + self._b) % self.count

    def rank(self, index: int) -> int:
        return ((index - self._b) * self._a_inverse) % self.count

    def signed_up_ts(self, index: int) -> int:
        return self._as_of - DAY - int(self._unit(index, 1) * (SIGNUP_DAYS - 1) * DAY)

    def location(self, index: int) -> tuple[str, str]:
        return self._locations[_pick(self._location_weights, self._unit(index, 2))]

    def row(self, index: int, *, user_id: int, password: str) -> tuple:
        """A ``USER_COLUMNS`` row: someone the platform knows who has not signed up here."""
        female = self._unit(index, 3) < 0.5
        names = FIRST_NAMES_F if female else FIRST_NAMES_M
        first = names[int(self._unit(index, 4) * len(names))]
        last = LAST_NAMES[int(self._unit(index, 5) * len(LAST_NAMES))]
        state, city = self.location(index)
        phone = f"+91{6_000_000_000 + _splitmix(self._salt ^ (index * 16 + 6)) % 4_000_000_000}"
        signed_up = datetime.fromtimestamp(self.signed_up_ts(index), UTC)
        return (
            user_id,
            password,
            f"{first}.{last}.{index + 1}@example.com".lower(),
            first,
            last,
            phone,
            COUNTRY,
            state,
            city,
            self._unit(index, 7) < 0.65,  # marketing_email
            self._unit(index, 8) < 0.40,  # marketing_sms
            self._unit(index, 9) < 0.30,  # marketing_push
            customer_external_id(index),
            signed_up,
            signed_up,  # date_joined: the mirror pretends to be as old as the platform
        )


# --- Orders ---------------------------------------------------------------------------------


@dataclass(slots=True)
class PlannedOrder:
    data: dict[str, Any]  # the validated shape of the API's order body (OrderInput)
    customer: int  # customer index
    products: list[DemoProduct]  # one per line
    refunded: bool


class OrderPlanner:
    """Orders in external-id order, placed over the ``ORDER_DAYS`` before ``as_of``."""

    def __init__(self, spec: DemoSpec, products: list[DemoProduct], customers: Customers) -> None:
        self.spec, self.customers = spec, customers
        leaves = sorted({product.leaf for product in products})
        self._by_leaf = {leaf: [p for p in products if p.leaf == leaf] for leaf in leaves}
        self._leaves = leaves
        self._leaf_demand = _cumulative(LEAVES[leaf].demand for leaf in leaves)
        self._line_counts = _cumulative(LINE_COUNT_WEIGHTS[: min(len(LINE_COUNT_WEIGHTS), len(products))])
        self._payments = _cumulative(weight for _, weight in PAYMENT_METHODS)
        self._statuses = [
            (limit, [str(s) for s, _ in table], _cumulative(w for _, w in table)) for limit, table in STATUS_BY_AGE
        ]

    def product(self, rng: random.Random) -> DemoProduct:
        shelf = self._by_leaf[self._leaves[_pick(self._leaf_demand, rng.random())]]
        return shelf[int(len(shelf) * skewed_fraction(rng.random()))]

    def _customer(self, rng: random.Random, placed_ts: int) -> int:
        """A customer picked by activity who had signed up by ``placed_ts``."""
        customers, count = self.customers, self.customers.count
        index = 0
        for _ in range(8):
            index = customers.by_rank(int(count * skewed_fraction(rng.random())))
            if customers.signed_up_ts(index) <= placed_ts:
                return index
        for step in range(count):  # rare: walk on to the next customer who had
            candidate = (index + step) % count
            if customers.signed_up_ts(candidate) <= placed_ts:
                return candidate
        return index

    def _status(self, rng: random.Random, age: int) -> str:
        for limit, statuses, weights in self._statuses:
            if age < limit:
                return statuses[_pick(weights, rng.random())]
        raise AssertionError("unreachable")

    def _discount(self, rng: random.Random, subtotal: Decimal) -> tuple[Decimal, list[str]]:
        roll = rng.random()
        if roll < COUPON_RATE:
            code, kind, amount, limit = COUPONS[int(rng.random() * len(COUPONS))]
            if kind == "percent":
                off = min((subtotal * amount / 100).quantize(CENT, ROUND_HALF_UP), Decimal(limit).quantize(CENT))
                return min(off, subtotal), [code]
            if subtotal >= limit:
                return Decimal(amount).quantize(CENT), [code]
        elif roll < COUPON_RATE + BANK_OFFER_RATE:
            return min((subtotal / 10).quantize(CENT, ROUND_HALF_UP), Decimal("150.00")), []
        return ZERO, []

    def orders(self) -> Iterator[PlannedOrder]:
        spec, rng = self.spec, _rng(self.spec, "orders")
        as_of = int(spec.as_of.timestamp())
        start, span = as_of - ORDER_DAYS * DAY, ORDER_DAYS * DAY
        for index in range(spec.orders):
            # Stratified over the window: external ids grow with time, as on the platform.
            placed_ts = start + int(span * (index + rng.random()) / spec.orders)
            customer = self._customer(rng, placed_ts)
            products: list[DemoProduct] = []
            for _ in range(_pick(self._line_counts, rng.random()) + 1):
                for _ in range(4):  # a line per sku: redraw a product already in the order
                    product = self.product(rng)
                    if product not in products:
                        products.append(product)
                        break
            lines = []
            for product in products:
                leaf = LEAVES[product.leaf]
                quantity = 1 if rng.random() < 0.7 else rng.randint(1, leaf.max_quantity)
                unit_price = product.price
                if rng.random() < 0.15:  # on sale that day
                    unit_price = (unit_price * Decimal(rng.choice((85, 90, 95))) / 100).quantize(
                        Decimal(1), ROUND_HALF_UP
                    ) + ZERO
                lines.append(
                    {
                        "sku": product.sku,
                        "name": product.name,
                        "quantity": quantity,
                        "unit_price": unit_price,
                        "line_total": unit_price * quantity,
                    }
                )
            subtotal = sum((line["line_total"] for line in lines), ZERO)
            discount, coupon_codes = self._discount(rng, subtotal)
            shipping = SHIPPING_FEE if subtotal - discount < FREE_SHIPPING_FROM else ZERO
            tax = (shipping * SHIPPING_GST).quantize(CENT, ROUND_HALF_UP)
            status = self._status(rng, as_of - placed_ts)
            state, city = self.customers.location(customer)
            data = {
                "external_id": order_external_id(index),
                "customer": {"external_id": customer_external_id(customer)},
                "placed_at": datetime.fromtimestamp(placed_ts, UTC),
                "status": status,
                "currency": "INR",
                "subtotal": subtotal,
                "shipping": shipping,
                "discount_total": discount,
                "tax_total": tax,
                "total": subtotal - discount + shipping + tax,
                "shipping_country": COUNTRY,
                "shipping_state": state,
                "shipping_city": city,
                "payment_method": PAYMENT_METHODS[_pick(self._payments, rng.random())][0],
                "coupon_codes": coupon_codes,
                "lines": lines,
            }
            yield PlannedOrder(data, customer, products, refunded=status == OrderStatus.REFUNDED)
