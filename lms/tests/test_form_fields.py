"""The console's marketer fields: rows of numbers, countries by name, places from the data,
service messages in words."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from simple_history.models import ModelChange

from campaigns.models import DiscountRule
from lms.admin_history import ReadableHistoryHelper
from lms.form_fields import (
    Column,
    CountriesField,
    KnownPlacesField,
    RowsField,
    country_code,
    decimal_parser,
    whole_parser,
    words_for,
)

STEPS = (
    Column("days", "Days", whole_parser(low=1, high=10)),
    Column("rate", "Rate", decimal_parser(low=Decimal(0), high=Decimal(100))),
)


def test_rows_are_read_from_their_inputs_and_empty_rows_are_no_rows():
    field = RowsField(columns=STEPS, max_rows=5, row_label="Step")
    data = {"s-0-days": "2", "s-0-rate": "1.5", "s-1-days": "", "s-1-rate": "", "s-2-days": " 7 ", "s-2-rate": "3"}

    rows = field.widget.value_from_datadict(data, {}, "s")

    assert field.clean(rows) == [{"days": 2, "rate": "1.5"}, {"days": 7, "rate": "3"}]
    assert not field.has_changed([{"days": 2, "rate": "1.50"}, {"days": 7, "rate": "3"}], rows)
    assert field.has_changed([{"days": 2, "rate": "1.5"}], rows)


def test_each_bad_row_is_named():
    field = RowsField(columns=STEPS, max_rows=5, row_label="Step")

    with pytest.raises(ValidationError) as refused:
        field.clean([{"days": "0", "rate": "1"}, {"days": "3", "rate": ""}, {"days": "4", "rate": "1.234"}])

    assert refused.value.messages == [
        "Step 1, days: a whole number from 1 to 10.",
        "Step 2: give the rate.",
        "Step 3, rate: at most 2 decimal places.",
    ]


def test_too_many_rows_are_refused():
    field = RowsField(columns=STEPS, max_rows=1, row_label="Step")

    with pytest.raises(ValidationError, match="At most 1 rows"):
        field.clean([{"days": "1", "rate": "1"}, {"days": "2", "rate": "1"}])


def test_the_widget_shows_the_stored_rows_and_spare_ones():
    field = RowsField(columns=STEPS, max_rows=5, row_label="Step")

    html = field.widget.render("s", [{"days": 2, "rate": "1.5"}], attrs={"id": "id_s"})

    assert 'name="s-0-days"' in html and 'value="1.5"' in html and 'id="id_s-2-rate"' in html
    assert 'name="s-3-days"' not in html


@pytest.mark.parametrize(
    ("typed", "code"), [("IN", "IN"), ("in", "IN"), ("India", "IN"), ("IND", "IN"), ("Atlantis", None)]
)
def test_a_country_code_or_name_gives_its_iso_code(typed, code):
    assert country_code(typed) == code


def test_the_countries_field_takes_codes_names_and_comma_text():
    field = CountriesField()

    assert field.clean(["India", "AE"]) == ["IN", "AE"]
    assert field.clean("IN, ae, India") == ["IN", "AE"]
    assert dict(field.choices)["IN"] == "India"


def test_known_places_match_ignoring_case_and_keep_the_datas_spelling():
    field = KnownPlacesField(noun="city")
    field.offer(["Pune", "Mumbai"], kept=["Nagpur"])

    assert [value for value, _ in field.choices] == ["Mumbai", "Nagpur", "Pune"]
    assert field.clean(["pune", "NAGPUR"]) == ["Pune", "Nagpur"]
    with pytest.raises(ValidationError, match="No customer or order is in the city “Goa”"):
        field.clean(["Goa"])


def test_messages_are_put_in_words():
    words = words_for({"PERCENTAGE": "“Percentage”", "max_discount": "maximum discount"}, items={"tiers": "Tier"})

    assert words("tiers[1].threshold: Thresholds go up.") == "Tier 2, threshold: Thresholds go up."
    assert words("Give a PERCENTAGE; max_discount is null.") == "Give a “Percentage”; maximum discount is empty."
    assert words("PERCENTAGE_OFF stays") == "PERCENTAGE_OFF stays"  # whole names only


def test_a_history_change_of_rows_reads_as_words():

    helper = ReadableHistoryHelper(DiscountRule, None)
    change = ModelChange("tiers", [], [{"threshold": "3", "value": "5"}, {"threshold": "6", "value": "10"}])
    kind = ModelChange("discount_type", "PERCENTAGE", "FIXED_AMOUNT")

    assert helper.format_delta_change(change).new == "threshold 3, value 5; threshold 6, value 10"
    assert helper.format_delta_change(change).old == "(empty)"
    assert (helper.format_delta_change(kind).old, helper.format_delta_change(kind).new) == (
        "Percentage",
        "Fixed amount",
    )
