"""Demo data for the commerce mirror: a category tree, brands, products, customers, orders
(lines, initial status changes) and interaction events.

Every row is a function of a ``DemoSpec`` (seed, sizes, as-of time): the same spec gives the
same rows, whatever the database. Rows are generated in chunks and written set-based (COPY
on PostgreSQL, ``bulk_create`` elsewhere) in one transaction, so millions of orders load in
constant memory (customer ids aside: 8 bytes per customer) and a failed run leaves nothing.

Ids come from the tables' own sequences (``nextval`` on PostgreSQL), so inserts through the
ORM after a seed never collide. Demo orders carry the request hash of the body the
integration API would have received for them (``order_bodies`` yields those bodies): posting
one again is a replay, posting it changed is a conflict. They are written directly, so order
hooks (points, redemptions) do not run for them.
"""

import bisect
import hashlib
import itertools
import json
import math
import random
import secrets
import sys
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models, transaction
from django.utils.timezone import now as timezone_now
from tqdm import tqdm

from accounts.models import Role, User
from commerce.models import InteractionEvent, Order, OrderLine, OrderStatus, OrderStatusChange, Product
from commerce.services.catalogue import brand_ensure, category_ensure
from lms.db import copy_rows, ids_allocate

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAY = 86_400
CHUNK = 10_000  # rows generated and written per round trip

# --- The catalogue: leaf categories with their brands, product lines and price bands ------------


@dataclass(frozen=True)
class Leaf:
    path: tuple[str, str]
    code: str  # sku prefix
    prices: tuple[int, int]  # INR, the band a product's price is drawn from (log-uniform)
    share: int  # relative number of products in the catalogue
    demand: int  # relative number of order lines
    max_quantity: int
    items: dict[str, tuple[str, ...]]  # brand -> product lines
    variants: tuple[str, ...]


SIZES = ("S", "M", "L", "XL")
COLOURS = ("Black", "Navy", "Olive", "White", "Maroon", "Grey")

LEAVES: tuple[Leaf, ...] = (
    Leaf(("Electronics", "Phones"), "PHN", (7_999, 89_999), 12, 4, 1, {
        "Samsung": ("Galaxy M15 5G", "Galaxy A35 5G", "Galaxy S24"),
        "Xiaomi": ("Redmi Note 13 5G", "Redmi 13C", "14 CIVI"),
        "Apple": ("iPhone 15", "iPhone 15 Plus", "iPhone 14"),
    }, ("128 GB, Midnight Black", "128 GB, Ocean Blue", "256 GB, Silver", "256 GB, Mint Green")),
    Leaf(("Electronics", "Laptops"), "LAP", (29_999, 149_999), 8, 1, 1, {
        "Lenovo": ("IdeaPad Slim 3", "ThinkPad E14", "Legion 5"),
        "Apple": ("MacBook Air 13 M2", "MacBook Air 15 M3"),
        "Samsung": ("Galaxy Book4",),
    }, ("(8 GB, 256 GB SSD)", "(16 GB, 512 GB SSD)", "(16 GB, 1 TB SSD)")),
    Leaf(("Electronics", "Audio"), "AUD", (499, 24_999), 12, 6, 2, {
        "boAt": ("Airdopes 141 Earbuds", "Rockerz 450 Headphones", "Stone 352 Speaker"),
        "Sony": ("WH-1000XM5 Headphones", "WF-C700N Earbuds", "SRS-XB100 Speaker"),
        "Apple": ("AirPods (3rd generation)",),
    }, ("Black", "White", "Blue", "Red")),
    Leaf(("Electronics", "Wearables"), "WRB", (1_299, 29_999), 8, 3, 1, {
        "boAt": ("Wave Call 2 Smartwatch", "Xtend Pro Smartwatch"),
        "Samsung": ("Galaxy Watch6", "Galaxy Fit3"),
        "Xiaomi": ("Redmi Watch 4", "Smart Band 8"),
    }, ("Black", "Silver", "Rose Gold")),
    Leaf(("Groceries", "Staples"), "STP", (45, 699), 12, 14, 4, {
        "Aashirvaad": ("Shudh Chakki Atta 5 kg", "Multigrain Atta 1 kg", "Iodised Salt 1 kg"),
        "Tata": ("Sampann Toor Dal 1 kg", "Sampann Chana Dal 1 kg", "Salt 1 kg", "Tea Gold 500 g"),
    }, ("", "(Pack of 2)")),
    Leaf(("Groceries", "Snacks"), "SNK", (10, 299), 12, 14, 5, {
        "Haldiram's": ("Aloo Bhujia 400 g", "Moong Dal 200 g", "Khatta Meetha 350 g"),
        "Britannia": ("Good Day Cashew Cookies 200 g", "Marie Gold 250 g", "NutriChoice Digestive 250 g"),
    }, ("", "(Pack of 3)")),
    Leaf(("Groceries", "Beverages"), "BEV", (20, 599), 10, 10, 6, {
        "Tata": ("Tea Premium 1 kg", "Coffee Grand 100 g"),
        "Amul": ("Kool Cafe 200 ml", "Masti Buttermilk 1 L", "Lassi 250 ml"),
        "Britannia": ("Winkin' Cow Thick Shake 180 ml",),
    }, ("", "(Pack of 6)")),
    Leaf(("Fashion", "Men"), "MEN", (399, 4_999), 12, 8, 2, {
        "Allen Solly": ("Slim Fit Formal Shirt", "Regular Fit Polo T-Shirt", "Slim Fit Chinos"),
        "Levi's": ("511 Slim Fit Jeans", "512 Tapered Jeans", "Crew Neck T-Shirt"),
    }, tuple(f"({colour}, {size})" for colour in COLOURS[:4] for size in SIZES)),
    Leaf(("Fashion", "Women"), "WMN", (399, 5_999), 12, 9, 2, {
        "Biba": ("Printed Cotton Kurta", "Anarkali Kurta Set", "Straight Palazzo"),
        "Levi's": ("711 Skinny Jeans", "Boyfriend Fit Shirt"),
        "Allen Solly": ("Solid Blazer", "Crepe Top"),
    }, tuple(f"({colour}, {size})" for colour in COLOURS[2:] for size in SIZES)),
    Leaf(("Home & Kitchen", "Cookware"), "CKW", (399, 4_999), 8, 3, 2, {
        "Prestige": ("Omega Deluxe Non-Stick Tawa 28 cm", "Svachh Pressure Cooker 5 L", "Omega Kadai 24 cm"),
        "Pigeon": ("Favourite Pressure Cooker 3 L", "Non-Stick Fry Pan 24 cm"),
    }, ("", "(Red)", "(Black)")),
    Leaf(("Home & Kitchen", "Appliances"), "APL", (999, 12_999), 8, 3, 1, {
        "Philips": ("HL7756 Mixer Grinder 750 W", "HD9252 Air Fryer 4.1 L", "GC1905 Steam Iron"),
        "Prestige": ("Iris Mixer Grinder 750 W", "PIC 20 Induction Cooktop"),
        "Pigeon": ("Electric Kettle 1.5 L",),
    }, ("", "(White)", "(Black)")),
    Leaf(("Beauty", "Skincare"), "SKN", (99, 999), 10, 7, 3, {
        "Mamaearth": ("Vitamin C Face Wash 100 ml", "Ubtan Face Mask 100 g"),
        "Himalaya": ("Purifying Neem Face Wash 150 ml", "Nourishing Skin Cream 200 ml"),
        "Lakme": ("Sun Expert SPF 50 Sunscreen 100 ml", "9 to 5 Vitamin C+ Day Cream 50 g"),
    }, ("", "(Pack of 2)")),
    Leaf(("Beauty", "Haircare"), "HAR", (99, 899), 8, 6, 3, {
        "Mamaearth": ("Onion Hair Oil 250 ml", "Onion Shampoo 250 ml"),
        "Himalaya": ("Anti-Dandruff Shampoo 400 ml", "Protein Shampoo 400 ml"),
    }, ("", "(Pack of 2)")),
    Leaf(("Beauty", "Makeup"), "MKP", (149, 1_499), 8, 5, 2, {
        "Lakme": ("Absolute Matte Lipstick", "9 to 5 Primer + Matte Foundation", "Eyeconic Kajal"),
    }, ("(Red Envy)", "(Nude)", "(Coral)", "(Classic Black)")),
    Leaf(("Sports", "Fitness"), "FIT", (199, 7_999), 8, 3, 2, {
        "Nivia": ("Yoga Mat 6 mm", "Adjustable Dumbbell Set 10 kg", "Skipping Rope"),
        "Cosco": ("Gym Ball 65 cm", "Resistance Band Set"),
    }, ("", "(Blue)", "(Black)")),
    Leaf(("Sports", "Team Sports"), "TSP", (199, 3_999), 6, 3, 2, {
        "Nivia": ("Storm Football Size 5", "Pro Volleyball"),
        "Cosco": ("Cricket Tennis Ball (Pack of 6)", "CB-90 Badminton Racquet"),
    }, ("", "(Yellow)", "(White)")),
)  # fmt: skip

BRANDS: tuple[str, ...] = tuple(dict.fromkeys(brand for leaf in LEAVES for brand in leaf.items))

# --- Customers ------------------------------------------------------------------------------

FIRST_NAMES_M = (
    "Aarav", "Vivaan", "Aditya", "Arjun", "Rohan", "Rahul", "Amit", "Vikram", "Karthik", "Siddharth", "Pranav",
    "Nikhil", "Suresh", "Rajesh", "Manoj", "Imran", "Farhan", "Harpreet", "Anil", "Deepak", "Kunal", "Varun",
)  # fmt: skip
FIRST_NAMES_F = (
    "Ananya", "Diya", "Priya", "Sneha", "Kavya", "Aditi", "Pooja", "Neha", "Anjali", "Meera", "Lakshmi",
    "Divya", "Shreya", "Ritu", "Fatima", "Sana", "Harleen", "Nisha", "Swati", "Ishita", "Riya", "Asha",
)  # fmt: skip
LAST_NAMES = (
    "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Shah", "Reddy", "Rao", "Nair", "Menon", "Iyer",
    "Pillai", "Das", "Banerjee", "Chatterjee", "Mukherjee", "Bose", "Joshi", "Kulkarni", "Deshpande", "Patil",
    "Jain", "Agarwal", "Mehta", "Chopra", "Malhotra", "Kapoor", "Khan", "Ahmed", "Siddiqui", "Gill", "Sandhu",
    "Naidu", "Hegde", "Shetty", "Yadav", "Mishra", "Pandey", "Tiwari", "Chauhan",
)  # fmt: skip
# (state, weight, cities): the first city of a state is its biggest market.
STATES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Maharashtra", 16, ("Mumbai", "Pune", "Nagpur", "Thane", "Nashik")),
    ("Karnataka", 12, ("Bengaluru", "Mysuru", "Mangaluru", "Hubballi")),
    ("Delhi", 10, ("New Delhi",)),
    ("Tamil Nadu", 9, ("Chennai", "Coimbatore", "Madurai")),
    ("Uttar Pradesh", 9, ("Lucknow", "Noida", "Kanpur", "Varanasi", "Ghaziabad")),
    ("Telangana", 8, ("Hyderabad", "Warangal")),
    ("Gujarat", 7, ("Ahmedabad", "Surat", "Vadodara", "Rajkot")),
    ("West Bengal", 6, ("Kolkata", "Howrah", "Siliguri")),
    ("Rajasthan", 4, ("Jaipur", "Jodhpur", "Udaipur")),
    ("Kerala", 4, ("Kochi", "Thiruvananthapuram", "Kozhikode")),
    ("Haryana", 4, ("Gurugram", "Faridabad")),
    ("Punjab", 3, ("Ludhiana", "Amritsar", "Mohali")),
    ("Madhya Pradesh", 3, ("Indore", "Bhopal")),
    ("Andhra Pradesh", 3, ("Visakhapatnam", "Vijayawada")),
    ("Bihar", 2, ("Patna",)),
    ("Odisha", 1.5, ("Bhubaneswar",)),
    ("Assam", 1, ("Guwahati",)),
)
COUNTRY = "IN"

# --- Orders and events ----------------------------------------------------------------------

ORDER_DAYS = 182
SIGNUP_DAYS = 730
EVENT_DAYS = 180
LINE_COUNT_WEIGHTS = (45, 25, 15, 10, 5)  # 1 to 5 lines
FREE_SHIPPING_FROM = Decimal("499.00")
SHIPPING_FEE = Decimal("40.00")
SHIPPING_GST = Decimal("0.18")  # prices include GST; the shipping fee does not
PAYMENT_METHODS = (("UPI", 45), ("CARD", 20), ("COD", 20), ("NETBANKING", 8), ("WALLET", 7))
# code -> (percent off, cap) or (flat amount, minimum order); about a quarter of orders use one.
COUPONS: tuple[tuple[str, str, int, int], ...] = (
    ("WELCOME10", "percent", 10, 200),
    ("FESTIVE15", "percent", 15, 500),
    ("DIWALI20", "percent", 20, 1_000),
    ("FLAT100", "flat", 100, 999),
    ("SAVE250", "flat", 250, 2_499),
)
COUPON_RATE = 0.24
BANK_OFFER_RATE = 0.06  # 10% instant discount, capped at 150, no code
# Status by the order's age: fresh orders are still moving, older ones have settled.
STATUS_BY_AGE: tuple[tuple[int, tuple[tuple[str, int], ...]], ...] = (
    (2 * DAY, ((OrderStatus.PLACED, 35), (OrderStatus.PAID, 55), (OrderStatus.CANCELLED, 10))),
    (7 * DAY, ((OrderStatus.PLACED, 2), (OrderStatus.PAID, 40), (OrderStatus.FULFILLED, 50), (OrderStatus.CANCELLED, 8))),
    (sys.maxsize, ((OrderStatus.PAID, 2), (OrderStatus.FULFILLED, 82), (OrderStatus.CANCELLED, 9), (OrderStatus.REFUNDED, 7))),
)  # fmt: skip
EVENT_KINDS = (("PRODUCT_VIEW", 55), ("LOGIN", 18), ("CART_ADD", 14), ("WISHLIST_ADD", 7), ("CART_ABANDON", 6))
# Activity is skewed: the customer at rank fraction x in [0, 1) is active in proportion to
# (x + ACTIVITY_OFFSET) ** -ACTIVITY_EXPONENT, so the busiest ~18x the average and the top 10%
# place about a third of the orders. Products are picked the same way within their category.
ACTIVITY_EXPONENT = 0.6
ACTIVITY_OFFSET = 0.002
_LOW = ACTIVITY_OFFSET ** (1 - ACTIVITY_EXPONENT)
_HIGH = (1 + ACTIVITY_OFFSET) ** (1 - ACTIVITY_EXPONENT)


def skewed_fraction(u: float) -> float:
    """The rank fraction a uniform ``u`` falls on under the activity distribution (inverse CDF)."""
    return min((_LOW + u * (_HIGH - _LOW)) ** (1 / (1 - ACTIVITY_EXPONENT)) - ACTIVITY_OFFSET, 0.999_999_999)


def activity(fraction: float) -> float:
    """How active the customer at a rank fraction is, relative to the average (density; mean 1)."""
    return (1 - ACTIVITY_EXPONENT) * (fraction + ACTIVITY_OFFSET) ** -ACTIVITY_EXPONENT / (_HIGH - _LOW)


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


MONEY_FIELDS = ("subtotal", "shipping", "discount_total", "tax_total", "total")


def order_body(data: dict[str, Any]) -> dict[str, Any]:
    """A planned order as the API's JSON body. Its amounts are 2-place Decimals and its time is
    UTC, so this is also the canonical form ``order_request_hash`` makes of the validated body."""
    body = dict(data)
    body["placed_at"] = data["placed_at"].isoformat()
    for name in MONEY_FIELDS:
        body[name] = str(data[name])
    body["lines"] = [
        {**line, "unit_price": str(line["unit_price"]), "line_total": str(line["line_total"])} for line in data["lines"]
    ]
    return body


def request_hash(body: dict[str, Any]) -> str:
    """``commerce.services.orders.order_request_hash`` of the validated body, from the JSON body
    directly (several times faster; the tests hold the two equal)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def order_bodies(spec: DemoSpec) -> Iterator[dict[str, Any]]:
    """The spec's orders as the integration API's JSON bodies (``POST /api/v1/commerce/orders/``).

    They name customers by external_id and products by sku, so the spec's customers and
    products must be in the database (``seed`` with ``orders=0``) before they are ingested.
    """
    planner = OrderPlanner(spec, plan_products(spec), Customers(spec))
    for planned in planner.orders():
        yield order_body(planned.data)


# --- Writing --------------------------------------------------------------------------------

PRODUCT_COLUMNS = ("id", "sku", "name", "category_id", "brand_id", "price", "stock_quantity", "active",
                   "created_at", "updated_at")  # fmt: skip
USER_COLUMNS = ("id", "password", "email", "first_name", "last_name", "phone", "country", "state", "city",
                "marketing_email", "marketing_sms", "marketing_push", "external_id", "platform_signed_up_at",
                "date_joined", "role", "is_superuser", "is_staff", "is_active", "updated_at")  # fmt: skip
ORDER_COLUMNS = ("id", "external_id", "customer_id", "placed_at", "status", "currency", "subtotal", "shipping",
                 "discount_total", "tax_total", "total", "refunded_total", "shipping_country", "shipping_state",
                 "shipping_city", "payment_method", "coupon_codes", "has_unknown_skus", "request_hash",
                 "created_at", "updated_at")  # fmt: skip
LINE_COLUMNS = ("order_id", "product_id", "sku", "name", "quantity", "unit_price", "line_total",
                "refunded_quantity", "category_id", "brand_id", "category_name", "brand_name", "unknown_sku")  # fmt: skip
CHANGE_COLUMNS = ("order_id", "from_status", "to_status", "occurred_at", "refund_amount", "external_id", "reason",
                  "created_at")  # fmt: skip
EVENT_COLUMNS = ("customer_id", "kind", "product_id", "occurred_at", "created_at")


class DemoDataExists(Exception):
    """The demo data set (or part of it) is already in the database."""


class _Writer:
    """Set-based inserts and id allocation for one seeding transaction."""

    def __init__(self, method: str) -> None:
        self.method = method

    def ids(self, model: type[models.Model], count: int) -> Sequence[int]:
        return ids_allocate(model, count)

    def write(self, model: type[models.Model], columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.method == "copy":
            copy_rows(model, columns, rows)
        else:
            objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
            model.objects.bulk_create(objects, batch_size=1_000)


@dataclass
class SeedSummary:
    categories: int = 0
    brands: int = 0
    products: int = 0
    customers: int = 0
    orders: int = 0
    order_lines: int = 0
    events: int = 0
    seconds: float = 0.0
    method: str = ""

    def __str__(self) -> str:
        return (
            f"{self.categories} categories, {self.brands} brands, {self.products} products, "
            f"{self.customers} customers, {self.orders} orders ({self.order_lines} lines), "
            f"{self.events} events in {self.seconds:.1f} s ({self.method})"
        )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _bar(progress: bool, total: int, desc: str, unit: str) -> tqdm:
    return tqdm(total=total, desc=f"{desc:<9}", unit=f" {unit}", unit_scale=True, file=sys.stderr, disable=not progress)


def _refuse_duplicates(spec: DemoSpec, products: list[DemoProduct]) -> None:
    found = []
    if spec.customers and User.objects.filter(external_id=customer_external_id(0)).exists():
        found.append(f"customer {customer_external_id(0)}")
    if products and Product.objects.filter(sku=products[0].sku).exists():
        found.append(f"product {products[0].sku}")
    if spec.orders and Order.objects.filter(external_id=order_external_id(0)).exists():
        found.append(f"order {order_external_id(0)}")
    if found:
        raise DemoDataExists(f"the demo's {' and '.join(found)} already exist{'s' if len(found) == 1 else ''}")


def _write_catalogue(products: list[DemoProduct], writer: _Writer, summary: SeedSummary, progress: bool) -> None:
    """Categories and brands, then the products, which learn their ids and captured names."""
    if not products:
        return
    # Few rows: through the services, which reuse a category or brand that already exists.
    leaves = [category_ensure(path=list(leaf.path)) for leaf in LEAVES]
    brands = {name: brand_ensure(name=name) for name in BRANDS}
    summary.categories = len({leaf.pk for leaf in leaves} | {leaf.parent_id for leaf in leaves})
    summary.brands = len(brands)
    now = timezone_now()
    with _bar(progress, len(products), "products", "product") as bar:
        for chunk in _chunks(products, CHUNK):
            rows = []
            for product, product_id in zip(chunk, writer.ids(Product, len(chunk)), strict=True):
                category, brand = leaves[product.leaf], brands[product.brand]
                product.id, product.category_id, product.category_name = product_id, category.pk, category.name
                product.brand, product.brand_id = brand.name, brand.pk
                rows.append((product_id, product.sku, product.name, category.pk, brand.pk, product.price,
                             product.stock_quantity, product.active, now, now))  # fmt: skip
            writer.write(Product, PRODUCT_COLUMNS, rows)
            bar.update(len(chunk))
    summary.products = len(products)


def _write_customers(spec: DemoSpec, writer: _Writer, summary: SeedSummary, progress: bool) -> array:
    customers = Customers(spec)
    ids = array("q")
    now = timezone_now()
    constants = (Role.USER, False, False, True, now)  # role, is_superuser, is_staff, is_active, updated_at
    with _bar(progress, spec.customers, "customers", "customer") as bar:
        for first in range(0, spec.customers, CHUNK):
            count = min(CHUNK, spec.customers - first)
            chunk_ids = writer.ids(User, count)
            rows = [
                # Unusable, as make_password(None) makes them: these people have not signed up here.
                customers.row(index, user_id=user_id, password=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30))
                + constants
                for index, user_id in zip(range(first, first + count), chunk_ids, strict=True)
            ]
            writer.write(User, USER_COLUMNS, rows)
            ids.extend(chunk_ids)
            bar.update(count)
    summary.customers = spec.customers
    return ids


def _write_orders(
    spec: DemoSpec, writer: _Writer, summary: SeedSummary, progress: bool, products: list[DemoProduct], customer_ids
) -> None:
    planner = OrderPlanner(spec, products, Customers(spec))
    now = timezone_now()
    with _bar(progress, spec.orders, "orders", "order") as bar:
        for chunk in _chunks(planner.orders(), CHUNK):
            order_rows, line_rows, change_rows = [], [], []
            for planned, order_id in zip(chunk, writer.ids(Order, len(chunk)), strict=True):
                data = planned.data
                order_rows.append((
                    order_id, data["external_id"], customer_ids[planned.customer], data["placed_at"], data["status"],
                    data["currency"], data["subtotal"], data["shipping"], data["discount_total"], data["tax_total"],
                    data["total"], data["total"] if planned.refunded else ZERO, data["shipping_country"],
                    data["shipping_state"], data["shipping_city"], data["payment_method"], data["coupon_codes"],
                    False, request_hash(order_body(data)), now, now,
                ))  # fmt: skip
                for line, product in zip(data["lines"], planned.products, strict=True):
                    line_rows.append((
                        order_id, product.id, line["sku"], line["name"], line["quantity"], line["unit_price"],
                        line["line_total"], line["quantity"] if planned.refunded else 0, product.category_id,
                        product.brand_id, product.category_name, product.brand, False,
                    ))  # fmt: skip
                change_rows.append((order_id, "", data["status"], data["placed_at"], ZERO, "", "", now))
            writer.write(Order, ORDER_COLUMNS, order_rows)
            writer.write(OrderLine, LINE_COLUMNS, line_rows)
            writer.write(OrderStatusChange, CHANGE_COLUMNS, change_rows)
            summary.orders += len(order_rows)
            summary.order_lines += len(line_rows)
            bar.update(len(chunk))


def _write_events(
    spec: DemoSpec, writer: _Writer, summary: SeedSummary, progress: bool, products: list[DemoProduct], customer_ids
) -> None:
    if not spec.events_per_customer or not spec.customers:
        return
    customers = Customers(spec)
    planner = OrderPlanner(spec, products, customers)
    rng = _rng(spec, "events")
    kinds = [kind for kind, _ in EVENT_KINDS]
    kind_weights = _cumulative(weight for _, weight in EVENT_KINDS)
    as_of = int(spec.as_of.timestamp())
    now = timezone_now()
    with _bar(progress, spec.customers, "events", "customer") as bar:
        step = CHUNK // 4  # customers per round trip: about CHUNK events
        for first in range(0, spec.customers, step):
            rows = []
            last = min(first + step, spec.customers)
            for index in range(first, last):
                rank_fraction = (customers.rank(index) + 0.5) / spec.customers
                mean = spec.events_per_customer * activity(rank_fraction)
                count = int(mean * (0.5 + rng.random()) + 0.5)
                since = max(customers.signed_up_ts(index), as_of - EVENT_DAYS * DAY)
                for _ in range(count):
                    kind = kinds[_pick(kind_weights, rng.random())]
                    product_id = None if kind == "LOGIN" else planner.product(rng).id
                    occurred = datetime.fromtimestamp(rng.randint(since, as_of - 1), UTC)
                    rows.append((customer_ids[index], kind, product_id, occurred, now))
            writer.write(InteractionEvent, EVENT_COLUMNS, rows)
            summary.events += len(rows)
            bar.update(last - first)


def seed(spec: DemoSpec, *, progress: bool = False, method: str | None = None) -> SeedSummary:
    """Load the spec's demo data in one transaction; raises ``DemoDataExists`` when it is there.

    ``method`` is "copy" (PostgreSQL's COPY, the default there) or "orm" (``bulk_create``,
    the default elsewhere); both write the same rows.
    """
    method = method or ("copy" if connection.vendor == "postgresql" else "orm")
    if method == "copy" and connection.vendor != "postgresql":
        raise ValueError("COPY needs PostgreSQL.")
    started = time.monotonic()
    summary = SeedSummary(method=method)
    writer = _Writer(method)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Check foreign keys at the end of each statement rather than queueing millions of
            # deferred checks until commit: memory stays flat over a 10M-order run.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        products = plan_products(spec)
        _refuse_duplicates(spec, products)
        _write_catalogue(products, writer, summary, progress)
        customer_ids = _write_customers(spec, writer, summary, progress)
        _write_orders(spec, writer, summary, progress, products, customer_ids)
        _write_events(spec, writer, summary, progress, products, customer_ids)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred
    summary.seconds = time.monotonic() - started
    return summary
