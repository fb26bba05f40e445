"""Swagger's example bodies for segments: valid on ``make run``'s demo data (customer
``C000001``); ``lms/tests/test_api_examples.py`` sends each one."""

from drf_spectacular.utils import OpenApiExample

SEGMENT_CREATE = [
    OpenApiExample(
        "Big spenders in India, active lately",
        request_only=True,
        value={
            "name": "Big spenders, active",
            "description": "₹5,000+ in 90 days and signed in within 30 days.",
            "kind": "USER",
            "type": "DYNAMIC",
            "criteria": {
                "all": [
                    {"field": "total_spend", "op": "gte", "value": 5000, "window_days": 90},
                    {"field": "days_since_last_login", "op": "lte", "value": 30},
                    {"field": "country", "op": "eq", "value": "IN"},
                ]
            },
        },
    ),
    OpenApiExample(
        "A static list",
        request_only=True,
        value={"name": "Launch testers", "kind": "USER", "type": "STATIC", "members": ["C000001", "C000002"]},
    ),
]
