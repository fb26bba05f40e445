"""Serializer fields the whole API shares."""

import datetime as dt

from rest_framework import serializers

MIN_YEAR = 1900


class DateTimeField(serializers.DateTimeField):
    """DRF's field, plus: a date too far out to convert to UTC (year 1 in a zone east of
    UTC) is a validation error, not a 500, and years before 1900 are refused as typos."""

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "too_early": f"Dates before {MIN_YEAR} are not accepted.",
    }

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")

    def to_internal_value(self, value) -> dt.datetime:
        parsed = super().to_internal_value(value)
        if parsed.year < MIN_YEAR:
            self.fail("too_early")
        return parsed
