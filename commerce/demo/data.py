"""The demo's fixed data: the catalogue (leaf categories, brands, price bands), names, and
the rates orders and events are drawn with."""

import sys
from dataclasses import dataclass
from decimal import Decimal

from commerce.models import OrderStatus

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
