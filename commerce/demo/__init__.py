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

from commerce.demo.bodies import (
    MONEY_FIELDS,
    order_bodies,
    order_body,
    request_hash,
)
from commerce.demo.data import (
    ACTIVITY_EXPONENT,
    ACTIVITY_OFFSET,
    BANK_OFFER_RATE,
    BRANDS,
    CENT,
    CHUNK,
    COLOURS,
    COUNTRY,
    COUPON_RATE,
    COUPONS,
    DAY,
    EVENT_DAYS,
    EVENT_KINDS,
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
    SIZES,
    STATES,
    STATUS_BY_AGE,
    ZERO,
    Leaf,
    activity,
    skewed_fraction,
)
from commerce.demo.plan import (
    Customers,
    DemoProduct,
    DemoSpec,
    OrderPlanner,
    PlannedOrder,
    customer_external_id,
    default_as_of,
    order_external_id,
    plan_products,
)
from commerce.demo.write import (
    CHANGE_COLUMNS,
    EVENT_COLUMNS,
    LINE_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
    USER_COLUMNS,
    DemoDataExists,
    SeedSummary,
    seed,
)

__all__ = [
    "ACTIVITY_EXPONENT",
    "ACTIVITY_OFFSET",
    "BANK_OFFER_RATE",
    "BRANDS",
    "CENT",
    "CHANGE_COLUMNS",
    "CHUNK",
    "COLOURS",
    "COUNTRY",
    "COUPONS",
    "COUPON_RATE",
    "Customers",
    "DAY",
    "DemoDataExists",
    "DemoProduct",
    "DemoSpec",
    "EVENT_COLUMNS",
    "EVENT_DAYS",
    "EVENT_KINDS",
    "FIRST_NAMES_F",
    "FIRST_NAMES_M",
    "FREE_SHIPPING_FROM",
    "LAST_NAMES",
    "LEAVES",
    "LINE_COLUMNS",
    "LINE_COUNT_WEIGHTS",
    "Leaf",
    "MONEY_FIELDS",
    "ORDER_COLUMNS",
    "ORDER_DAYS",
    "OrderPlanner",
    "PAYMENT_METHODS",
    "PRODUCT_COLUMNS",
    "PlannedOrder",
    "SHIPPING_FEE",
    "SHIPPING_GST",
    "SIGNUP_DAYS",
    "SIZES",
    "STATES",
    "STATUS_BY_AGE",
    "SeedSummary",
    "USER_COLUMNS",
    "ZERO",
    "activity",
    "customer_external_id",
    "default_as_of",
    "order_bodies",
    "order_body",
    "order_external_id",
    "plan_products",
    "request_hash",
    "seed",
    "skewed_fraction",
]
