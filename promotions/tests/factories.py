"""Promotion factories and builders.

``PromotionFactory()`` is a DRAFT for everyone, live since yesterday, on IN_APP, made directly
(not through the services: their tests build through them). ``customers(n)`` makes customers
without slow password hashing; ``static_segment(members)`` a static USER segment with them.
"""

import datetime as dt

import factory
from django.utils import timezone

from accounts.models import User
from notifications.models import Message, MessageStatus
from promotions.models import Promotion, PromotionStatus
from segments.models import CustomerMembership, Segment
from segments.tests.factories import CustomerFactory, StaticSegmentFactory


class MessageFactory(factory.django.DjangoModelFactory):
    """A message as a sent promotion's (fanned out, no deliveries unless a test adds them)."""

    class Meta:
        model = Message

    key = factory.Sequence(lambda n: f"promotion-test:{n}")
    source_type = "promotion"
    channels = factory.LazyFunction(lambda: ["IN_APP"])
    audience = factory.LazyFunction(lambda: {"kind": "all"})
    status = MessageStatus.DONE


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Promotion {n}")
    description = "Something for you, {{ first_name }}."
    starts_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    channels = factory.LazyFunction(lambda: ["IN_APP"])

    class Params:
        # PromotionFactory(sent=True): SENT, with its message (the constraints want both).
        sent = factory.Trait(
            status=PromotionStatus.SENT,
            sent_at=factory.LazyFunction(timezone.now),
            message=factory.SubFactory(MessageFactory),
        )

    @factory.post_generation
    def segments(self, create, extracted, **kwargs):
        if create and extracted:
            self.segments.set(extracted)


def customers(count: int, **fields) -> list[User]:
    return [CustomerFactory(**fields) for _ in range(count)]


def static_segment(members: list[User], **fields) -> Segment:
    segment = StaticSegmentFactory(**fields)
    CustomerMembership.objects.bulk_create(CustomerMembership(segment=segment, customer=m) for m in members)
    Segment.objects.filter(pk=segment.pk).update(member_count=len(members), status=Segment.Status.READY)
    return segment
