"""Input serializers' shared plumbing."""

from collections.abc import Mapping

from rest_framework import serializers


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
