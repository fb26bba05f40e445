"""What a targeted rule can aim at, and the cart indexed once per evaluation to find it.

A target kind names a rule field (``category_ids``), the line attribute it is read on, and
the *scope* it belongs to: a rule type takes the target kinds of its scope (CATEGORY rules
take categories, PRODUCT rules take products and product segments, which are sets of
products), or of every scope (``ANY``: BULK_PURCHASE and BUY_X_GET_Y count "any of these"
items). A rule matches a line when any of its targets does. Adding a target kind is one
entry in ``TARGET_KINDS``: every rule type of its scope (and every ``ANY`` one) takes it.

``CartIndex`` maps each target id to the live lines (lines with units) that carry it, once
per evaluation, so matching a rule is a few dictionary look-ups whatever the cart's size.
"""

from dataclasses import dataclass

from campaigns.engine.types import BRAND, CATEGORY, PRODUCT, Line, Rule

ANY = "ANY"  # a scope: every target kind


@dataclass(frozen=True)
class TargetKind:
    field: str  # the Rule's (and the API's) field: a frozenset of ids
    line_attr: str  # the Line's attribute: an id, or a frozenset of ids
    scope: str  # the rule type (CATEGORY, BRAND, PRODUCT) whose targets these are
    label: str  # "categories": for "Unknown categories ids"-style messages and forms
    many: bool  # the line carries a set of them (a category and its ancestors)


TARGET_KINDS: tuple[TargetKind, ...] = (
    TargetKind("category_ids", "category_ids", CATEGORY, "categories", many=True),
    TargetKind("brand_ids", "brand_id", BRAND, "brands", many=False),
    TargetKind("product_ids", "product_id", PRODUCT, "products", many=False),
    TargetKind("product_segment_ids", "product_segment_ids", PRODUCT, "product segments", many=True),
)
TARGET_FIELDS: tuple[str, ...] = tuple(kind.field for kind in TARGET_KINDS)


def kinds_for(scope: str | None) -> tuple[TargetKind, ...]:
    """The target kinds a rule type of ``scope`` takes (None: untargeted, none)."""
    if scope is None:
        return ()
    return tuple(kind for kind in TARGET_KINDS if scope in (ANY, kind.scope))


class CartIndex:
    """The cart's live lines, and per target kind: id -> the live lines carrying it (each
    table built on first use, so a cart no rule aims at by brand never indexes brands)."""

    __slots__ = ("lines", "live", "quantities", "tables")

    def __init__(self, lines: tuple[Line, ...]) -> None:
        self.lines = lines
        self.quantities: list[int] = [line.quantity for line in lines]
        self.live: list[int] = [index for index, line in enumerate(lines) if line.quantity > 0]
        self.tables: dict[str, dict[int, list[int]]] = {}

    def table(self, kind: TargetKind) -> dict[int, list[int]]:
        table = self.tables.get(kind.field)
        if table is None:
            table = self.tables[kind.field] = {}
            lines, attr = self.lines, kind.line_attr
            for index in self.live:
                value = getattr(lines[index], attr)
                for target in value if kind.many else (() if value is None else (value,)):
                    table.setdefault(target, []).append(index)
        return table

    def lines_for(self, rule: Rule, kinds: tuple[TargetKind, ...]) -> list[int]:
        """The live lines any of the rule's targets (of ``kinds``) matches, in cart order."""
        hits: list[list[int]] = []
        for kind in kinds:
            targets = getattr(rule, kind.field)
            if targets:
                table = self.table(kind)
                for target in targets:
                    hit = table.get(target)
                    if hit is not None:
                        hits.append(hit)
        if len(hits) == 1:
            return hits[0]  # one target's lines: already in cart order (callers only read it)
        return sorted(set().union(*hits))


def has_targets(rule: Rule, kinds: tuple[TargetKind, ...]) -> bool:
    return any(getattr(rule, kind.field) for kind in kinds)
