"""The ORM side of the cart engine: a cached snapshot of the live campaigns, and the facts of
one cart and customer, loaded in a constant number of queries whatever the campaign count.

The snapshot is kept per process and tagged with a version held in the shared cache (Redis):
any campaign change bumps the version on commit, so every node rebuilds on its next
evaluation. It is also rebuilt after ``SNAPSHOT_TTL`` seconds, which bounds how long a new
sub-category takes to count under a targeted parent.
"""

import dataclasses
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from accounts.models import User
from campaigns import engine
from campaigns.engine import types as t
from campaigns.models import (
    WEEKDAYS,
    Campaign,
    CampaignCounter,
    CampaignStatus,
    CouponCode,
    DiscountRule,
    Redemption,
    RedemptionStatus,
)
from campaigns.points import POINTS_REASONS, PointsQuote, PointsRequest, points_apply
from commerce.models import Brand, Category, Order, OrderStatus, Product
from lms.db import one_of, sql_in
from segments.models import CustomerMembership

SNAPSHOT_TTL = dt.timedelta(seconds=60)
VERSION_KEY = "campaigns:snapshot:version"
# A pinned evaluation time may lie this far in the past (checkout evaluated, redeemed later):
# the snapshot keeps campaigns that ended within it so the redemption still finds them.
AT_GRACE = dt.timedelta(days=1)
RECENT = dt.timedelta(days=32)  # covers the longest per-period limit (a month)


@dataclass(frozen=True)
class Snapshot:
    version: str
    built_at: dt.datetime
    campaigns: dict[int, t.Campaign]
    automatic: tuple[t.Campaign, ...]
    by_code: dict[str, int]
    category_parents: dict[int, int | None]


_local: dict[str, Snapshot] = {}


def snapshot_invalidate() -> None:
    """Every node rebuilds its snapshot now and again once this transaction commits (a
    rebuild in between would still read the old rows, and be tagged with the first version)."""

    def bump() -> None:
        # This node forgets its own copy too: with Redis down the version cannot move, and the
        # node that made the change must not serve the old campaigns for a TTL.
        _local.clear()
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)

    bump()
    transaction.on_commit(bump)


def snapshot_version() -> str | None:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    return version


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _engine_rule(rule: DiscountRule, categories, brands, products) -> t.Rule:
    return t.Rule(
        id=rule.pk,
        rule_type=rule.rule_type,
        discount_type=rule.discount_type,
        value=rule.value,
        max_discount=rule.max_discount,
        min_quantity=rule.min_quantity,
        max_quantity=rule.max_quantity,
        tiers=tuple(t.Tier(threshold=Decimal(x["threshold"]), value=Decimal(x["value"])) for x in rule.tiers or ()),
        category_ids=frozenset(categories.get(rule.pk, ())),
        brand_ids=frozenset(brands.get(rule.pk, ())),
        product_ids=frozenset(products.get(rule.pk, ())),
        buy_quantity=rule.buy_quantity,
        get_quantity=rule.get_quantity,
        max_applications=rule.max_applications,
    )


def engine_campaign(campaign: Campaign, rules: Iterable[t.Rule] = (), segment_ids: Iterable[int] = ()) -> t.Campaign:
    """The engine's view of a campaign row (rules and segments given separately: they are bulk-loaded)."""
    return t.Campaign(
        id=campaign.pk,
        name=campaign.name,
        kind=campaign.kind,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        active=campaign.status == CampaignStatus.ACTIVE and not campaign.archived,
        timezone=campaign.timezone,
        weekdays=frozenset(WEEKDAYS.index(day) for day in campaign.weekdays)
        if campaign.weekdays
        else frozenset(range(7)),
        daily_start=campaign.daily_start,
        daily_end=campaign.daily_end,
        priority=campaign.priority,
        currency=campaign.currency,
        audience=campaign.audience,
        segment_ids=frozenset(segment_ids),
        countries=frozenset(v.casefold() for v in campaign.countries or ()),
        states=frozenset(v.casefold() for v in campaign.states or ()),
        cities=frozenset(v.casefold() for v in campaign.cities or ()),
        redemption_type=campaign.redemption_type,
        code=campaign.code.upper(),
        min_cart_value=campaign.min_cart_value,
        max_discount=campaign.max_discount,
        exclusive=campaign.exclusive,
        stackable=campaign.stackable,
        usage_limit=campaign.usage_limit,
        customer_limit=campaign.customer_limit,
        period_limit=campaign.period_limit,
        period=campaign.period,
        budget=campaign.budget,
        rules=tuple(rules),
    )


def engine_campaigns(campaigns: list[Campaign]) -> list[t.Campaign]:
    """Engine campaigns with their rules, targets and segments, in five queries for any number."""
    ids = [c.pk for c in campaigns]
    rules = list(DiscountRule.objects.filter(campaign_id__in=ids).order_by("campaign_id", "position", "id"))
    rule_ids = [r.pk for r in rules]
    targets = {}
    for name, column in (("categories", "category_id"), ("brands", "brand_id"), ("products", "product_id")):
        through = getattr(DiscountRule, name).through
        by_rule = defaultdict(list)
        if rule_ids:
            for rule_id, target in through.objects.filter(discountrule_id__in=rule_ids).values_list(
                "discountrule_id", column
            ):
                by_rule[rule_id].append(target)
        targets[name] = by_rule
    segments = defaultdict(list)
    for campaign_id, segment_id in Campaign.segments.through.objects.filter(campaign_id__in=ids).values_list(
        "campaign_id", "segment_id"
    ):
        segments[campaign_id].append(segment_id)
    by_campaign = defaultdict(list)
    for rule in rules:
        by_campaign[rule.campaign_id].append(
            _engine_rule(rule, targets["categories"], targets["brands"], targets["products"])
        )
    return [engine_campaign(c, by_campaign[c.pk], segments[c.pk]) for c in campaigns]


def _build(version: str, now: dt.datetime) -> Snapshot:
    rows = list(
        Campaign.objects.discounts()
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now - AT_GRACE), status=CampaignStatus.ACTIVE, archived=False)
        .order_by("pk")
    )
    campaigns = {c.id: c for c in engine_campaigns(rows)}
    values = list(campaigns.values())
    return Snapshot(
        version=version,
        built_at=now,
        campaigns=campaigns,
        automatic=tuple(c for c in values if c.redemption_type == t.AUTOMATIC),
        by_code={c.code: c.id for c in values if c.code},
        category_parents=dict(Category.objects.values_list("pk", "parent_id")),
    )


def snapshot_get(now: dt.datetime) -> Snapshot:
    """This process's snapshot, rebuilt when a campaign changed anywhere or it is too old."""
    version = snapshot_version()
    snapshot = _local.get("current")
    if (
        snapshot is None
        or snapshot.version != version
        or not (dt.timedelta(0) <= now - snapshot.built_at < SNAPSHOT_TTL)
    ):
        snapshot = _build(version, now)
        _local["current"] = snapshot
    return snapshot


# --- One cart ----------------------------------------------------------------------------------


@dataclass
class CartRequest:
    """A validated evaluate (or redemption) body, with the customer already resolved."""

    lines: list[dict[str, Any]]
    at: dt.datetime
    customer: User | None = None
    customer_known: bool = False  # an identity was given, even if we have no record yet
    codes: list[str] = field(default_factory=list)
    shipping: Decimal = Decimal("0.00")
    currency: str = "INR"
    location: dict[str, str] = field(default_factory=dict)
    order_id: str = ""
    use_points: PointsRequest | None = None


@dataclass(frozen=True)
class Evaluation:
    result: t.Result
    coupon_codes: dict[str, int]  # upper-cased code -> CouponCode id, for the single-use codes used
    campaigns: dict[int, t.Campaign]  # the campaigns judged, as judged (limits and budgets)
    points: PointsQuote | None = None  # the points spent as a discount line, if asked and allowed


def category_ancestors(category_id: int | None, parents: dict[int, int | None]) -> frozenset[int]:
    found: set[int] = set()
    while category_id is not None and category_id not in found:
        found.add(category_id)
        category_id = parents.get(category_id)
    return frozenset(found)


def _lines(request: CartRequest, parents: dict[int, int | None]) -> tuple[t.Line, ...]:
    skus = {line["sku"] for line in request.lines}
    products = {
        sku: (pk, category, brand)
        for sku, pk, category, brand in Product.objects.filter(sku__in=one_of(skus, "text")).values_list(
            "sku", "pk", "category_id", "brand_id"
        )
    }
    named_categories = {
        line["category"] for line in request.lines if line.get("category") and line["sku"] not in products
    }
    named_brands = {line["brand"] for line in request.lines if line.get("brand") and line["sku"] not in products}
    categories = _by_reference(Category, named_categories)
    brands = _by_reference(Brand, named_brands)
    if any(pk not in parents for pk in categories.values()) or any(
        c not in parents for _, c, _ in products.values() if c is not None
    ):
        parents = {
            **parents,
            **dict(Category.objects.values_list("pk", "parent_id")),
        }  # a category newer than the snapshot
    lines = []
    for line in request.lines:
        product_id, category_id, brand_id = products.get(line["sku"], (None, None, None))
        if product_id is None:
            category_id = categories.get(line.get("category") or "")
            brand_id = brands.get(line.get("brand") or "")
        lines.append(
            t.Line(
                sku=line["sku"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                product_id=product_id,
                category_ids=category_ancestors(category_id, parents),
                brand_id=brand_id,
            )
        )
    return tuple(lines)


def _by_reference(model, references: set[str]) -> dict[str, int]:
    """Lines of products we do not mirror may name their category or brand: by external id or name."""
    if not references:
        return {}
    rows = list(
        model.objects.filter(Q(external_id__in=references) | Q(name__in=references))
        .order_by("pk")
        .values_list("pk", "name", "external_id")
    )
    by_name = {name: pk for pk, name, _ in reversed(rows)}  # the oldest of two same-named rows
    by_external = {external_id: pk for pk, _, external_id in rows if external_id}
    return {ref: by_external.get(ref, by_name.get(ref)) for ref in references if ref in by_external or ref in by_name}


def _codes(request: CartRequest, snapshot: Snapshot) -> tuple[list[t.CodeFact], dict[str, int], list[t.Campaign]]:
    """The typed codes as found, the single-use code ids, and stubs for campaigns outside the
    snapshot (switched off, ended) so the engine can say why their code does not apply."""
    typed = [code for code in request.codes if code.strip()]
    wanted = {code.strip().upper() for code in typed}
    unique = {}
    if wanted - set(snapshot.by_code):
        unique = {
            row["code"]: row
            for row in CouponCode.objects.filter(code__in=wanted - set(snapshot.by_code)).values(
                "id", "code", "campaign_id", "uses", "max_uses", "assigned_to_id", "assigned_at"
            )
        }
    outside_ids = {row["campaign_id"] for row in unique.values()} - set(snapshot.campaigns)
    unmatched = wanted - set(snapshot.by_code) - set(unique)
    stubs = []
    if outside_ids or unmatched:
        outside = Campaign.objects.discounts().filter(Q(pk__in=outside_ids) | Q(code__in=unmatched, archived=False))
        for campaign in outside:
            stubs.append(engine_campaign(campaign))
            if campaign.code:
                unique.setdefault(campaign.code.upper(), {"campaign_id": campaign.pk, "shared": True})
    by_code = {**{code: {"campaign_id": pk, "shared": True} for code, pk in snapshot.by_code.items()}, **unique}
    facts = []
    for code in typed:
        row = by_code.get(code.strip().upper())
        if row is None:
            facts.append(t.CodeFact(code=code, campaign_id=None))
        elif row.get("shared"):
            facts.append(t.CodeFact(code=code, campaign_id=row["campaign_id"]))
        else:
            facts.append(
                t.CodeFact(
                    code=code,
                    campaign_id=row["campaign_id"],
                    single_use=True,
                    uses=row["uses"],
                    max_uses=row["max_uses"],
                    assigned=row["assigned_at"] is not None,
                    owner_id=row["assigned_to_id"],
                )
            )
    coupon_ids = {code: row["id"] for code, row in unique.items() if "id" in row}
    return facts, coupon_ids, stubs


class _Facts:
    """The customer's facts and the campaigns' counters in ONE round trip: a ``UNION ALL`` of
    small indexed reads, one row kind per part (``kind, ref, n, amount, at``). On the hot
    path Django's compiling of five querysets cost more than running them."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, kind: str, select: str, table: str, where: str, params: list[Any], ids=None, tail: str = "") -> None:
        self.params.extend(params)
        condition = where.replace("{ids}", sql_in(ids, self.params)) if ids is not None else where
        self.parts.append(f"SELECT '{kind}', {select} FROM {table} WHERE {condition}{tail}")  # kind: ours

    def run(self) -> list[tuple]:
        if not self.parts:
            return []
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(self.parts), self.params)
            return cursor.fetchall()


NULL_N, NULL_AMOUNT, NULL_AT = "CAST(NULL AS BIGINT)", "CAST(NULL AS NUMERIC)", "CAST(NULL AS TIMESTAMP)"


def _aware(value) -> dt.datetime:
    if isinstance(value, str):  # SQLite hands datetimes back as text, in UTC
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _facts(request: CartRequest, candidates: list[t.Campaign]) -> dict[str, Any]:
    """What the candidates need to know of the customer (earlier orders, segments, uses) and
    their counters, read in one query."""
    customer = request.customer
    counted = [c.id for c in candidates if c.usage_limit is not None or c.budget is not None]
    limited = [c.id for c in candidates if c.customer_limit or c.period_limit]
    per_period = [c.id for c in candidates if c.period_limit and c.period != t.PERIOD_LIFETIME]
    segments = {s for c in candidates for s in c.segment_ids}
    query = _Facts()
    if counted:
        query.add(
            "counter", f"campaign_id, uses, discount_spent, {NULL_AT}", CampaignCounter._meta.db_table,
            "campaign_id {ids}", [], ids=counted,
        )  # fmt: skip
    if customer is not None:
        earlier = (
            f"(SELECT id FROM {Order._meta.db_table} WHERE customer_id = %s AND status <> %s"
            " AND external_id <> %s LIMIT 1) AS earlier"
        )
        query.add(
            "order", f"id, {NULL_N}, {NULL_AMOUNT}, {NULL_AT}", earlier, "1 = 1",
            [customer.pk, OrderStatus.CANCELLED, request.order_id],
        )  # fmt: skip
        if segments:
            query.add(
                "segment", f"segment_id, {NULL_N}, {NULL_AMOUNT}, {NULL_AT}", CustomerMembership._meta.db_table,
                "customer_id = %s AND segment_id {ids}", [customer.pk], ids=segments,
            )  # fmt: skip
        redeemed = "customer_id = %s AND status = %s AND campaign_id {ids}"
        if limited:
            query.add(
                "lifetime", f"campaign_id, COUNT(*), {NULL_AMOUNT}, {NULL_AT}", Redemption._meta.db_table,
                redeemed, [customer.pk, RedemptionStatus.REDEEMED], ids=limited, tail=" GROUP BY campaign_id",
            )  # fmt: skip
        if per_period:
            since = connection.ops.adapt_datetimefield_value(request.at - RECENT)
            query.add(
                "recent", f"campaign_id, {NULL_N}, {NULL_AMOUNT}, redeemed_at", Redemption._meta.db_table,
                redeemed + " AND redeemed_at >= %s", [customer.pk, RedemptionStatus.REDEEMED], ids=per_period,
            )  # fmt: skip
            query.params.append(since)
    counters, member_of, lifetime, recent, has_orders = {}, set(), {}, defaultdict(list), False
    for kind, ref, n, amount, at in query.run():
        if kind == "counter":
            counters[ref] = t.Counter(uses=n, discount_spent=Decimal(str(amount)).quantize(Decimal("0.01")))
        elif kind == "order":
            has_orders = True
        elif kind == "segment":
            member_of.add(ref)
        elif kind == "lifetime":
            lifetime[ref] = n
        else:
            recent[ref].append(_aware(at))
    facts: dict[str, Any] = {"counters": counters}
    if customer is None:
        return {**facts, "customer_id": 0 if request.customer_known else None, "is_new_customer": True}
    usage = {cid: t.Usage(lifetime=n, recent=tuple(sorted(recent[cid]))) for cid, n in lifetime.items()}
    return {
        **facts,
        "customer_id": customer.pk,
        "is_new_customer": not has_orders,
        "segment_ids": frozenset(member_of),
        "usage": usage,
    }


def _location(request: CartRequest) -> t.Location:
    """The cart's location, else the customer's profile."""
    given, customer = request.location or {}, request.customer
    if any(given.get(key) for key in ("country", "state", "city")) or customer is None:
        return t.Location(**{key: (given.get(key) or "").strip().casefold() for key in ("country", "state", "city")})
    return t.Location(
        country=(customer.country or "").casefold(),
        state=(customer.state or "").casefold(),
        city=(customer.city or "").casefold(),
    )


def cart_evaluate(request: CartRequest, *, only: Campaign | None = None) -> Evaluation:
    """What applies to this cart for this customer at ``request.at``: the engine's Result.
    ``only`` judges that one campaign alone, whatever its status (the console's test form)."""
    snapshot = snapshot_get(dt.datetime.now(dt.UTC))
    lines = _lines(request, snapshot.category_parents)
    codes, coupon_ids, stubs = _codes(request, snapshot)
    if only is not None:
        candidates = engine_campaigns([only])
        codes = [fact for fact in codes if fact.campaign_id in (None, only.pk)]
    else:
        candidates = [*snapshot.automatic, *stubs]
        named = {fact.campaign_id for fact in codes if fact.campaign_id is not None}
        candidates += [snapshot.campaigns[cid] for cid in sorted(named) if cid in snapshot.campaigns]
        candidates = list({c.id: c for c in candidates}.values())
    context = t.Context(at=request.at, location=_location(request), codes=tuple(codes), **_facts(request, candidates))
    cart = t.Cart(lines=lines, shipping=request.shipping, currency=request.currency.upper())
    result = engine.evaluate(cart=cart, context=context, campaigns=candidates, explain=only is not None)
    quote = None
    if request.use_points is not None:
        if request.customer is None and request.customer_known:  # not mirrored yet: no points
            result = dataclasses.replace(result, rejected=(*result.rejected, _no_points(request.use_points)))
        else:
            result, quote = points_apply(
                result,
                lines,
                customer_id=request.customer.pk if request.customer is not None else None,
                request=request.use_points,
                currency=cart.currency,
                at=request.at,
            )
    return Evaluation(result=result, coupon_codes=coupon_ids, campaigns={c.id: c for c in candidates}, points=quote)


def _no_points(request: PointsRequest) -> t.Rejected:
    return t.Rejected(
        reason="insufficient_points", message=POINTS_REASONS["insufficient_points"], campaign_id=request.program_id
    )


# --- A customer's offers and own codes ---------------------------------------------------------


def customer_codes(campaign_id: int, customer_ids: Iterable[int]) -> dict[int, str]:
    """customer id -> the code of the campaign given to them (used or not), for those listed
    who hold one: "the customer's own unique code" of a message. One query."""
    return dict(
        CouponCode.objects.filter(campaign_id=campaign_id, assigned_to_id__in=list(customer_ids)).values_list(
            "assigned_to_id", "code"
        )
    )


def customer_offers(*, customer: User | None, at: dt.datetime) -> tuple[t.Offer, ...]:
    """The campaigns ``customer`` (None: a guest) may use at ``at``, judged by the engine's own
    eligibility checks (``engine.offers``) on the snapshot and the facts a cart evaluation
    loads: a coupon campaign through its shared code, or the customer's own unused code. A
    constant number of queries whatever the number of campaigns and codes."""
    snapshot = snapshot_get(dt.datetime.now(dt.UTC))
    candidates = list(snapshot.campaigns.values())
    coupons = [c for c in candidates if c.redemption_type == t.COUPON_CODE]
    codes = [t.CodeFact(code=c.code, campaign_id=c.id) for c in coupons if c.code]
    if customer is not None and coupons:
        held = CouponCode.objects.filter(
            assigned_to=customer, campaign_id__in=one_of([c.id for c in coupons if not c.code], "bigint")
        ).values_list("code", "campaign_id", "uses", "max_uses")
        codes += [
            t.CodeFact(code, campaign_id, single_use=True, uses=uses, max_uses=max_uses, assigned=True, owner_id=customer.pk)
            for code, campaign_id, uses, max_uses in held
        ]  # fmt: skip
    request = CartRequest(lines=[], at=at, customer=customer, customer_known=customer is not None)
    context = t.Context(at=at, location=_location(request), codes=tuple(codes), **_facts(request, candidates))
    return engine.offers(context=context, campaigns=candidates)
