"""Checking a criteria tree against the catalogue.

A tree is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a condition
``{"field", "op", "value", "window_days"?}``. ``criteria_validate`` answers it normalised
(decimals, dates, default windows) or raises ``CriteriaError`` naming the first bad node.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from segments.criteria.registry import Field, field_get

MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_WINDOW_DAYS = 3650
# Dates a criterion may name: a day either side still fits a datetime (and the local midnight
# in UTC), and nothing a marketer means lies outside. Past year 9999 the SQL could not be built.
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
MAX_NUMBER = 10**12
MAX_ID = 2**63 - 1  # bigint


class CriteriaError(Exception):
    """A bad tree: ``path`` names the node (``criteria.all[1].value``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def _parse_scalar(value_type: str, value: Any, path: str, choices: tuple[str, ...] = ()) -> Any:
    if value_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CriteriaError(path, "Expected a whole number.")
        if abs(value) > MAX_NUMBER:
            raise CriteriaError(path, "The number is out of range.")
        return value
    if value_type == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, str, float, Decimal)):
            raise CriteriaError(path, "Expected a number.")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise CriteriaError(path, "Expected a number.")
        if not number.is_finite() or abs(number) > MAX_NUMBER:
            raise CriteriaError(path, "The number is out of range.")
        return number
    if value_type == "boolean":
        if not isinstance(value, bool):
            raise CriteriaError(path, "Expected true or false.")
        return value
    if value_type == "text":
        if not isinstance(value, str) or not value.strip() or len(value) > 255:
            raise CriteriaError(path, "Expected a non-empty text of at most 255 characters.")
        if choices and value not in choices:
            raise CriteriaError(path, f"Expected one of: {', '.join(choices)}.")
        return value.strip()
    if value_type == "date":
        if not isinstance(value, str):
            raise CriteriaError(path, "Expected a date as YYYY-MM-DD.")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise CriteriaError(path, "Expected a date as YYYY-MM-DD.")
        if not MIN_DATE <= day <= MAX_DATE:
            raise CriteriaError(path, f"Expected a date from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}.")
        return day
    if value_type == "id":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise CriteriaError(path, "Expected an id (a positive whole number).")
        return value
    raise AssertionError(value_type)


def _in_bounds(definition: Field, number: Any, path: str) -> Any:
    low, high = definition.min_value, definition.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = (
            f"from {low} to {high}" if low is not None and high is not None
            else f"at least {low}" if low is not None else f"at most {high}"
        )  # fmt: skip
        raise CriteriaError(path, f"{definition.name} takes a value {bounds}.")
    return number


def _parse_value(definition: Field, op: str, value: Any, path: str) -> Any:
    scalar = "id" if definition.value_type == "id_list" else definition.value_type

    def parse(item: Any, item_path: str) -> Any:
        parsed = _parse_scalar(scalar, item, item_path, definition.choices)
        return _in_bounds(definition, parsed, item_path) if scalar in ("integer", "decimal") else parsed

    if op in ("between",):
        if not isinstance(value, list) or len(value) != 2:
            raise CriteriaError(path, "Expected [low, high].")
        low = parse(value[0], f"{path}[0]")
        high = parse(value[1], f"{path}[1]")
        if low > high:
            raise CriteriaError(path, "low is greater than high.")
        return [low, high]
    if op in ("in", "not_in", "any_of", "none_of"):
        if not isinstance(value, list) or not value or len(value) > 1000:
            raise CriteriaError(path, "Expected a non-empty list (at most 1,000 values).")
        return [parse(item, f"{path}[{n}]") for n, item in enumerate(value)]
    return parse(value, path)


def criteria_validate(kind: str, tree: Any, path: str = "criteria") -> dict[str, Any]:
    """The tree, checked against the catalogue and normalised; ``CriteriaError`` names the
    first bad node."""
    counter = [0]
    return _validate_node(kind, tree, path, 0, counter)


def _validate_node(kind: str, node: Any, path: str, depth: int, counter: list[int]) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise CriteriaError(path, f"The tree is nested deeper than {MAX_DEPTH} levels.")
    if not isinstance(node, dict):
        raise CriteriaError(path, 'Expected an object: {"all": [...]}, {"any": [...]}, {"not": {...}} or a condition.')
    groups = [key for key in ("all", "any", "not") if key in node]
    if groups:
        if len(node) != 1:
            raise CriteriaError(path, f'A group has exactly one key ("{groups[0]}"), nothing beside it.')
        key = groups[0]
        if key == "not":
            return {"not": _validate_node(kind, node["not"], f"{path}.not", depth + 1, counter)}
        children = node[key]
        if not isinstance(children, list) or not children:
            raise CriteriaError(f"{path}.{key}", "Expected a non-empty list of conditions or groups.")
        return {
            key: [_validate_node(kind, c, f"{path}.{key}[{n}]", depth + 1, counter) for n, c in enumerate(children)]
        }
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise CriteriaError(path, f"At most {MAX_CONDITIONS} conditions in one segment.")
    unknown = set(node) - {"field", "op", "value", "window_days"}
    if unknown:
        raise CriteriaError(f"{path}.{sorted(unknown)[0]}", "Unknown key in a condition.")
    name = node.get("field")
    definition = field_get(kind, name) if isinstance(name, str) else None
    if definition is None:
        raise CriteriaError(
            f"{path}.field", f"Unknown field {name!r} for {kind} segments; see GET /api/v1/segments/criteria/."
        )
    op = node.get("op")
    if op not in definition.operators:
        raise CriteriaError(f"{path}.op", f"{name} takes the operators {', '.join(definition.operators)}; not {op!r}.")
    if "value" not in node:
        raise CriteriaError(f"{path}.value", "A condition needs a value.")
    value = _parse_value(definition, op, node["value"], f"{path}.value")
    window = node.get("window_days")
    if window is not None:
        if definition.window == "none":
            raise CriteriaError(f"{path}.window_days", f"{name} takes no window.")
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_DAYS:
            raise CriteriaError(f"{path}.window_days", f"Expected a whole number of days from 1 to {MAX_WINDOW_DAYS}.")
    elif definition.window == "required":
        window = definition.default_window_days
        if window is None:
            raise CriteriaError(f"{path}.window_days", f"{name} needs window_days.")
    condition = {"field": name, "op": op, "value": value}
    if window is not None:
        condition["window_days"] = window
    return condition


def criteria_json(tree: Any) -> Any:
    """A validated tree as plain JSON (decimals and dates as text) for storing; validating it
    again gives the same tree back."""
    if isinstance(tree, dict):
        return {key: criteria_json(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [criteria_json(value) for value in tree]
    if isinstance(tree, Decimal):
        return str(tree)
    if isinstance(tree, dt.date):
        return tree.isoformat()
    return tree
