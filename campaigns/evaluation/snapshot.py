"""The live campaigns as the engine sees them: a snapshot cached per process.

Kept as an ``lms.snapshots.ProcessCopy``: tagged with a version held in the shared cache
(Redis) that any campaign change bumps on commit, so every node rebuilds on its next
evaluation; also rebuilt after ``SNAPSHOT_TTL`` seconds, which bounds how long a new
sub-category takes to count under a targeted parent.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

from campaigns.engine import types as t
from campaigns.evaluation.request import AT_GRACE
from campaigns.evaluation.versions import CAMPAIGNS_VERSION_KEY
from campaigns.models import WEEKDAYS, Campaign, CampaignStatus, DiscountRule
from commerce.models import Category
from lms.snapshots import ProcessCopy, SharedVersion

SNAPSHOT_TTL = dt.timedelta(seconds=60)
VERSION_KEY = CAMPAIGNS_VERSION_KEY


@dataclass(frozen=True)
class Snapshot:
    version: str
    built_at: dt.datetime
    campaigns: dict[int, t.Campaign]
    automatic: tuple[t.Campaign, ...]
    by_code: dict[str, int]
    category_parents: dict[int, int | None]


CAMPAIGNS_VERSION = SharedVersion(CAMPAIGNS_VERSION_KEY)


def snapshot_invalidate() -> None:
    """Every node rebuilds its snapshot now and again once this transaction commits."""
    CAMPAIGNS_VERSION.bump()


def snapshot_version() -> str | None:
    return CAMPAIGNS_VERSION.read()


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _engine_rule(rule: DiscountRule, categories, brands, products, product_segments) -> t.Rule:
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
        product_segment_ids=frozenset(product_segments.get(rule.pk, ())),
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
    """Engine campaigns with their rules, targets and segments, in six queries for any number."""
    ids = [c.pk for c in campaigns]
    rules = list(DiscountRule.objects.filter(campaign_id__in=ids).order_by("campaign_id", "position", "id"))
    rule_ids = [r.pk for r in rules]
    targets = {}
    relations = (
        ("categories", "category_id"), ("brands", "brand_id"), ("products", "product_id"),
        ("product_segments", "segment_id"),
    )  # fmt: skip
    for name, column in relations:
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
            _engine_rule(
                rule, targets["categories"], targets["brands"], targets["products"], targets["product_segments"]
            )
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


_SNAPSHOT: ProcessCopy[Snapshot] = ProcessCopy(CAMPAIGNS_VERSION, SNAPSHOT_TTL, _build)


def snapshot_get(now: dt.datetime, version: str | None = None) -> Snapshot:
    """This process's snapshot, rebuilt when a campaign changed anywhere or it is too old.
    ``version``: as already read from the shared cache (None: read it here)."""
    return _SNAPSHOT.get(now, version)
