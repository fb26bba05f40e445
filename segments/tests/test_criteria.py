"""Validation of criteria trees against the catalogue: every bad node is named by its path."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Value

from segments import criteria
from segments.criteria import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_WINDOW_DAYS,
    PRODUCT,
    USER,
    CriteriaError,
    Field,
    catalogue,
    criteria_compile,
    criteria_validate,
    field_get,
    register_field,
)

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)


def cond(field="orders", op="gte", value=1, **extra):
    return {"field": field, "op": op, "value": value, **extra}


def error_of(tree, kind=USER) -> CriteriaError:
    with pytest.raises(CriteriaError) as caught:
        criteria_validate(kind, tree)
    return caught.value


# --- Paths of bad conditions ----------------------------------------------------------------


def test_unknown_field_is_named_by_its_path():
    error = error_of({"all": [cond(), cond(field="shoe_size")]})

    assert error.path == "criteria.all[1].field"
    assert "shoe_size" in error.message


@pytest.mark.parametrize("node", [{"op": "gte", "value": 1}, {"field": 7, "op": "gte", "value": 1}])
def test_missing_or_non_text_field_is_rejected_at_field(node):
    assert error_of({"all": [node]}).path == "criteria.all[0].field"


def test_a_product_field_name_is_unknown_to_user_segments_and_the_kind_matters():
    # USER fields are registered; the same name is unknown for PRODUCT segments.
    assert error_of(cond(), kind=PRODUCT).path == "criteria.field"


@pytest.mark.parametrize(
    ("field", "op"),
    [
        ("orders", "in"),  # a number takes no set operator
        ("country", "gte"),  # text is not ordered
        ("email_verified", "eq"),  # a boolean takes only "is"
        ("signed_up", "gte"),  # dates take before / after / between
        ("bought_brand", "eq"),  # a set takes any_of / none_of
        ("orders", None),
        ("orders", "GTE"),
    ],
)
def test_an_operator_that_does_not_fit_the_field_type_is_rejected_at_op(field, op):
    error = error_of({"any": [cond(), cond(field=field, op=op, value=1)]})

    assert error.path == "criteria.any[1].op"


def test_a_condition_without_a_value_is_rejected_at_value():
    assert error_of({"all": [{"field": "orders", "op": "gte"}]}).path == "criteria.all[0].value"


@pytest.mark.parametrize(
    ("field", "op", "value"),
    [
        ("orders", "gte", "3"),  # text for an integer
        ("orders", "gte", True),  # a boolean is not a number
        ("orders", "gte", 2.5),  # a whole number is expected
        ("orders", "gte", 10**13),  # out of range
        ("total_spend", "gte", "lots"),
        ("total_spend", "gte", False),
        ("total_spend", "gte", "NaN"),
        ("total_spend", "gte", "Infinity"),
        ("total_spend", "gte", [100]),
        ("country", "eq", 91),  # a number for a text
        ("country", "eq", ""),
        ("country", "eq", "   "),
        ("country", "eq", "x" * 256),
        ("email_verified", "is", "true"),
        ("email_verified", "is", 1),
        ("signed_up", "before", "2025-02-30"),  # not a real date
        ("signed_up", "before", "15/06/2025"),
        ("signed_up", "before", 20250615),
        ("orders", "between", [1]),
        ("orders", "between", [1, 2, 3]),
        ("orders", "between", 5),
        ("orders", "between", [9, 2]),  # low above high
        ("signed_up", "between", ["2025-06-10", "2025-06-01"]),
        ("country", "in", []),
        ("country", "in", "IN"),
        ("bought_brand", "any_of", []),
        ("bought_brand", "any_of", 3),
        ("bought_brand", "any_of", list(range(1, 1002))),
    ],
)
def test_a_value_of_the_wrong_type_or_shape_is_rejected_at_value(field, op, value):
    error = error_of({"all": [cond(), cond(field=field, op=op, value=value)]})

    assert error.path == "criteria.all[1].value"


@pytest.mark.parametrize(
    ("field", "op", "value", "path"),
    [
        ("bought_category", "any_of", [0], "value[0]"),
        ("bought_product", "any_of", [4, -2], "value[1]"),
        ("bought_brand", "none_of", [1, True], "value[1]"),
        ("bought_brand", "none_of", ["3"], "value[0]"),
        ("bought_brand", "any_of", [1, 2**63], "value[1]"),  # past bigint
        ("orders", "between", ["1", 4], "value[0]"),
        ("orders", "between", [1, "4"], "value[1]"),
        ("total_spend", "between", [Decimal("10"), "x"], "value[1]"),
        ("signed_up", "between", ["2025-01-01", "tomorrow"], "value[1]"),
        ("country", "not_in", ["IN", 1], "value[1]"),
    ],
)
def test_a_bad_item_of_a_list_value_is_named_by_its_index(field, op, value, path):
    error = error_of({"all": [cond(), {"not": cond(field=field, op=op, value=value)}]})

    assert error.path == f"criteria.all[1].not.{path}"


# --- Windows --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["days_since_signup", "country", "email_verified", "days_since_last_purchase"])
def test_window_days_on_a_field_without_a_window_is_rejected(field):
    op, value = {"country": ("eq", "IN"), "email_verified": ("is", True)}.get(field, ("gte", 1))

    error = error_of({"all": [cond(field=field, op=op, value=value, window_days=7)]})

    assert error.path == "criteria.all[0].window_days"


@pytest.mark.parametrize("window", [0, -1, MAX_WINDOW_DAYS + 1, 4000, "7", 7.0, True])
def test_window_days_outside_1_to_3650_or_not_a_whole_number_is_rejected(window):
    error = error_of({"all": [cond(field="orders", window_days=window)]})

    assert error.path == "criteria.all[0].window_days"


@pytest.mark.parametrize("window", [1, 30, MAX_WINDOW_DAYS])
def test_window_days_within_range_is_kept(window):
    assert criteria_validate(USER, cond(field="orders", window_days=window))["window_days"] == window


@pytest.mark.parametrize("field", ["logins", "product_views", "wishlist_adds", "cart_adds", "cart_abandons"])
def test_a_required_window_gets_its_default(field):
    tree = criteria_validate(USER, {"all": [cond(field=field)]})

    assert tree == {"all": [{"field": field, "op": "gte", "value": 1, "window_days": 30}]}
    assert field_get(USER, field).default_window_days == 30


def test_an_optional_window_left_out_stays_out():
    assert criteria_validate(USER, cond(field="total_spend", value=10)) == {
        "field": "total_spend",
        "op": "gte",
        "value": Decimal("10"),
    }


def test_a_required_window_without_a_default_is_rejected(scratch_registry):
    register_field(
        Field("visits", USER, "engagement", "Visits", "integer", criteria.NUMBER_OPS, window="required",
              expression=lambda ctx: Value(0))
    )  # fmt: skip

    assert error_of({"any": [cond(field="visits")]}).path == "criteria.any[0].window_days"
    assert criteria_validate(USER, cond(field="visits", window_days=5))["window_days"] == 5


# --- The shape of the tree ------------------------------------------------------------------


def test_an_unknown_key_in_a_condition_is_named():
    error = error_of({"all": [cond(), cond(window=7)]})

    assert error.path == "criteria.all[1].window"


@pytest.mark.parametrize(
    "node",
    [
        {"all": [cond()], "any": [cond()]},
        {"all": [cond()], "not": cond()},
        {"any": [cond()], "field": "orders"},
    ],
)
def test_a_group_has_exactly_one_key(node):
    error = error_of({"all": [cond(), node]})

    assert error.path == "criteria.all[1]"


@pytest.mark.parametrize("key", ["all", "any"])
@pytest.mark.parametrize("children", [[], {}, cond(), None, "orders"])
def test_all_and_any_need_a_non_empty_list(key, children):
    error = error_of({"not": {key: children}})

    assert error.path == f"criteria.not.{key}"


@pytest.mark.parametrize("negated", [[cond()], [], "orders", None])
def test_not_takes_one_object_not_a_list(negated):
    assert error_of({"all": [{"not": negated}]}).path == "criteria.all[0].not"


@pytest.mark.parametrize("tree", [[cond()], "orders >= 1", None, 42, True])
def test_the_top_level_must_be_an_object(tree):
    assert error_of(tree).path == "criteria"


def test_a_child_that_is_not_an_object_is_named():
    assert error_of({"any": [cond(), "orders"]}).path == "criteria.any[1]"


def nested(levels: int) -> dict:
    tree = cond()
    for _ in range(levels):
        tree = {"all": [tree]}
    return tree


def test_nesting_up_to_max_depth_is_accepted():
    assert criteria_validate(USER, nested(MAX_DEPTH)) == nested(MAX_DEPTH)


def test_nesting_deeper_than_max_depth_is_rejected():
    error = error_of(nested(MAX_DEPTH + 1))

    assert error.path == "criteria" + ".all[0]" * (MAX_DEPTH + 1)
    assert "deeper" in error.message


def test_up_to_max_conditions_are_accepted():
    tree = {"any": [cond(value=n) for n in range(MAX_CONDITIONS)]}

    assert len(criteria_validate(USER, tree)["any"]) == MAX_CONDITIONS


def test_more_than_max_conditions_are_rejected_even_spread_over_groups():
    half = MAX_CONDITIONS // 2
    tree = {"all": [{"any": [cond()] * half}, {"not": {"all": [cond()] * (MAX_CONDITIONS - half + 1)}}]}

    error = error_of(tree)

    assert error.path == f"criteria.all[1].not.all[{MAX_CONDITIONS - half}]"


def test_the_first_bad_node_is_named_deep_in_the_tree():
    tree = {"any": [cond(), {"not": {"all": [cond(), cond(), cond(field="total_spend", value="a lot")]}}]}

    error = error_of(tree)

    assert error.path == "criteria.any[1].not.all[2].value"
    assert str(error) == f"criteria.any[1].not.all[2].value: {error.message}"


def test_a_custom_root_path_prefixes_every_path():
    with pytest.raises(CriteriaError) as caught:
        criteria_validate(USER, {"all": [cond(field="nope")]}, path="rules.audience")

    assert caught.value.path == "rules.audience.all[0].field"


# --- The normalised tree --------------------------------------------------------------------


def test_the_normalised_tree_has_decimals_dates_and_trimmed_text():
    tree = {
        "all": [
            cond(field="total_spend", op="gte", value="1500.50"),
            cond(field="average_order_value", op="between", value=[100, 250.5]),
            cond(field="signed_up", op="between", value=["2025-01-01", "2025-03-31"]),
            cond(field="signed_up", op="before", value="2024-12-31"),
            {"not": cond(field="country", op="in", value=[" IN ", "us"])},
            {"any": [cond(field="email_verified", op="is", value=False), cond(field="logins", window_days=7)]},
            cond(field="bought_category", op="any_of", value=[3, 5], window_days=90),
        ]
    }

    normalised = criteria_validate(USER, tree)

    assert normalised == {
        "all": [
            {"field": "total_spend", "op": "gte", "value": Decimal("1500.50")},
            {"field": "average_order_value", "op": "between", "value": [Decimal("100"), Decimal("250.5")]},
            {"field": "signed_up", "op": "between", "value": [dt.date(2025, 1, 1), dt.date(2025, 3, 31)]},
            {"field": "signed_up", "op": "before", "value": dt.date(2024, 12, 31)},
            {"not": {"field": "country", "op": "in", "value": ["IN", "us"]}},
            {
                "any": [
                    {"field": "email_verified", "op": "is", "value": False},
                    {"field": "logins", "op": "gte", "value": 1, "window_days": 7},
                ]
            },
            {"field": "bought_category", "op": "any_of", "value": [3, 5], "window_days": 90},
        ]
    }
    assert type(normalised["all"][0]["value"]) is Decimal
    assert all(type(v) is dt.date for v in normalised["all"][2]["value"])


def test_validation_does_not_modify_the_input_tree():
    tree = {"all": [cond(field="logins"), cond(field="total_spend", value="10")]}

    criteria_validate(USER, tree)

    assert tree == {"all": [cond(field="logins"), cond(field="total_spend", value="10")]}


@pytest.mark.parametrize(
    ("op", "value", "path"),
    [
        ("after", "9999-12-31", "value"),
        ("before", "0001-01-01", "value"),
        ("after", "3000-01-01", "value"),
        ("before", "1899-12-31", "value"),
        ("between", ["2025-01-01", "9999-12-31"], "value[1]"),
        ("between", ["0001-01-01", "2025-01-01"], "value[0]"),
    ],
)
def test_a_date_outside_1900_to_2999_is_rejected_at_its_path(op, value, path):
    error = error_of({"all": [cond(), cond(field="signed_up", op=op, value=value)]})

    assert error.path == f"criteria.all[1].{path}"
    assert "1900-01-01 to 2999-12-31" in error.message


@pytest.mark.parametrize("value", ["1900-01-01", "2999-12-31"])
def test_the_first_and_last_dates_of_the_range_are_kept(value):
    tree = criteria_validate(USER, cond(field="signed_up", op="after", value=value))

    assert criteria_compile(USER, tree, now=NOW) is not None


@pytest.mark.parametrize(
    ("op", "value", "path"),
    [("lte", 0, "value"), ("lte", 101, "value"), ("lte", -5, "value"), ("lte", 10**12, "value")],
)
def test_best_seller_percent_outside_1_to_100_is_rejected_not_clamped(op, value, path):
    error = error_of(cond(field="best_seller_percent", op=op, value=value), kind=PRODUCT)

    assert error.path == f"criteria.{path}"
    assert error.message == "best_seller_percent takes a value from 1 to 100."


@pytest.mark.parametrize("value", [1, 100])
def test_best_seller_percent_from_1_to_100_is_kept(value):
    tree = criteria_validate(PRODUCT, cond(field="best_seller_percent", op="lte", value=value))

    assert tree["value"] == value


def test_between_accepts_equal_low_and_high():
    assert criteria_validate(USER, cond(op="between", value=[3, 3]))["value"] == [3, 3]


def test_the_user_catalogue_is_sorted_by_group_then_name():
    fields = catalogue(USER)

    assert [(f.group, f.name) for f in fields] == sorted((f.group, f.name) for f in fields)
    assert {"days_since_signup", "logins", "total_spend", "bought_category"} <= {f.name for f in fields}
