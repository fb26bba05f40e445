"""CATEGORY: the items filed under one of the rule's categories (or a sub-category of one)."""

from campaigns.engine.rules.base import RuleType
from campaigns.engine.types import CATEGORY


class Category(RuleType):
    key = CATEGORY
    label = "Category"
    scope = CATEGORY
    needs_target = True
    scope_text = "selected categories"
