"""Console form fields a marketer can fill without knowing the stored shapes: rows of number
inputs for a JSON list (tiers, streak steps), countries as ISO codes picked by name, states and
cities picked from the values the data holds, a rule row's fields by its type, and service
messages in marketer words."""

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from django import forms
from django.core.exceptions import ValidationError
from unfold.widgets import UnfoldAdminSelect2MultipleWidget

# --- Rows of number inputs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One number input of a row: its key in the stored dict, its label, and the parser that
    turns the typed text into the stored value (raising ValidationError with a short reason)."""

    key: str
    label: str
    parse: Callable[[str], Any]
    step: str = "any"


class RowsWidget(forms.Widget):
    """A list of dicts shown as rows of number inputs (``<name>-<row>-<key>``), JS-free: the
    stored rows plus a few empty ones; an empty row is no row."""

    template_name = "lms/widgets/rows.html"

    def __init__(self, columns: tuple[Column, ...], *, max_rows: int, spare_rows: int = 2, attrs=None) -> None:
        super().__init__(attrs)
        self.columns, self.max_rows, self.spare_rows = columns, max_rows, spare_rows

    def rows_of(self, value: Any) -> list[dict[str, str]]:
        if isinstance(value, str):
            try:
                value = json.loads(value or "[]")
            except ValueError:
                value = []
        rows = [row for row in value or () if isinstance(row, dict)]
        return [{column.key: "" if row.get(column.key) is None else str(row[column.key]) for column in self.columns}
                for row in rows]  # fmt: skip

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        rows = self.rows_of(value)
        count = min(max(len(rows) + self.spare_rows, 3), max(self.max_rows, len(rows)))
        rows += [{column.key: "" for column in self.columns}] * (count - len(rows))
        base_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["widget"].update(
            columns=self.columns,
            rows=[
                {
                    "number": index + 1,
                    "cells": [
                        {
                            "name": f"{name}-{index}-{c.key}",
                            "id": f"{base_id}-{index}-{c.key}",
                            "value": row[c.key],
                            "label": c.label,
                            "step": c.step,
                        }
                        for c in self.columns
                    ],
                }  # fmt: skip
                for index, row in enumerate(rows)
            ],
        )
        return context

    def value_from_datadict(self, data, files, name) -> list[dict[str, str]]:
        indexes = sorted(
            {int(match[1]) for key in data if (match := re.fullmatch(rf"{re.escape(name)}-(\d+)-\w+", key))}
        )
        return [
            {column.key: str(data.get(f"{name}-{index}-{column.key}", "")).strip() for column in self.columns}
            for index in indexes[: self.max_rows + self.spare_rows]
        ]

    def value_omitted_from_data(self, data, files, name) -> bool:
        return not any(key.startswith(f"{name}-") for key in data)


class RowsField(forms.Field):
    """Rows of numbers saved as a list of dicts; an error names its row (``Tier 2: ...``)."""

    def __init__(self, *, columns: tuple[Column, ...], max_rows: int, row_label: str, **kwargs) -> None:
        self.columns, self.max_rows, self.row_label = columns, max_rows, row_label
        kwargs.setdefault("widget", RowsWidget(columns, max_rows=max_rows))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[dict[str, Any]]:
        rows = [row for row in self.widget.rows_of(value) if any(row.values())] if not isinstance(value, list) else [
            row for row in value if any(str(v).strip() for v in row.values())
        ]  # fmt: skip
        if len(rows) > self.max_rows:
            raise ValidationError(f"At most {self.max_rows} rows.")
        cleaned, errors = [], []
        for number, row in enumerate(rows, start=1):
            item = {}
            for column in self.columns:
                text = str(row.get(column.key, "")).strip()
                if not text:
                    errors.append(f"{self.row_label} {number}: give the {column.label.lower()}.")
                    continue
                try:
                    item[column.key] = column.parse(text)
                except ValidationError as error:
                    errors.append(f"{self.row_label} {number}, {column.label.lower()}: {error.messages[0]}")
            cleaned.append(item)
        if errors:
            raise ValidationError(errors)
        if self.required and not cleaned:
            raise ValidationError(self.error_messages["required"], code="required")
        return cleaned

    def has_changed(self, initial, data) -> bool:
        return _rows_text(self.widget.rows_of(initial)) != _rows_text(data if isinstance(data, list) else [])


def _rows_text(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    def text(value: Any) -> str:
        try:
            return str(Decimal(str(value).strip()).normalize())
        except (InvalidOperation, ValueError):
            return str(value).strip()

    return [tuple(text(v) for v in row.values()) for row in rows if any(str(v).strip() for v in row.values())]


def decimal_parser(*, low: Decimal, high: Decimal, places: int = 2, whole: bool = False) -> Callable[[str], str]:
    """A parser for an amount in [low, high) with at most ``places`` decimals, stored as text."""

    def parse(text: str) -> str:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValidationError(f"“{text}” is not a number.")
        if not number.is_finite() or not low <= number < high:
            raise ValidationError(f"a number from {low} and below {high:,}.")
        if whole and number != number.to_integral_value():
            raise ValidationError("a whole number.")
        if number != number.quantize(Decimal(1).scaleb(-places)):
            raise ValidationError(f"at most {places} decimal places.")
        return str(number)

    return parse


def whole_parser(*, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValidationError(f"“{text}” is not a whole number.")
        if not low <= number <= high:
            raise ValidationError(f"a whole number from {low} to {high:,}.")
        return number

    return parse


# --- Places --------------------------------------------------------------------------------------

COUNTRY_CHOICES = sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda choice: choice[1])
COUNTRY_NAMES = dict(COUNTRY_CHOICES)


def country_code(text: str) -> str | None:
    """The ISO 3166 alpha-2 code of a code or a name typed (``in``, ``IND``, ``India``), or None."""
    text = text.strip()
    if text.upper() in COUNTRY_NAMES:
        return text.upper()
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None


def _typed_values(values: Any) -> list[str]:
    """A multi-select's values; a value with commas (typed text) counts as several."""
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values or () for part in str(value).split(",") if part.strip()]


class SearchableMultipleChoice(forms.MultipleChoiceField):
    widget = UnfoldAdminSelect2MultipleWidget

    def prepare_value(self, value):
        return _typed_values(value)


class CountriesField(SearchableMultipleChoice):
    """Countries picked by name, stored as ISO 3166 alpha-2 codes; a name typed (``India``) is
    stored as its code, an unknown one is refused."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=COUNTRY_CHOICES, **kwargs)

    def to_python(self, value) -> list[str]:
        codes, unknown = [], []
        for text in _typed_values(value):
            code = country_code(text)
            if code is None:
                unknown.append(text)
            elif code not in codes:
                codes.append(code)
        if unknown:
            raise ValidationError(
                f"We do not know the countr{'ies' if len(unknown) > 1 else 'y'} "
                f"{', '.join(f'“{name}”' for name in unknown)}: pick countries from the list."
            )
        return codes


class KnownPlacesField(SearchableMultipleChoice):
    """States or cities picked from the values the data holds (``known``), matched ignoring
    case and stored as the data spells them; a value the data does not hold is refused."""

    def __init__(self, *, noun: str, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=(), **kwargs)
        self.noun = noun

    def offer(self, known: Iterable[str], kept: Iterable[str] = ()) -> None:
        """Offer the known values and those the row already holds (``kept``)."""
        values = {value.casefold(): value for value in (*kept, *known) if value}
        self.choices = sorted(((value, value) for value in values.values()), key=lambda c: c[1].casefold())

    def to_python(self, value) -> list[str]:
        spelled = {str(key).casefold(): str(key) for key, _ in self.choices}
        picked, unknown = [], []
        for text in _typed_values(value):
            match = spelled.get(text.casefold())
            if match is None:
                unknown.append(text)
            elif match not in picked:
                picked.append(match)
        if unknown:
            raise ValidationError(
                f"No customer or order is in the {self.noun} {', '.join(f'“{v}”' for v in unknown)}: "
                f"pick from the list (it holds the {self.noun} names our customers and orders use)."
            )
        return picked

    def validate(self, value) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


class PlacesForm(forms.Form):
    """Where a row applies: countries by name, states and cities from the data (mixed into a
    ModelForm over the row; the form calls ``offer_places`` with the known values)."""

    countries = CountriesField(help_text="Pick one or more; none = anywhere.", label="Countries")
    states = KnownPlacesField(noun="state", help_text="Pick one or more; none = any state.", label="States")
    cities = KnownPlacesField(noun="city", help_text="Pick one or more; none = any city.", label="Cities")

    def offer_places(self, known: dict[str, list[str]]) -> None:
        for name in ("states", "cities"):
            if name in self.fields:
                kept = getattr(self.instance, name, None) or [] if hasattr(self, "instance") else []
                self.fields[name].offer(known.get(name, []), kept)


# --- A rule row's fields by its type -------------------------------------------------------------

TYPE_FIELDS_SCRIPT = "lms/js/type_fields.js"


def show_fields_by_type(field: forms.Field, fields_by_type: dict[str, Iterable[str]]) -> None:
    """Mark a row's type select with the fields each type takes; ``type_fields.js`` shows only
    those in the row (without the script every field shows, and the form ignores the others)."""
    every = sorted({name for names in fields_by_type.values() for name in names})
    field.widget.attrs.update(
        {
            "data-type-fields": json.dumps({key: sorted(names) for key, names in fields_by_type.items()}),
            "data-typed-fields": json.dumps(every),
        }
    )


# --- Service messages in marketer words ------------------------------------------------------------


def words_for(vocabulary: dict[str, str], *, items: dict[str, str] | None = None) -> Callable[[str], str]:
    """A translator of a service message into marketer words: a path into a list
    (``tiers[1].threshold``, with ``items`` naming a list's item: "Tier") becomes "Tier 2,
    threshold"; each stored name in ``vocabulary`` (enum values such as PERCENTAGE, field names
    such as max_discount) becomes its words; "null" becomes "empty"."""
    items = items or {}
    names = sorted(vocabulary, key=len, reverse=True)
    pattern = (
        re.compile(r"(?<![\w“])(" + "|".join(re.escape(name) for name in names) + r")(?![\w”])") if names else None
    )
    item_path = re.compile(r"\b(" + "|".join(map(re.escape, items)) + r")\[(\d+)\](?:\.(\w+))?") if items else None

    def item(match: re.Match) -> str:
        text = f"{items[match[1]]} {int(match[2]) + 1}"
        return f"{text}, {vocabulary.get(match[3], match[3].replace('_', ' '))}" if match[3] else text

    def words(message: str) -> str:
        text = item_path.sub(item, message) if item_path else message
        text = pattern.sub(lambda match: vocabulary[match[1]], text) if pattern else text
        return re.sub(r"\bnull\b", "empty", text)

    return words


def choice_words(*choice_sets: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Enum value -> “label”, from choices (``TextChoices.choices``)."""
    return {str(value): f"“{label}”" for choices in choice_sets for value, label in choices if str(value).isupper()}
