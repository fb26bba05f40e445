"""The load bench's data: the demo data set (``seed_demo`` and friends, as ``make prod`` loads
it) plus what the clients need to call the API as themselves: an integration API key,
customers with a known password and a session each, the catalogue's skus and prices, and
unused single-use coupon codes for redemptions. Written to a JSON file the locustfile reads.

Runs in the project's venv with Django set up on the bench database (``bench/common.py``)."""

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

CUSTOMERS = 200
# The bench customers' password (this database is the bench's own): hashing it is scrypt's
# work, done once; a rerun finds it set.
PASSWORD = "load-bench-Password-1"
PASSWORD_BATCH = 100
CODES_CAMPAIGN = "Load bench: single-use codes"
CODES_STOCK = 20_000


def _seed_demo() -> None:
    from django.core.management import call_command

    for command in ("seed_demo", "seed_demo_segments", "seed_demo_campaigns", "seed_demo_loyalty"):
        call_command(command, "--if-empty", verbosity=0)


def _customers(password: str) -> list[dict[str, str]]:
    """The first ``CUSTOMERS`` demo customers, each with ``password`` and a fresh session.
    Passwords are set in order, so when the last one is set they all are."""
    from django.db import transaction

    from accounts.models import User
    from accounts.services import session_start

    customers = list(
        User.objects.filter(is_staff=False, is_superuser=False, role="USER", is_active=True)
        .filter(external_id__isnull=False)
        .order_by("pk")[:CUSTOMERS]
    )
    unset = [] if customers and customers[-1].check_password(password) else customers
    for start in range(0, len(unset), PASSWORD_BATCH):
        with transaction.atomic():
            for user in unset[start : start + PASSWORD_BATCH]:
                user.set_password(password)
                user.save(update_fields=["password"])
    return [
        {"email": user.email, "external_id": user.external_id, "access": session_start(user=user).access}
        for user in customers
    ]


def _codes() -> list[str]:
    """Unused codes of the bench's own single-use coupon campaign (made, and topped up, here)."""
    from django.utils import timezone

    from campaigns.models import Campaign, CouponCode
    from campaigns.services.campaigns import campaign_create
    from campaigns.services.codes import codes_generate

    campaign = Campaign.objects.filter(name=CODES_CAMPAIGN).first()
    if campaign is None:
        now = timezone.now()
        campaign = campaign_create(
            name=CODES_CAMPAIGN, status="ACTIVE", starts_at=now - dt.timedelta(days=1),
            ends_at=now + dt.timedelta(days=3650), redemption_type="COUPON_CODE", code_type="UNIQUE",
            rules=[{"rule_type": "WHOLE_CART", "discount_type": "FIXED_AMOUNT", "value": Decimal("50")}],
        )  # fmt: skip
    unused = CouponCode.objects.filter(campaign=campaign, uses=0, assigned_to__isnull=True)
    missing = CODES_STOCK - unused.count()
    if missing > 0:
        codes_generate(campaign=campaign, count=missing, prefix="LOAD-", batch=f"load-{secrets.token_hex(3)}")
    return list(unused.values_list("code", flat=True)[:CODES_STOCK])


def _products() -> list[dict[str, str]]:
    from commerce.models import Product

    return [
        {"sku": sku, "price": str(price)}
        for sku, price in Product.objects.filter(active=True).order_by("pk").values_list("sku", "price")[:200]
    ]


def world_build(*, password: str = PASSWORD) -> dict[str, Any]:
    from rest_framework_api_key.models import APIKey

    _seed_demo()
    _, key = APIKey.objects.create_key(name=f"load-{secrets.token_hex(4)}")
    return {
        "api_key": key,
        "password": password,
        "customers": _customers(password),
        "products": _products(),
        "codes": _codes(),
    }
