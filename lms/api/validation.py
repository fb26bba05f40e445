"""The one way a view validates a body: the serializer's data, or its 400 in the error shape."""

import threading
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import SkipField, empty


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_reused = threading.local()


def validated_hot(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """``validated`` for a hot route: valid data goes through one serializer instance per
    thread and class (a new instance deep-copies its whole field tree: most of the cost of a
    cart's validation); invalid data through ``validated`` itself, so the 400 is the same.
    Only for serializers whose validation reads nothing but the data (no context, no
    ``initial_data``, no instance)."""
    instances = _reused.__dict__.setdefault("instances", {})
    serializer = instances.get(serializer_class)
    if serializer is None:
        serializer = instances[serializer_class] = serializer_class()
    try:
        return serializer.run_validation(data)
    except (serializers.ValidationError, DjangoValidationError):
        return validated(serializer_class, data)  # raises, with the error as DRF shapes it


class FlatListSerializer(serializers.ListSerializer):
    """``many=True`` of a flat serializer (plain fields, no validate methods, no validators),
    validating each item with its fields directly: the same values DRF's path gives, without
    the per-item serializer machinery (about half the cost of a cart's lines). An item that
    is not a dict or that any field refuses goes through the child serializer itself, so
    every error keeps DRF's shape and messages. A child that is not flat always does.

    Use it as the child's ``Meta.list_serializer_class``."""

    @cached_property
    def flat_fields(self) -> list[tuple[str, serializers.Field]] | None:
        child, base = self.child, serializers.Serializer
        kind = type(child)
        if (
            kind.validate is not base.validate
            or kind.run_validation is not base.run_validation
            or kind.to_internal_value is not base.to_internal_value
            or child.validators
        ):
            return None
        fields = []
        for name, field in child.fields.items():
            if field.read_only:
                continue
            if isinstance(field, serializers.BaseSerializer) or field.source_attrs != [name]:
                return None
            if hasattr(child, f"validate_{name}"):
                return None
            fields.append((name, field))
        return fields

    def run_child_validation(self, data):
        fields = self.flat_fields
        if fields is None or type(data) is not dict:
            return super().run_child_validation(data)
        validated = {}
        try:
            for name, field in fields:
                try:
                    validated[name] = field.run_validation(data.get(name, empty))
                except SkipField:  # absent and optional without a default: left out, as DRF does
                    pass
        except (serializers.ValidationError, DjangoValidationError):
            return super().run_child_validation(data)  # the child's own errors, in its shape
        return validated
