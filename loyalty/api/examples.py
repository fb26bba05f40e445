"""Swagger's example bodies for loyalty: valid on ``make run``'s demo data (the LMS Rewards
program, id 8 on a fresh database; customer ``C000001``; category 1, Electronics).
``lms/tests/test_api_examples.py`` sends each one."""

from drf_spectacular.utils import OpenApiExample

REDEEM = [
    OpenApiExample(
        "The integration spends a customer's points",
        request_only=True,
        value={"program_id": 8, "points": 500, "order_id": "ORD-EXAMPLE-3", "customer": {"external_id": "C000001"}},
    )
]

PROGRAM_CREATE = [
    OpenApiExample(
        "Points per rupee, more on electronics, tiers",
        request_only=True,
        value={
            "name": "Festive Rewards",
            "description": "1 point per ₹1, 3 on electronics; a 250-point first order bonus.",
            "status": "ACTIVE",
            "starts_at": "2026-12-01T00:00:00+05:30",
            "ends_at": "2027-03-31T23:59:59+05:30",
            "point_value": "0.25",
            "min_redeem_points": 200,
            "expiry_days": 180,
            "rules": [
                {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1", "rounding": "DOWN"},
                {"rule_type": "CATEGORY_POINTS", "points_per_rupee": "3", "category_ids": [1]},
                {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 250, "min_order_value": "999"},
            ],
            "tiers": [
                {"name": "Member", "threshold": "0", "multiplier": "1"},
                {"name": "Insider", "threshold": "10000", "multiplier": "1.5"},
            ],
        },
    )
]
