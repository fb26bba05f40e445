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
    for index, item in enumerate(raw):
        serializer = item_input(data=item)
        if serializer.is_valid():
            valid.append(serializer.validated_data)
            positions.append(index)
            continue
        fields = flatten_errors(serializer.errors)
        path, messages = next(iter(fields.items()))
        error = Invalid("validation_error", f"{path}: {messages[0]}", **fields)
        rejected.append(ItemResult(index=index, key=_item_key(item)).reject(error))
    results = service(items=valid) if valid else []
    for result in results:
        result.index = positions[result.index]
    return sorted([*results, *rejected], key=lambda result: result.index)
