"""Swagger's example bodies for promotions (``lms/tests/test_api_examples.py`` sends each one)."""

from drf_spectacular.utils import OpenApiExample

PROMOTION_CREATE = [
    OpenApiExample(
        "A sale for everyone, in the app and by mail",
        request_only=True,
        value={
            "title": "Diwali sale, {{ first_name }}!",
            "description": "20% off everything this week. Use {{ code }} at checkout.",
            "image_url": "https://cdn.example.com/banners/diwali.png",
            "cta_text": "Shop now",
            "cta_url": "https://shop.example.com/sale",
            "audience": "ALL",
            "channels": ["IN_APP", "EMAIL"],
        },
    ),
]
