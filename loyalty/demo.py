"""A demo loyalty program for ``make run``, built through the services over the demo catalogue,
with the demo orders' points earned (so customers have balances, tiers and history)."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from commerce.models import Category
from loyalty.models import LoyaltyProgram
from loyalty.services.earning import orders_earn_backfill
from loyalty.services.programs import program_create

D = Decimal
# The demo program is found by this name, so seeding it again makes no second one.
DEMO_PROGRAM_NAME = "LMS Rewards"


def demo_loyalty_seed(*, now: dt.datetime | None = None) -> LoyaltyProgram:
    now = now or timezone.now()
    top = list(Category.objects.filter(parent__isnull=True).order_by("pk")[:2])
    rules = [
        {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": D("1"), "rounding": "DOWN"},
        {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": 500},
        {
            "rule_type": "DAILY_LOGIN_STREAK", "base_points": 5, "max_multiplier": D("3"),
            "streak_steps": [{"days": 7, "multiplier": "2"}, {"days": 30, "multiplier": "3"}],
        },
    ]  # fmt: skip
    if top:
        rules.append({"rule_type": "CATEGORY_POINTS", "points_per_rupee": D("2"), "category_ids": [top[0].pk]})
    program = program_create(
        name=DEMO_PROGRAM_NAME,
        description="1 point per rupee (2 in the first category), 500 on the first order, daily login streaks.",
        status="ACTIVE",
        starts_at=now - dt.timedelta(days=400),
        rules=rules,
        tiers=[
            {"name": "Bronze", "threshold": D("0"), "multiplier": D("1")},
            {"name": "Silver", "threshold": D("5000"), "multiplier": D("1.25")},
            {"name": "Gold", "threshold": D("20000"), "multiplier": D("1.5")},
        ],
        settings={"point_value": D("0.10"), "min_redeem_points": 100, "expiry_days": 365},
    )
    orders_earn_backfill()
    return program
