"""The facts of one cart and customer, loaded in a constant number of queries whatever the
campaign count: the cart's lines as the engine sees them, the codes typed, the customer's
earlier orders, segments and uses, the campaigns' counters, and where the cart is."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from campaigns.engine import types as t
from campaigns.evaluation.catalogue import Catalogue, Item, items_of
from campaigns.evaluation.request import CartRequest
from campaigns.evaluation.snapshot import Snapshot, engine_campaign
from campaigns.models import Campaign, CampaignCounter, CouponCode, Redemption, RedemptionStatus
from commerce.models import COUNTED_STATUSES, Brand, Category, Order, Product
from commerce.selectors import category_ancestors
from lms.db import one_of, sql_in
from segments.models import CustomerMembership

RECENT = dt.timedelta(days=32)  # covers the longest per-period limit (a month)


def cart_lines(request: CartRequest, catalogue: Catalogue) -> tuple[t.Line, ...]:
    """The cart's lines as the engine sees them, from the process's copy of the catalogue: no
    query unless a line names a sku, category or brand newer than the copy."""
    products = catalogue.products
    missing = {line["sku"] for line in request.lines} - products.keys()
    if missing:
        products = {**products, **_products_read(missing, catalogue)}
    unmirrored = [line for line in request.lines if line["sku"] not in products]
    categories = _references(Category, {line.get("category") for line in unmirrored}, catalogue.categories)
    brands = _references(Brand, {line.get("brand") for line in unmirrored}, catalogue.brands)
    parents = catalogue.parents
    if any(pk not in parents for pk in categories.values()):
        parents = {**parents, **dict(Category.objects.values_list("pk", "parent_id"))}  # newer than the copy
    lines = []
    for line in request.lines:
        item = products.get(line["sku"])
        if item is None:
            category_ids = category_ancestors(categories.get(line.get("category") or ""), parents)
            item = Item(None, category_ids, brands.get(line.get("brand") or ""), frozenset())
        lines.append(
            t.Line(
                sku=line["sku"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                product_id=item.product_id,
                category_ids=item.category_ids,
                brand_id=item.brand_id,
                product_segment_ids=item.segment_ids,
            )
        )
    return tuple(lines)


def _products_read(skus: set[str], catalogue: Catalogue) -> dict[str, Item]:
    """Products newer than the process's copy of the catalogue (their segments come with the next copy)."""
    rows = list(
        Product.objects.filter(sku__in=one_of(skus, "text")).values_list("sku", "pk", "category_id", "brand_id")
    )
    parents = catalogue.parents
    if any(category is not None and category not in parents for _, _, category, _ in rows):
        parents = dict(Category.objects.values_list("pk", "parent_id"))  # a category newer than the copy
    return items_of(rows, parents, {})


def _references(model, references: set[str | None], known: dict[str, int]) -> dict[str, int]:
    """Lines of products we do not mirror may name their category or brand: by external id or
    name, from the copy, else (newer than the copy) from the database."""
    references = {ref for ref in references if ref}
    found = {ref: known[ref] for ref in references if ref in known}
    missing = references - found.keys()
    if missing:
        rows = list(
            model.objects.filter(Q(external_id__in=missing) | Q(name__in=missing))
            .order_by("pk")
            .values_list("pk", "name", "external_id")
        )
        by_name = {name: pk for pk, name, _ in reversed(rows)}  # the oldest of two same-named rows
        by_external = {external_id: pk for pk, _, external_id in rows if external_id}
        found |= {
            ref: by_external.get(ref, by_name.get(ref)) for ref in missing if ref in by_external or ref in by_name
        }
    return found


def cart_codes(request: CartRequest, snapshot: Snapshot) -> tuple[list[t.CodeFact], dict[str, int], list[t.Campaign]]:
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


def customer_facts(request: CartRequest, candidates: list[t.Campaign]) -> dict[str, Any]:
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
            f"(SELECT id FROM {Order._meta.db_table} WHERE customer_id = %s"
            f" AND status IN ({', '.join(['%s'] * len(COUNTED_STATUSES))}) AND external_id <> %s LIMIT 1) AS earlier"
        )
        query.add(
            "order", f"id, {NULL_N}, {NULL_AMOUNT}, {NULL_AT}", earlier, "1 = 1",
            [customer.pk, *COUNTED_STATUSES, request.order_id],
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


def cart_location(request: CartRequest) -> t.Location:
    """The cart's location, else the customer's profile."""
    given, customer = request.location or {}, request.customer
    if any(given.get(key) for key in ("country", "state", "city")) or customer is None:
        return t.Location(**{key: (given.get(key) or "").strip().casefold() for key in ("country", "state", "city")})
    return t.Location(
        country=(customer.country or "").casefold(),
        state=(customer.state or "").casefold(),
        city=(customer.city or "").casefold(),
    )
