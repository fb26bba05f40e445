"""BULK_PURCHASE: a quantity rule on any of its targets (the whole cart without any); tiers
are read on the matched units."""

from campaigns.engine.rules.base import UNITS, RuleType
from campaigns.engine.rules.targets import ANY
from campaigns.engine.types import BULK_PURCHASE


class BulkPurchase(RuleType):
    key = BULK_PURCHASE
    label = "Bulk purchase (quantity)"
    scope = ANY
    tiers_measure = UNITS
