"""Swagger's example bodies for the integration API: valid requests on ``make run``'s demo data
(customer ``C000001``, sku ``AUD-000002``). ``lms/tests/test_api_examples.py`` sends each one."""

from drf_spectacular.utils import OpenApiExample

DEMO_CUSTOMER = "C000001"
DEMO_SKU = "AUD-000002"  # Apple AirPods (3rd generation) Black, ₹21,799

PRODUCTS_BULK = [
    OpenApiExample(
        "Two products",
        request_only=True,
        value={
            "products": [
                {
                    "sku": "PHN-900001",
                    "name": "Pixel 9a 128 GB, Obsidian",
                    "price": "49999.00",
                    "stock_quantity": 40,
                    "category": "Electronics > Phones",
                    "brand": "Google",
                },
                {"sku": DEMO_SKU, "stock_quantity": 120},
            ]
        },
    )
]

CUSTOMERS_BULK = [
    OpenApiExample(
        "A new customer",
        request_only=True,
        value={
            "customers": [
                {
                    "external_id": "C900001",
                    "email": "meera.iyer@example.com",
                    "first_name": "Meera",
                    "last_name": "Iyer",
                    "phone": "+919812345678",
                    "country": "IN",
                    "state": "Karnataka",
                    "city": "Bengaluru",
                    "signed_up_at": "2026-11-20T10:15:00+05:30",
                    "marketing_email": True,
                }
            ]
        },
    )
]

ORDER = [
    OpenApiExample(
        "A paid order",
        request_only=True,
        value={
            "external_id": "ORD-EXAMPLE-1",
            "customer": {"external_id": DEMO_CUSTOMER},
            "placed_at": "2026-11-28T18:30:00+05:30",
            "status": "PAID",
            "currency": "INR",
            "subtotal": "21799.00",
            "shipping": "0.00",
            "discount_total": "500.00",
            "tax_total": "0.00",
            "total": "21299.00",
            "shipping_country": "IN",
            "shipping_state": "Maharashtra",
            "shipping_city": "Pune",
            "payment_method": "UPI",
            "coupon_codes": ["DIWALI20"],
            "lines": [{"sku": DEMO_SKU, "quantity": 1, "unit_price": "21799.00"}],
        },
    )
]
