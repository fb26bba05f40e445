"""Segment factories and small builders of criteria trees.

``SegmentFactory(criteria=city_is("Pune"))`` stores a dynamic USER segment (PENDING, no members
until refreshed); ``StaticSegmentFactory()`` a static one without criteria;
``ProductSegmentFactory()`` a dynamic PRODUCT segment over ``price``. Criteria are stored as the
API would store them (validated, plain JSON).
"""

from typing import Any

import factory

from accounts.tests.factories import UserFactory
from segments.models import Segment


def city_is(city: str) -> dict[str, Any]:
    return {"all": [{"field": "city", "op": "eq", "value": city}]}


def city_in(*cities: str) -> dict[str, Any]:
    return {"all": [{"field": "city", "op": "in", "value": list(cities)}]}


def price_at_least(price: str) -> dict[str, Any]:
    return {"all": [{"field": "price", "op": "gte", "value": price}]}


class CustomerFactory(UserFactory):
    """A customer without a usable password: no slow password hashing."""

    password = factory.PostGenerationMethodCall("set_password", None)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        # Redeclared after ``password`` so the saved hash is the one set here (tokens carry a
        # digest of it: a stale in-memory hash would make the user's own token look revoked).
        if create:
            obj.save(update_fields=["password"])


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = Segment.Kind.USER
    type = Segment.Type.DYNAMIC
    criteria = factory.LazyFunction(lambda: city_is("Pune"))


class StaticSegmentFactory(SegmentFactory):
    type = Segment.Type.STATIC
    criteria = None


class ProductSegmentFactory(SegmentFactory):
    kind = Segment.Kind.PRODUCT
    criteria = factory.LazyFunction(lambda: price_at_least("100.00"))
