"""The registered rule types, in the order the console and the API list them. Adding a rule
type: its module, one line here, and a migration for ``DiscountRule.rule_type``'s choices."""

from campaigns.engine.rules.base import RuleType
from campaigns.engine.rules.brand import Brand
from campaigns.engine.rules.bulk_purchase import BulkPurchase
from campaigns.engine.rules.buy_x_get_y import BuyXGetY
from campaigns.engine.rules.category import Category
from campaigns.engine.rules.custom_cart_total import CustomCartTotal
from campaigns.engine.rules.product import Product
from campaigns.engine.rules.registry import Registry
from campaigns.engine.rules.whole_cart import WholeCart

RULE_TYPES: Registry[RuleType] = Registry("rule types")
for _kind in (WholeCart(), BulkPurchase(), Category(), Product(), Brand(), CustomCartTotal(), BuyXGetY()):
    RULE_TYPES.register(_kind.key, _kind)


def tiered_types_text(joiner: str) -> str:
    """The tiered rule types and what their thresholds measure: "BULK_PURCHASE (quantity) and
    CUSTOM_CART_TOTAL (amount)", for messages and help texts."""
    measures = {"units": "quantity", "amount": "amount"}
    return joiner.join(f"{kind.key} ({measures[kind.tiers_measure]})" for kind in RULE_TYPES if kind.tiers_measure)
