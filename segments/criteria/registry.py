"""The criteria catalogue: what a field is, and the registry of them.

Each field is a small declarative object (``Field``) kept in a typed ``lms.registry.Registry``
per kind (USER, PRODUCT). Field modules only define fields; registering is done from an
``AppConfig.ready()`` (segments registers its own, campaigns and loyalty theirs), so importing
a module registers nothing.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Expression, Q

from lms.registry import Registry

USER, PRODUCT = "USER", "PRODUCT"

NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
TEXT_OPS = ("eq", "ne", "in", "not_in")
BOOL_OPS = ("is",)
DATE_OPS = ("before", "after", "between")
SET_OPS = ("any_of", "none_of")


@dataclass(frozen=True)
class Context:
    """What a field needs to build its SQL: the evaluation time and the condition's window."""

    now: dt.datetime
    window_days: int | None

    @property
    def since(self) -> dt.datetime | None:
        return self.now - dt.timedelta(days=self.window_days) if self.window_days else None


@dataclass(frozen=True)
class Field:
    """One criterion. ``value_type`` is integer, decimal, boolean, text, date or id_list.

    A field gives either an ``expression(ctx)`` (a per-row value such as a correlated
    ``Subquery``) that the compiler compares with the operator, or ``build(ctx, op, value)``
    that answers the ``Q`` itself (sets, "days since", booleans).
    """

    name: str
    kind: str
    group: str
    label: str
    value_type: str
    operators: tuple[str, ...]
    expression: Callable[[Context], Expression] | None = None
    build: Callable[[Context, str, Any], Q] | None = None
    unit: str = ""
    window: str = "none"  # none | optional | required
    default_window_days: int | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    # Inclusive bounds of a number's value (within +-MAX_NUMBER): outside is a 400, never clamped.
    min_value: int | None = None
    max_value: int | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "field": self.name,
            "group": self.group,
            "label": self.label,
            "value_type": self.value_type,
            "operators": list(self.operators),
            "unit": self.unit,
            "window": self.window,
            "default_window_days": self.default_window_days,
            "choices": list(self.choices),
            "help": self.help,
            "min_value": self.min_value,
            "max_value": self.max_value,
        }


_fields: dict[str, Registry[Field]] = {
    USER: Registry("USER segment fields"),
    PRODUCT: Registry("PRODUCT segment fields"),
}


def register_field(definition: Field) -> Field:
    """Add a field to the catalogue (from an ``AppConfig.ready()``). The same definition again
    is a no-op; another definition under a name already taken is refused (``ValueError``)."""
    if definition.kind not in (USER, PRODUCT):
        raise ValueError(f"kind must be USER or PRODUCT, not {definition.kind!r}")
    if (definition.expression is None) == (definition.build is None):
        raise ValueError(f"{definition.name}: give exactly one of expression or build")
    return _fields[definition.kind].register(definition.name, definition)


def unregister_field(kind: str, name: str) -> None:
    _fields[kind].unregister(name)


def catalogue(kind: str) -> list[Field]:
    fields = _fields.get(kind)
    return sorted((f for _, f in fields.items()), key=lambda f: (f.group, f.name)) if fields else []


def field_get(kind: str, name: str) -> Field | None:
    fields = _fields.get(kind)
    return fields.get(name) if fields is not None and name in fields else None
