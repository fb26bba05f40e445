"""What the console's campaign form is built from: each rule type's fields (read from the rule
types' registry, so a new type needs nothing here), the tier rows, marketer help texts, and the
services' messages in marketer words."""

from decimal import Decimal

from django import forms

from campaigns.engine.rules import RULE_TYPES
from campaigns.models import (
    Audience,
    CampaignKind,
    CampaignStatus,
    CodeType,
    DiscountRule,
    Period,
    RedemptionType,
    Validity,
)
from campaigns.services.rules import TARGET_RELATIONS
from lms.form_fields import Column, RowsField, choice_words, decimal_parser, words_for

# Every rule row has these; the others depend on the rule type.
COMMON_RULE_FIELDS = ("rule_type", "discount_type", "value", "max_discount", "min_quantity", "max_quantity")
MAX_TIERS = 20


def rule_type_fields() -> dict[str, list[str]]:
    """Rule type -> the form fields a row of that type shows and saves: the common ones, tiers
    when the type measures them, its target relations and its own fields."""
    return {
        key: [
            *COMMON_RULE_FIELDS,
            *(("tiers",) if kind.tiers_measure else ()),
            *(TARGET_RELATIONS[target.field] for target in kind.target_kinds),
            *kind.own_fields,
        ]
        for key, kind in RULE_TYPES.items()
    }


def tiers_field() -> RowsField:
    amount = decimal_parser(low=Decimal("0.01"), high=Decimal(10**10))
    return RowsField(
        columns=(Column("threshold", "From", amount), Column("value", "Discount", amount)),
        max_rows=MAX_TIERS,
        row_label="Tier",
        label="Tiers",
        help_text="One row per step, lowest first. “From”: the quantity bought (bulk purchase) or the cart "
        "total (cart total thresholds); “Discount”: the percentage or amount off from there up. "
        "Leave rows empty to drop them.",
    )


RULE_HELP = {
    "rule_type": "What the discount is on: the whole cart, a quantity, categories, products, brands, "
    "cart total steps or buy X get Y. The row shows the fields of the type picked.",
    "discount_type": "A percentage, a fixed amount off, or free shipping (free-shipping campaigns).",
    "value": "The percentage (up to 100) or the amount off; leave empty when the tiers give it.",
    "max_discount": "The most this rule gives on one order; empty = no cap.",
    "min_quantity": "Items the customer must buy before the rule applies; empty = any.",
    "max_quantity": "The most items discounted (the dearest first); empty = all of them.",
    "buy_quantity": "Buy this many…",
    "get_quantity": "…and this many of the cheapest get the discount (100% = free).",
    "max_applications": "How many times one order may use the offer; empty = as often as it fits.",
}
CAMPAIGN_HELP = {
    "name": "Customers may see it: “Diwali 10% off”.",
    "priority": "Higher goes first when several campaigns apply to one cart.",
    "timezone": "The schedule's and the daily hours' time zone, such as Asia/Kolkata.",
    "audience": "Who may use it.",
    "segments": "For a segments or groups audience: the segments whose members may use it.",
    "redemption_type": "Automatic applies by itself when the rules match; a coupon needs its code.",
    "code": "The code customers type (shared codes).",
    "min_cart_value": "The smallest cart it applies to; empty = any.",
    "max_discount": "The most the campaign gives on one order; empty = no cap.",
    "usage_limit": "Uses in all; empty = no limit.",
    "customer_limit": "Uses per customer (per period below); empty = no limit.",
    "budget": "The most discount given in all; it stops when spent. Empty = no budget.",
    "exclusive": "Tick: no other campaign applies to a cart this one discounts.",
    "stackable": "Tick: may be used with other stackable campaigns on the same cart.",
}

# Stored names a service message may carry -> the marketer's words.
CAMPAIGN_WORDS = {
    **choice_words(
        DiscountRule.RuleType.choices,
        DiscountRule.DiscountType.choices,
        CampaignKind.choices,
        CampaignStatus.choices,
        Audience.choices,
        RedemptionType.choices,
        CodeType.choices,
        Validity.choices,
        Period.choices,
    ),
    "max_discount": "maximum discount",
    "min_quantity": "minimum quantity",
    "max_quantity": "maximum quantity",
    "buy_quantity": "buy quantity",
    "get_quantity": "get quantity",
    "max_applications": "maximum uses per order",
    "min_cart_value": "minimum cart value",
    "usage_limit": "usage limit",
    "customer_limit": "limit per customer",
    "period_limit": "limit per period",
    "category_ids": "categories",
    "brand_ids": "brands",
    "product_ids": "products",
    "product_segment_ids": "product segments",
    "segment_ids": "segments",
    "starts_at": "start",
    "ends_at": "end",
    "daily_start": "daily start",
    "daily_end": "daily end",
    "notify_title": "notification title",
    "notify_body": "notification text",
}
campaign_words = words_for(CAMPAIGN_WORDS, items={"tiers": "Tier"})


def help_texts(form: forms.BaseForm, texts: dict[str, str]) -> None:
    for name, text in texts.items():
        if name in form.fields:
            form.fields[name].help_text = text
