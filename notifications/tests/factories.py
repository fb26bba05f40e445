import factory

from accounts.tests.factories import UserFactory
from notifications.content import Content
from notifications.models import Message
from notifications.services.messages import message_send


class CustomerFactory(UserFactory):
    """A customer who agreed to marketing on every channel and has a phone number."""

    marketing_email = True
    marketing_sms = True
    marketing_push = True
    phone = "+919800000000"
    # No password hashing (scrypt is slow by design): these customers never sign in.
    password = factory.PostGenerationMethodCall("set_unusable_password")


PROMO = Content(
    title="Hi {{ first_name }}, 20% off",
    body="Dear {{ first_name }},\nour sale starts today.",
    image_url="https://cdn.example.com/banner.png",
    cta_text="Shop now",
    cta_url="https://shop.example.com/sale?utm=mail",
)


def send(capture, *, people, channels, key="promo:1", content=PROMO, purpose="MARKETING") -> Message:
    """message_send to these people, its fan-out and sends run on commit (eager)."""
    with capture(execute=True):
        return message_send(
            key=key,
            source_type="promotion",
            source_id="1",
            purpose=purpose,
            content=content,
            channels=channels,
            audience={"kind": "customers", "ids": [person.pk for person in people]},
        )
