"""The registered rule types, in the order the console and the API list them. Adding a rule
type: its module, its import and an instance in the tuple below, and a migration for
``DiscountRule.rule_type``'s choices."""

from campaigns.engine.rules.base import RuleType
from campaigns.engine.rules.brand import Brand
from campaigns.engine.rules.bulk_purchase import BulkPurchase
from campaigns.engine.rules.buy_x_get_y import BuyXGetY
from campaigns.engine.rules.category import Category
from campaigns.engine.rules.custom_cart_total import CustomCartTotal
from campaigns.engine.rules.product import Product
from campaigns.engine.rules.whole_cart import WholeCart

# key -> rule type, in the order registered. A plain dict: the engine imports only the standard
# library (so not lms.registry); read it, and change it only through the two functions below.
RULE_TYPES: dict[str, RuleType] = {}


def rule_type_register(kind: RuleType) -> RuleType:
    """Register a rule type under its key; a key registered twice is a mistake."""
    if kind.key in RULE_TYPES:
        raise ValueError(f"rule types: {kind.key!r} is registered twice.")
    RULE_TYPES[kind.key] = kind
    return kind


def rule_type_unregister(key: str) -> None:
    RULE_TYPES.pop(key, None)


for _kind in (WholeCart(), BulkPurchase(), Category(), Product(), Brand(), CustomCartTotal(), BuyXGetY()):
    rule_type_register(_kind)


def tiered_types_text(joiner: str) -> str:
    """The tiered rule types and what their thresholds measure: "BULK_PURCHASE (quantity) and
    CUSTOM_CART_TOTAL (amount)", for messages and help texts."""
    measures = {"units": "quantity", "amount": "amount"}
    return joiner.join(
        f"{kind.key} ({measures[kind.tiers_measure]})" for kind in RULE_TYPES.values() if kind.tiers_measure
    )
