"""The segment form's criteria builder: the criteria field's widget, with the catalogue rendered
into the page (no API call) and a script (segments/static/segments/criteria_builder.js) that
keeps the field's JSON in step with rows of field / operator / value / window in nested
all / any / not groups. The textarea stays for experts (a toggle shows it)."""

import re
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.widgets import BUTTON_CLASSES, SELECT_CLASSES, TEXTAREA_CLASSES

from segments.criteria import PRODUCT, USER, catalogue
from segments.selectors import criteria_choices

# The operators in a marketer's words (the stored codes never show).
OPERATOR_LABELS = {
    "eq": "is",
    "ne": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "in": "is one of",
    "not_in": "is none of",
    "is": "is",
    "before": "is before",
    "after": "is after",
    "any_of": "includes any of",
    "none_of": "includes none of",
}

GROUP_LABELS = {
    "membership": "Profile and sign-up",
    "engagement": "Engagement",
    "transaction": "Purchases",
    "discounts": "Discounts",
    "loyalty": "Loyalty",
    "stock": "Stock",
    "purchase_frequency": "Sales",
    "price": "Price",
    "interaction": "Interest",
    "catalogue": "Catalogue",
}

CHOICE_LABELS = {
    "out_of_stock": "Out of stock",
    "low": "Low",
    "in_stock": "In stock",
    "overstock": "Overstocked",
    "mid": "Middle",
    "high": "High",
}

# Id-list fields whose ids a marketer picks by name (the others take ids, comma separated).
ID_CHOICES = {"bought_category": "categories", "category": "categories", "bought_brand": "brands", "brand": "brands"}

EMPTY_CRITERIA = {"all": []}


def builder_config(*, preview_url: str) -> dict[str, Any]:
    """What the builder script needs: both kinds' fields, words for operators, groups and
    choices, the categories and brands to pick from, the preview URL and unfold's classes."""
    return {
        "fields": {kind: [field.describe() for field in catalogue(kind)] for kind in (USER, PRODUCT)},
        "operators": OPERATOR_LABELS,
        "groups": GROUP_LABELS,
        "choice_labels": CHOICE_LABELS,
        "id_choices": ID_CHOICES,
        "options": criteria_choices(),
        "preview_url": preview_url,
        "classes": {
            "input": " ".join(TEXTAREA_CLASSES),
            "select": " ".join(SELECT_CLASSES),
            "button": " ".join(BUTTON_CLASSES),
        },
    }


class CriteriaBuilderWidget(forms.Textarea):
    """The criteria textarea (the form's value, for experts) with the builder drawn above it."""

    template_name = "segments/widgets/criteria_builder.html"

    class Media:
        css = {"all": ("segments/criteria_builder.css",)}
        js = ("segments/criteria_builder.js",)

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        classes = " ".join(["vLargeTextField", *TEXTAREA_CLASSES, "font-mono"])
        super().__init__(attrs={"rows": 10, "class": classes, **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["builder"] = builder_config(preview_url=reverse("admin:segments_segment_preview"))
        return context


_STEP = re.compile(r"\.(all|any)\[(\d+)\]|\.not|\.(field|op|value|window_days)(?:\[(\d+)\])?")
_PART_WORDS = {"field": "the field", "op": "the comparison", "value": "the value", "window_days": "the window"}


def path_words(path: str) -> str:
    """A validation path in words: ``criteria.all[1].any[0].value`` is "row 2 › row 1, the value"."""
    rows, part = [], ""
    for group, index, key, item in _STEP.findall(path):
        if group:
            rows.append(f"row {int(index) + 1}")
        elif key:
            part = _PART_WORDS[key] + (f" (entry {int(item) + 1})" if item else "")
        else:
            rows.append("not")
    where = " › ".join(rows) or "the criteria"
    return (f"{where}, {part}" if part else where).capitalize()


_GROUP_WORDS = {"all": "All of these", "any": "Any of these", "not": "Not this"}


def _value_words(field: dict[str, Any] | None, value: Any) -> str:
    if isinstance(value, list):
        return (
            " and ".join(_value_words(field, item) for item in value)
            if len(value) == 2 and field and (field["value_type"] in ("integer", "decimal", "date"))
            else ", ".join(_value_words(field, item) for item in value)
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = CHOICE_LABELS.get(value, str(value)) if isinstance(value, str) and field and field["choices"] else str(value)
    unit = field["unit"] if field else ""
    if unit == "INR":
        return f"₹{text}"
    return f"{text} {unit}".strip() if unit and unit != "%" else f"{text}{unit}"


def criteria_in_words(kind: str, tree: dict[str, Any]) -> str:
    """A stored tree for a read-only page: nested lists of conditions in words."""
    fields = {field.name: field.describe() for field in catalogue(kind)}

    def node(item: dict[str, Any]) -> str:
        for key in ("all", "any"):
            if key in item:
                children = format_html_join("", "<li>{}</li>", ((node(child),) for child in item[key]))
                return format_html('{}:<ul class="criteria-words">{}</ul>', _GROUP_WORDS[key], children)
        if "not" in item:
            return format_html('{}:<ul class="criteria-words"><li>{}</li></ul>', _GROUP_WORDS["not"], node(item["not"]))
        field = fields.get(item.get("field"))
        label = field["label"] if field else str(item.get("field"))
        window = f" in the last {item['window_days']} days" if item.get("window_days") else ""
        operator = OPERATOR_LABELS.get(item.get("op"), str(item.get("op")))
        return f"{label} {operator} {_value_words(field, item.get('value'))}{window}"

    return format_html('<div data-testid="criteria-summary">{}</div>', node(tree))
