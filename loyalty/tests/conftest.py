"""Fixtures of the loyalty tests."""

from decimal import Decimal

import pytest

from loyalty.tests.factories import program_make


@pytest.fixture
def dear():
    """A live program whose point is worth the most a program allows (100 rupees)."""
    return program_make(name="Dear points", settings={"point_value": Decimal("100")})
