"""The one strict input serializer every app's API uses (lms.api.serializers)."""

from rest_framework import serializers

from lms.api.serializers import CustomerRefInput, StrictInput, UpdateInput


class TierIn(StrictInput):
    threshold = serializers.IntegerField(min_value=1)


class RuleIn(StrictInput):
    value = serializers.IntegerField(min_value=1)
    tiers = TierIn(many=True, required=False)


class ProfileIn(UpdateInput):
    first_name = serializers.CharField(max_length=5, required=False)


def test_an_unknown_key_is_refused_by_name_not_dropped():
    form = RuleIn(data={"value": 3, "max_discount_amount": 10})

    assert not form.is_valid()
    assert form.errors == {"max_discount_amount": ["Unknown field."]}


def test_an_unknown_key_in_a_nested_input_is_refused_where_it_is():
    form = RuleIn(data={"value": 3, "tiers": [{"threshold": 2}, {"threshold": 2, "valeu": 1}]})

    assert not form.is_valid()
    assert form.errors == {"tiers": {1: {"valeu": ["Unknown field."]}}}


def test_an_unknown_key_is_reported_beside_the_fields_errors():
    form = RuleIn(data={"value": 0, "colour": "red"})

    assert not form.is_valid()
    assert set(form.errors) == {"value", "colour"}
    assert form.errors["colour"] == ["Unknown field."]


def test_a_partial_update_says_the_field_cannot_be_changed_here():
    form = ProfileIn(data={"first_name": "Asha", "role": "ADMIN", "is_staff": True}, partial=True)

    assert not form.is_valid()
    assert form.errors == {
        "is_staff": ["This field cannot be changed here."],
        "role": ["This field cannot be changed here."],
    }


def test_known_keys_pass_as_before():
    form = RuleIn(data={"value": 3, "tiers": [{"threshold": 2}]})

    assert form.is_valid(), form.errors
    assert form.validated_data["value"] == 3


def test_a_customer_reference_needs_one_of_its_keys():
    assert not CustomerRefInput(data={}).is_valid()
    assert CustomerRefInput(data={"email": "asha@example.com"}).is_valid()
