"""CUSTOM_CART_TOTAL: every item, with tiers read on the cart's subtotal."""

from campaigns.engine.rules.base import AMOUNT, RuleType
from campaigns.engine.types import CUSTOM_CART_TOTAL


class CustomCartTotal(RuleType):
    key = CUSTOM_CART_TOTAL
    label = "Cart total thresholds"
    tiers_measure = AMOUNT
