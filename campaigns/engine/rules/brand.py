"""BRAND: the items of one of the rule's brands."""

from campaigns.engine.rules.base import RuleType
from campaigns.engine.types import BRAND


class Brand(RuleType):
    key = BRAND
    label = "Brand"
    scope = BRAND
    needs_target = True
    scope_text = "selected brands"
