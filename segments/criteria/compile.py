"""Compiling a validated criteria tree to one ``Q`` over customers (or products), built from
correlated subqueries, so a whole segment is one SQL query and nothing is filtered in Python."""

import datetime as dt
from typing import Any

from django.db.models import Expression, Q
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, In, LessThan, LessThanOrEqual

from segments.criteria.registry import Context, field_get

_COMPARE = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
    "before": LessThan,
    "after": GreaterThan,
}


def compare(expression: Expression, op: str, value: Any) -> Q:
    """``expression <op> value`` as a ``Q``."""
    if op in _COMPARE:
        return Q(_COMPARE[op](expression, value))
    if op == "ne":
        return ~Q(Exact(expression, value))
    if op == "is":
        return Q(Exact(expression, value))
    if op == "between":
        return Q(GreaterThanOrEqual(expression, value[0])) & Q(LessThanOrEqual(expression, value[1]))
    if op == "in":
        return Q(In(expression, value))
    if op == "not_in":
        return ~Q(In(expression, value))
    raise AssertionError(op)


def criteria_compile(kind: str, tree: dict[str, Any], *, now: dt.datetime) -> Q:
    """A validated tree (``criteria_validate``) as one ``Q`` over the kind's model."""
    if "all" in tree:
        q = Q()
        for child in tree["all"]:
            q &= criteria_compile(kind, child, now=now)
        return q
    if "any" in tree:
        children = [criteria_compile(kind, child, now=now) for child in tree["any"]]
        q = children[0]
        for child in children[1:]:
            q |= child
        return q
    if "not" in tree:
        return ~criteria_compile(kind, tree["not"], now=now)
    definition = field_get(kind, tree["field"])
    assert definition is not None, tree["field"]
    ctx = Context(now=now, window_days=tree.get("window_days"))
    if definition.build is not None:
        return definition.build(ctx, tree["op"], tree["value"])
    return compare(definition.expression(ctx), tree["op"], tree["value"])
