"""The bench's world for ``bench/cart_evaluate.py``: the catalogue, customers and segments it
seeds, and the campaigns it draws (every rule type and feature at fixed strides)."""

import datetime as dt
import random
import sys
from decimal import Decimal

SEGMENTS = 20
SEGMENTS_OF_CUSTOMER = 6
UNIQUE_CODE = "VIPX7K2M9"
CENT = Decimal("0.01")


def reset() -> None:
    """Empty every table the bench writes (users cascade to orders, memberships, redemptions)."""
    from django.apps import apps
    from django.db import connection

    tables = {"accounts_user", "rest_framework_api_key_apikey"}
    for label in ("commerce", "segments", "campaigns"):
        tables |= {model._meta.db_table for model in apps.get_app_config(label).get_models(include_auto_created=True)}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(sorted(tables))} RESTART IDENTITY CASCADE")


def seed_commerce(seed: int) -> None:
    from django.db import connection

    from commerce import demo

    spec = demo.DemoSpec(seed=seed, products=1_000, customers=2_000, orders=8_000, events_per_customer=0)
    print(f"seeded {demo.seed(spec)}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class World:
    """What the campaigns are drawn from, and the customer and cart they are judged for."""

    def __init__(self, rng: random.Random, lines: int) -> None:
        from django.db.models import Count, Q

        from accounts.models import User
        from commerce.models import Category, OrderStatus, Product

        self.rng = rng
        products = list(
            Product.objects.filter(active=True).order_by("pk").values("pk", "sku", "price", "category_id", "brand_id")
        )
        self.products = [p["pk"] for p in products]
        self.categories = list(Category.objects.order_by("pk").values_list("pk", flat=True))
        self.brands = sorted({p["brand_id"] for p in products if p["brand_id"]})
        self.parents = dict(Category.objects.values_list("pk", "parent_id"))
        # A cart draws on a few departments, as a shopper's does (then on any, if they run short).
        shelves = sorted({p["category_id"] for p in products})
        picked = set(rng.sample(shelves, min(4, len(shelves))))
        near = [p for p in products if p["category_id"] in picked]
        self.cart_products = rng.sample(near if len(near) >= lines else products, lines)
        self.lines = [
            {"sku": p["sku"], "quantity": rng.choice((1, 1, 1, 1, 2, 2, 3)), "unit_price": str(p["price"])}
            for p in self.cart_products
        ]
        self.customer = (
            User.objects.annotate(n=Count("orders", filter=~Q(orders__status=OrderStatus.CANCELLED)))
            .filter(n__gte=3, n__lte=8)
            .order_by("pk")
            .first()
        )
        if self.customer is None:
            sys.exit("no demo customer with 3-8 orders; change --seed")

    def _ancestors(self, category_id):
        found = []
        while category_id is not None and category_id not in found:
            found.append(category_id)
            category_id = self.parents.get(category_id)
        return found

    def targets(self, kind: str, count: int) -> list[int]:
        """``count`` targets off the cart, plus one in it one time in five (so about that share matches)."""
        if kind == "category":
            in_cart = [c for p in self.cart_products for c in self._ancestors(p["category_id"])]
            pool = self.categories
        elif kind == "brand":
            in_cart, pool = [p["brand_id"] for p in self.cart_products if p["brand_id"]], self.brands
        else:
            in_cart, pool = [p["pk"] for p in self.cart_products], self.products
        pool = sorted(set(pool) - set(in_cart))
        chosen = set(self.rng.sample(pool, min(count, len(pool))))
        if self.rng.random() < 1 / 5:
            chosen.add(self.rng.choice(in_cart))
        return sorted(chosen)


def make_segments(world: World) -> tuple[list[int], list[int]]:
    """Static segments of 300 customers each; the bench customer is in some of them."""
    from accounts.models import User
    from segments.services import segment_create

    emails = list(User.objects.exclude(pk=world.customer.pk).order_by("pk").values_list("email", flat=True))
    mine = set(world.rng.sample(range(SEGMENTS), SEGMENTS_OF_CUSTOMER))
    ids = []
    for index in range(SEGMENTS):
        members = world.rng.sample(emails, 300) + ([world.customer.email] if index in mine else [])
        segment = segment_create(name=f"bench group {index + 1}", kind="USER", type="STATIC", members=members)
        ids.append(segment.pk)
    return ids, sorted(ids[index] for index in mine)


def campaign_spec(index: int, world: World, segments: list[int], segmented: set[int]) -> dict:
    """Campaign ``index``'s fields and rules: the rule type cycles with the index, the other
    features come at fixed strides. The first 20 already have every kind of fact the selector
    loads (the typed codes, segments, per-customer and per-period limits, counters), so the
    query counts at 20 and at 200 campaigns compare like with like."""
    from django.utils import timezone

    rng, now = world.rng, timezone.now()
    pct = lambda low, high: Decimal(rng.randrange(low, high + 1))  # noqa: E731
    fields = {
        "name": f"bench campaign {index + 1}",
        "status": "ACTIVE",
        "kind": "DISCOUNT_COUPON",
        "starts_at": now - dt.timedelta(days=rng.randrange(1, 60)),
        "ends_at": None if index % 3 else now + dt.timedelta(days=rng.randrange(5, 90)),
        "priority": rng.randrange(0, 10),
    }
    template = index % 10
    if template == 0:
        rules = [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": pct(5, 15),
                  "max_discount": Decimal(rng.choice((250, 500, 1_000)))}]  # fmt: skip
        fields["min_cart_value"] = Decimal(rng.choice((500, 2_000, 5_000, 500_000)))
        fields.update(stackable=False, priority=rng.randrange(0, 3))  # order-level deals do not combine
    elif template == 1:
        rules = [{"rule_type": "CATEGORY", "discount_type": "PERCENTAGE", "value": pct(5, 20),
                  "max_discount": Decimal(rng.choice((300, 750, 1_500))),
                  "category_ids": world.targets("category", rng.randrange(1, 4))}]  # fmt: skip
    elif template == 2:
        rules = [{"rule_type": "BRAND", "discount_type": "FIXED_AMOUNT", "value": Decimal(rng.choice((50, 100, 250))),
                  "brand_ids": world.targets("brand", rng.randrange(1, 3))}]  # fmt: skip
    elif template == 3:  # shared coupon codes
        fields.update(redemption_type="COUPON_CODE", code_type="SHARED", code=f"BENCH{index:03d}")
        rules = [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": pct(5, 20),
                  "max_discount": Decimal(rng.choice((200, 500, 1_000)))}]  # fmt: skip
        if index % 20 == 13:
            fields["validity"] = "ONE_TIME"
        else:
            fields["customer_limit"] = 3
    elif template == 4:
        rules = [{"rule_type": "PRODUCT", "discount_type": "PERCENTAGE", "value": pct(10, 30),
                  "product_ids": world.targets("product", rng.randrange(5, 50)), "max_quantity": 2}]  # fmt: skip
    elif template == 5:
        rules = [{"rule_type": "BULK_PURCHASE", "discount_type": "PERCENTAGE",
                  "tiers": [{"threshold": "3", "value": "5"}, {"threshold": "10", "value": "10"},
                            {"threshold": "25", "value": "15"}],
                  "category_ids": world.targets("category", rng.randrange(1, 3))}]  # fmt: skip
    elif template == 6:
        rules = [{"rule_type": "CUSTOM_CART_TOTAL", "discount_type": "FIXED_AMOUNT",
                  "tiers": [{"threshold": "2000", "value": "100"}, {"threshold": "10000", "value": "750"},
                            {"threshold": "50000", "value": "5000"}]}]  # fmt: skip
        fields.update(stackable=False, priority=rng.randrange(0, 3))
    elif template == 7:
        rules = [{"rule_type": "BUY_X_GET_Y", "discount_type": "PERCENTAGE", "value": Decimal(rng.choice((50, 100))),
                  "buy_quantity": 2, "get_quantity": 1, "max_applications": 3,
                  "category_ids": world.targets("category", rng.randrange(1, 4))}]  # fmt: skip
    elif template == 8:
        fields["kind"] = "FREE_SHIPPING"
        fields["min_cart_value"] = Decimal(rng.choice((499, 999, 99_999)))
        rules = [{"rule_type": "WHOLE_CART", "discount_type": "FREE_SHIPPING",
                  "max_discount": Decimal(rng.choice((50, 80))) if index % 20 == 8 else None}]  # fmt: skip
    else:  # a budgeted, usage-limited brand deal; two rules
        rules = [
            {"rule_type": "BRAND", "discount_type": "FIXED_AMOUNT", "value": Decimal(rng.choice((100, 200))),
             "brand_ids": world.targets("brand", 2)},
            {"rule_type": "CATEGORY", "discount_type": "PERCENTAGE", "value": pct(2, 5),
             "category_ids": world.targets("category", 2)},
        ]  # fmt: skip
        fields.update(budget=Decimal(rng.choice((10_000, 50_000))), usage_limit=rng.choice((100, 1_000)))
    if index == 19:  # single-use codes (the cart types one of them)
        fields.update(redemption_type="COUPON_CODE", code_type="UNIQUE", code="")
    elif index % 20 in (10, 16):  # more shared codes, not typed: not candidates
        fields.update(redemption_type="COUPON_CODE", code_type="SHARED", code=f"BENCH{index:03d}")
    if index % 7 == 0:
        fields["usage_limit"] = rng.choice((50, 500, 5_000))
    if index % 11 == 0:
        fields["budget"] = Decimal(rng.choice((5_000, 20_000)))
    if index % 13 == 4 and "validity" not in fields:
        fields.update(period_limit=1, period=("DAY", "WEEK", "MONTH")[index % 3])
    elif index % 6 == 2 and "validity" not in fields:
        fields["customer_limit"] = 2
    if index % 8 == 2:  # combines with nothing; low priority, so it meets campaigns applied before it
        fields.update(stackable=False, priority=rng.randrange(0, 3))
    if index in (17, 117):  # exclusive deals for big carts (the bench cart is below: a hint)
        fields.update(exclusive=True, min_cart_value=Decimal(500_000))
    if index % 15 == 3:
        fields["countries"] = ["IN"] if index % 2 else ["AE"]
    if index % 17 == 5:
        fields["weekdays"] = ["FRI", "SAT", "SUN"]
    if index % 19 == 6:
        fields.update(daily_start=dt.time(18), daily_end=dt.time(2))
    if index % 50 == 11:
        fields["starts_at"] = now + dt.timedelta(days=2)  # scheduled, not started
    audience_segments = None
    if index in segmented:
        fields["audience"] = "SEGMENTS"
        audience_segments = rng.sample(segments, rng.choice((1, 1, 2, 3)))
    elif index % 9 == 4:
        fields["audience"] = ("NEW_USERS", "EXISTING_USERS")[index % 2]
    return {"rules": rules, "segment_ids": audience_segments, **fields}


def segmented_indexes(campaigns: int, segmented: int) -> set[int]:
    """Which campaigns have segment audiences: spread evenly, so the first 20 have some."""
    if not segmented:
        return set()
    step = campaigns / segmented
    return {int(k * step + step / 2) for k in range(segmented)}


def make_campaigns(world: World, indexes: range, segment_ids: list[int], segmented: set[int]) -> None:
    from campaigns.services.campaigns import campaign_create
    from campaigns.services.codes import codes_generate, codes_import

    for index in indexes:
        spec = campaign_spec(index, world, segment_ids, segmented)
        campaign = campaign_create(**spec)
        if campaign.code_type == "UNIQUE":
            codes_import(campaign=campaign, codes=[UNIQUE_CODE])
            codes_generate(campaign=campaign, count=5_000)


def history(world: World, rng: random.Random) -> None:
    """Three earlier redemptions by the customer; uses and spend of every limited campaign
    (some have reached their usage limit)."""
    from django.utils import timezone

    from campaigns.evaluation import CartRequest
    from campaigns.models import Campaign, CampaignCounter
    from campaigns.services.redemptions import redemption_create

    for number in range(3):
        lines = [{**line, "unit_price": Decimal(line["unit_price"])} for line in rng.sample(world.lines, 4)]
        request = CartRequest(lines=lines, at=timezone.now(), customer=world.customer, customer_known=True)
        redemption_create(
            order_id=f"bench-{number + 1}", customer=world.customer, request=request, body={"order": number}
        )
    for campaign in Campaign.objects.filter(usage_limit__isnull=False) | Campaign.objects.filter(budget__isnull=False):
        uses = rng.randrange(0, campaign.usage_limit) if campaign.usage_limit else rng.randrange(0, 300)
        if campaign.usage_limit and rng.random() < 0.1:
            uses = campaign.usage_limit
        spent = (campaign.budget * Decimal(rng.uniform(0, 0.8))).quantize(CENT) if campaign.budget else Decimal(0)
        CampaignCounter.objects.filter(pk=campaign.pk).update(uses=uses, discount_spent=spent)
