"""Serializers' shared plumbing: strict inputs, and the shapes more than one app's API uses."""

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers

MONEY = {"max_digits": 12, "decimal_places": 2}
POSITIVE_MONEY = {**MONEY, "min_value": Decimal("0.01")}


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know instead of silently dropping them (a misspelt
    ``max_discount_amount`` would mean "no cap", a ``role`` in a profile update "done").

    Checked before the fields, so it holds for nested inputs and when other fields are wrong
    too (both reported, each under its own key). ``unknown_field_message`` is what the answer
    says on each unknown key; a partial update says the field cannot be changed there."""

    unknown_field_message = "Unknown field."

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors = {name: [self.unknown_field_message] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not errors or not isinstance(error.detail, dict):
                raise
            raise serializers.ValidationError({**error.detail, **errors}) from error
        if errors:
            raise serializers.ValidationError(errors)
        return value


class UpdateInput(StrictInput):
    """A partial update: a key it does not take is one that cannot be changed here."""

    unknown_field_message = "This field cannot be changed here."


class CustomerRefInput(serializers.Serializer):
    """Names a customer by id, external id or email (``commerce.services.customers.customer_for``
    finds them): the cart's customer, a redemption's."""

    id = serializers.IntegerField(min_value=1, required=False)
    external_id = serializers.CharField(max_length=64, required=False)
    email = serializers.EmailField(max_length=254, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Identify the customer by id, external_id or email.")
        return attrs


def text_list() -> serializers.ListField:
    """Up to 500 short strings, optional (places such as countries, states, cities)."""
    return serializers.ListField(child=serializers.CharField(max_length=64), max_length=500, required=False)


class PlacesInput(serializers.Serializer):
    """Where a row applies (a ModelSerializer mixes these in; its ``Meta.fields`` orders them)."""

    countries = text_list()
    states = text_list()
    cities = text_list()


class CurrencyField(serializers.RegexField):
    """A 3-letter ISO code, answered upper-case."""

    def __init__(self, **kwargs) -> None:
        super().__init__(r"^[A-Za-z]{3}$", **kwargs)

    def to_internal_value(self, data) -> str:
        return super().to_internal_value(data).upper()


def lift_group(attrs: dict[str, Any], key: str, prefix: str) -> dict[str, Any]:
    """A nested group's keys as the row's prefixed columns (``notification.title`` ->
    ``notify_title``); the group itself leaves ``attrs``."""
    for name, value in attrs.pop(key, {}).items():
        attrs[f"{prefix}{name}"] = value
    return attrs


@functools.cache
def notification_shapes(channels: tuple[tuple[str, str], ...], prefix: str) -> tuple[type, type]:
    """The input and the output of a row's notification (title, body, image, call to action and
    channels, stored in the row's ``<prefix>*`` columns). Built once per arguments: every app
    that asks for the same shape gets the same classes, so OpenAPI shows one component of each
    (``NotificationInput``, ``NotificationOutput``)."""
    notification_input = type(
        "NotificationInput",
        (StrictInput,),
        {
            "__module__": __name__,
            "title": serializers.CharField(max_length=200, required=False, allow_blank=True),
            "body": serializers.CharField(max_length=5000, required=False, allow_blank=True),
            "image_url": serializers.URLField(max_length=500, required=False, allow_blank=True),
            "cta_text": serializers.CharField(max_length=60, required=False, allow_blank=True),
            "cta_url": serializers.URLField(max_length=500, required=False, allow_blank=True),
            "channels": serializers.ListField(
                child=serializers.ChoiceField(choices=list(channels)), required=False, max_length=4
            ),
        },
    )
    notification_output = type(
        "NotificationOutput",
        (serializers.Serializer,),
        {
            "__module__": __name__,
            **{
                name: serializers.CharField(source=f"{prefix}{name}")
                for name in ("title", "body", "image_url", "cta_text", "cta_url")
            },
            "channels": serializers.ListField(child=serializers.CharField(), source=f"{prefix}channels"),
        },
    )
    return notification_input, notification_output
