"""WHOLE_CART: every item in the cart."""

from campaigns.engine.rules.base import RuleType
from campaigns.engine.types import WHOLE_CART


class WholeCart(RuleType):
    key = WHOLE_CART
    label = "Whole cart"
