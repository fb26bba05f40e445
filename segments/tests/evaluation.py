"""The pure-Python side of the criteria tests: an evaluator the engine's answers are
compared with, written without the engine."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def compare(value: Any, op: str, target: Any) -> bool:
    """``value <op> target`` for ordered values (numbers, dates)."""
    match op:
        case "eq":
            return value == target
        case "ne":
            return value != target
        case "gt" | "after":
            return value > target
        case "gte":
            return value >= target
        case "lt" | "before":
            return value < target
        case "lte":
            return value <= target
        case "between":
            return target[0] <= value <= target[1]
    raise AssertionError(op)


def tree_matches(tree: dict, leaf: Callable[[dict], bool]) -> bool:
    """Does a row satisfy the tree, given ``leaf(condition)`` for its conditions?"""
    if "all" in tree:
        return all(tree_matches(child, leaf) for child in tree["all"])
    if "any" in tree:
        return any(tree_matches(child, leaf) for child in tree["any"])
    if "not" in tree:
        return not tree_matches(tree["not"], leaf)
    return leaf(tree)


def c(field: str, op: str, value: Any, window_days: int | None = None) -> dict:
    """A condition of a criteria tree."""
    condition = {"field": field, "op": op, "value": value}
    return condition if window_days is None else {**condition, "window_days": window_days}


@dataclass
class World:
    ids: dict[str, dict[str, int]]  # field -> key -> database id

    def resolve(self, tree: Any) -> Any:
        """The tree with catalogue keys ("phones") replaced by database ids."""
        if isinstance(tree, list):
            return [self.resolve(child) for child in tree]
        if "field" not in tree:
            return {key: self.resolve(child) for key, child in tree.items()}
        if tree["field"] in self.ids:
            return {**tree, "value": [self.ids[tree["field"]][key] for key in tree["value"]]}
        return tree

    def selected(self, kind: str, queryset, column: str, tree: dict, *, now, assert_num_queries) -> set:
        """``column`` of the rows the compiled tree selects, read in exactly one query
        (compiling may read categories first)."""
        from segments.criteria import criteria_compile, criteria_validate

        q = criteria_compile(kind, criteria_validate(kind, self.resolve(tree)), now=now)
        with assert_num_queries(1):
            return set(queryset.filter(q).values_list(column, flat=True))
