"""PRODUCT: the rule's products, and the products of its product segments."""

from campaigns.engine.rules.base import RuleType
from campaigns.engine.types import PRODUCT


class Product(RuleType):
    key = PRODUCT
    label = "Product"
    scope = PRODUCT
    needs_target = True
    scope_text = "selected products"
