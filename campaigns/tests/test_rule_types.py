"""Rule types are strategy classes in one registry (``campaigns.engine.rules.RULE_TYPES``) that
the engine, the model's choices, the API and the console read: a new type is its module and
its registration (plus a migration for the model's choice)."""

from decimal import Decimal

import pytest

from campaigns.api.serializers import RuleInput
from campaigns.engine import Context, evaluate
from campaigns.engine.rules import RULE_TYPES, RuleType, offer_summary, rule_type_register, rule_type_unregister, take
from campaigns.forms import RuleForm
from campaigns.models import DiscountRule
from campaigns.tests.test_engine import AT, campaign, cart, line, rule


def test_the_model_the_api_and_the_console_offer_the_registered_types_in_order():
    registered = [(kind.key, kind.label) for kind in RULE_TYPES.values()]

    assert DiscountRule.RuleType.choices == registered
    assert list(RuleInput().fields["rule_type"].choices.items()) == registered
    assert [value for value, _ in RuleForm.base_fields["rule_type"].choices if value] == [k for k, _ in registered]


class CheapestItem(RuleType):
    """A made-up type: the value off the single cheapest unit of the cart."""

    key, label = "TEST_CHEAPEST_ITEM", "Cheapest item (a test type)"
    scope_text = "the cheapest item"

    def picks(self, rule, cart, matched, campaign_id):
        cheapest = min(matched, key=lambda index: (cart.lines[index].unit_price, index))
        return take([cheapest], cart, 1)


@pytest.fixture
def cheapest_item():
    kind = rule_type_register(CheapestItem())
    yield kind
    rule_type_unregister(CheapestItem.key)


def test_a_registered_type_works_in_the_engine_without_touching_it(cheapest_item):
    the_cart = cart(line("A", 2, "300.00"), line("B", 1, "100.00"))
    result = evaluate(
        cart=the_cart, context=Context(at=AT), campaigns=[campaign(1, rule("TEST_CHEAPEST_ITEM", value="50"))]
    )

    assert [(d.sku, d.amount) for d in result.discounts[0].lines] == [("B", Decimal("50.00"))]
    assert offer_summary((rule("TEST_CHEAPEST_ITEM", value="50"),), currency="INR") == "50% off on the cheapest item"


def test_a_type_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        rule_type_register(RULE_TYPES["WHOLE_CART"])
