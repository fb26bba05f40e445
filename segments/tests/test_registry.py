"""The catalogue of fields: what may be registered, and that registering is done by
``AppConfig.ready()``, never by importing a module."""

import datetime as dt
import importlib
import sys

import pytest
from django.apps import apps
from django.db.models import Q, Value

import segments
from lms.registry import Registry
from segments import criteria
from segments.criteria import (
    PRODUCT,
    USER,
    CriteriaError,
    Field,
    catalogue,
    criteria_compile,
    criteria_validate,
    field_get,
    register_field,
    registry,
)

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)


def cond(field="orders", op="gte", value=1, **extra):
    return {"field": field, "op": op, "value": value, **extra}


def error_of(tree, kind=USER) -> CriteriaError:
    with pytest.raises(CriteriaError) as caught:
        criteria_validate(kind, tree)
    return caught.value


# --- What may be registered -----------------------------------------------------------------


def test_register_field_refuses_both_expression_and_build(scratch_registry):
    definition = Field(
        "both", USER, "x", "Both", "integer", criteria.NUMBER_OPS,
        expression=lambda ctx: Value(0), build=lambda ctx, op, value: Q(),
    )  # fmt: skip

    with pytest.raises(ValueError, match="exactly one of expression or build"):
        register_field(definition)
    assert field_get(USER, "both") is None


def test_register_field_refuses_neither_expression_nor_build(scratch_registry):
    with pytest.raises(ValueError, match="exactly one of expression or build"):
        register_field(Field("neither", USER, "x", "Neither", "integer", criteria.NUMBER_OPS))
    assert field_get(USER, "neither") is None


@pytest.mark.parametrize("kind", ["CUSTOMER", "user", "", None])
def test_register_field_refuses_a_bad_kind(scratch_registry, kind):
    with pytest.raises(ValueError, match="kind must be USER or PRODUCT"):
        register_field(Field("odd", kind, "x", "Odd", "integer", criteria.NUMBER_OPS, expression=lambda ctx: Value(0)))
    assert all(f.name != "odd" for k in (USER, PRODUCT) for f in catalogue(k))


def test_a_registered_field_is_in_the_catalogue_validated_and_compiled(scratch_registry):
    register_field(
        Field("always", PRODUCT, "test", "Always", "boolean", criteria.BOOL_OPS,
              build=lambda ctx, op, value: Q(pk__isnull=not value), help="For tests.")
    )  # fmt: skip

    assert [f.name for f in catalogue(PRODUCT)].count("always") == 1
    assert field_get(USER, "always") is None
    assert field_get(PRODUCT, "always").describe() == {
        "field": "always",
        "group": "test",
        "label": "Always",
        "value_type": "boolean",
        "operators": ["is"],
        "unit": "",
        "window": "none",
        "default_window_days": None,
        "choices": [],
        "help": "For tests.",
        "min_value": None,
        "max_value": None,
    }
    tree = criteria_validate(PRODUCT, {"not": cond(field="always", op="is", value=True)})
    assert criteria_compile(PRODUCT, tree, now=NOW) == ~Q(pk__isnull=False)


def test_another_field_under_a_registered_name_is_refused(scratch_registry):
    orders = field_get(USER, "orders")

    with pytest.raises(ValueError, match="'orders' is already registered"):
        register_field(
            Field("orders", USER, "transaction", "Orders", "integer", ("eq",), expression=lambda ctx: Value(0))
        )

    assert field_get(USER, "orders") is orders
    assert criteria_validate(USER, cond(field="orders", op="gte"))["op"] == "gte"
    assert [f.name for f in catalogue(USER)].count("orders") == 1


def test_the_same_field_registered_again_is_a_no_op(scratch_registry):
    orders = field_get(USER, "orders")

    assert register_field(orders) is orders

    assert field_get(USER, "orders") is orders
    assert [f.name for f in catalogue(USER)].count("orders") == 1


def test_a_name_may_be_a_user_and_a_product_field(scratch_registry):
    views = Field("visits", USER, "x", "Visits", "integer", ("eq",), expression=lambda ctx: Value(0))
    product_views = Field("visits", PRODUCT, "x", "Visits", "integer", ("eq",), expression=lambda ctx: Value(0))

    register_field(views)
    register_field(product_views)

    assert (field_get(USER, "visits"), field_get(PRODUCT, "visits")) == (views, product_views)


def test_a_field_with_choices_accepts_only_them(scratch_registry):
    register_field(
        Field("tier", USER, "loyalty", "Tier", "text", criteria.TEXT_OPS, choices=("SILVER", "GOLD"),
              build=lambda ctx, op, value: Q())
    )  # fmt: skip

    assert criteria_validate(USER, cond(field="tier", op="in", value=["GOLD"]))["value"] == ["GOLD"]
    assert error_of(cond(field="tier", op="in", value=["GOLD", "BRONZE"])).path == "criteria.value[1]"
    assert error_of(cond(field="tier", op="eq", value="gold")).path == "criteria.value"


# --- Registered by ready(), never on import ----------------------------------------------------

FIELD_MODULES = ("segments.fields", "segments.fields.user", "segments.fields.product")


@pytest.fixture
def empty_catalogue(monkeypatch):
    """An empty catalogue and freshly imported field modules, both put back after the test."""
    monkeypatch.setattr(registry, "_fields", {kind: Registry(f"{kind} segment fields") for kind in (USER, PRODUCT)})
    monkeypatch.setattr(segments, "fields", sys.modules["segments.fields"])
    for name in FIELD_MODULES:
        monkeypatch.delitem(sys.modules, name)


def test_importing_the_field_modules_registers_nothing(empty_catalogue):
    imported = [importlib.import_module(name) for name in FIELD_MODULES]

    assert [module.__name__ for module in imported] == list(FIELD_MODULES)
    assert catalogue(USER) == catalogue(PRODUCT) == []


def test_the_segments_app_fills_the_catalogue_from_ready(empty_catalogue):
    user = importlib.import_module("segments.fields.user")
    product = importlib.import_module("segments.fields.product")

    apps.get_app_config("segments").ready()

    assert catalogue(USER) == sorted(user.USER_FIELDS, key=lambda f: (f.group, f.name))
    assert catalogue(PRODUCT) == sorted(product.PRODUCT_FIELDS, key=lambda f: (f.group, f.name))
    assert {"orders", "total_spend", "login_streak"} <= {f.name for f in catalogue(USER)}
