"""Swagger's example bodies: valid requests on ``make run``'s demo data (customer ``C000001``,
sku ``AUD-000002``, the ``DIWALI20`` coupon, the LMS Rewards program, id 8 on a fresh database).
``lms/tests/test_api_examples.py`` sends each one."""

from drf_spectacular.utils import OpenApiExample

DEMO_PROGRAM_ID = 8  # seed_demo_loyalty's program, after seed_demo_campaigns' seven campaigns

_CART = {
    "customer": {"external_id": "C000001"},
    "codes": ["DIWALI20"],
    "lines": [{"sku": "AUD-000002", "quantity": 1, "unit_price": "21799.00"}],
    "shipping": "49.00",
    "location": {"country": "IN", "state": "Maharashtra", "city": "Pune"},
}

CART_EVALUATE = [
    OpenApiExample("DIWALI20 on a cart", request_only=True, value=_CART),
    OpenApiExample(
        "With loyalty points",
        request_only=True,
        value={**_CART, "use_points": {"program_id": DEMO_PROGRAM_ID, "points": 1000}},
    ),
]

REDEMPTION = [
    OpenApiExample(
        "Redeem DIWALI20 for an order",
        request_only=True,
        value={**_CART, "order_id": "ORD-EXAMPLE-2"},
    )
]

CAMPAIGN_CREATE = [
    OpenApiExample(
        "A shared coupon code",
        request_only=True,
        value={
            "name": "New Year 25% off",
            "description": "25% off the cart, up to ₹750, from ₹1,499; once per customer.",
            "status": "ACTIVE",
            "starts_at": "2026-12-31T00:00:00+05:30",
            "ends_at": "2027-01-07T23:59:59+05:30",
            "timezone": "Asia/Kolkata",
            "redemption_type": "COUPON_CODE",
            "code_type": "SHARED",
            "code": "NEWYEAR25",
            "validity": "ONE_TIME",
            "min_cart_value": "1499.00",
            "usage_limit": 5000,
            "budget": "500000.00",
            "countries": ["IN"],
            "rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "25", "max_discount": "750"}],
        },
    )
]
