"""Validate a batch item by item and hand the valid ones to a bulk service.

Shared by the bulk API routes and the ``import_*`` commands, so a row is judged the same
way whichever door it comes in by.
"""

from collections.abc import Callable, Sequence
from typing import Any

from rest_framework import serializers

from commerce.services import ItemResult
from lms.api.exceptions import flatten_errors
from lms.errors import Invalid


def _item_key(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    return str(item.get("sku") or item.get("external_id") or item.get("email") or "")[:64]


def ingest_items(
    raw: Sequence[Any],
    item_input: type[serializers.Serializer],
    service: Callable[..., list[ItemResult]],
) -> list[ItemResult]:
    """One result per raw item, in order: rejected when it does not validate, else the
    service's outcome for it."""
    valid, positions, rejected = [], [], []
    # One serializer instance validates every item: building one per item deep-copies its
    # fields each time, which costs more than the validation itself.
    validator = item_input()
    for index, item in enumerate(raw):
        try:
            valid.append(validator.run_validation(item))
        except serializers.ValidationError as exc:
            fields = flatten_errors(exc.detail)
            path, messages = next(iter(fields.items()))
            error = Invalid("validation_error", f"{path}: {messages[0]}", **fields)
            rejected.append(ItemResult(index=index, key=_item_key(item)).reject(error))
            continue
        positions.append(index)
    results = service(items=valid) if valid else []
    for result in results:
        result.index = positions[result.index]
    return sorted([*results, *rejected], key=lambda result: result.index)
