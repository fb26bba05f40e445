"""Swagger's example bodies for loyalty: valid on ``make run``'s demo data (the LMS Rewards
program, id 8 on a fresh database; customer ``C000001``); ``lms/tests/test_api_examples.py``
sends each one."""

from drf_spectacular.utils import OpenApiExample

REDEEM = [
    OpenApiExample(
        "The integration spends a customer's points",
        request_only=True,
        value={"program_id": 8, "points": 500, "order_id": "ORD-EXAMPLE-3", "customer": {"external_id": "C000001"}},
    )
]
