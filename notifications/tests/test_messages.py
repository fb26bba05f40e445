import pytest
from django.core import mail

from accounts.models import User
from lms.errors import Invalid
from notifications.content import Content
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.services.messages import message_send

pytestmark = pytest.mark.django_db


def _customers(count: int) -> list[User]:
    return [
        User.objects.create_user(f"c{i}@example.com", first_name=f"Name{i}", marketing_email=True) for i in range(count)
    ]


def test_a_message_to_listed_customers_lands_in_each_inbox_once(settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATIONS_FANOUT_BATCH = 2
    people = _customers(5)
    content = Content(title="Hi {{ first_name }}", body="Sale for {{ first_name }}")
    audience = {"kind": "customers", "ids": [p.pk for p in people]}

    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(key="t:1", source_type="test", content=content, channels=["IN_APP"], audience=audience)
    again = message_send(key="t:1", source_type="test", content=content, channels=["IN_APP"], audience=audience)

    assert again.pk == message.pk
    message.refresh_from_db()
    assert message.status == MessageStatus.DONE and message.recipients == 5
    rows = Delivery.objects.filter(message=message).order_by("recipient_id")
    assert [(r.status, r.title) for r in rows] == [(DeliveryStatus.SENT, f"Hi Name{i}") for i in range(5)]


def test_email_deliveries_are_sent_after_fanout(django_capture_on_commit_callbacks):
    people = _customers(3)
    with django_capture_on_commit_callbacks(execute=True):
        message_send(
        key="t:2", source_type="test", content=Content(title="Hello {{ first_name }}", body="b"),
        channels=[Channel.EMAIL], audience={"kind": "customers", "ids": [p.pk for p in people]},
    )  # fmt: skip
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.parametrize(
    ("content", "channels", "field"),
    [
        (Content(title="t", body="b"), ["FAX"], "channels.0"),
        (Content(title="t", body="b", cta_text="Go", cta_url="javascript:alert(1)"), ["IN_APP"], "cta_url"),
        (Content(title="t", body="b", image_url="data:image/png;base64,AAAA"), ["IN_APP"], "image_url"),
        (Content(title="t {{ first_name", body="b"), ["IN_APP"], "title"),
        (Content(title="t", body="{{ password }}"), ["IN_APP"], "body"),
        (Content(title="t", body="x" * 5001), ["IN_APP"], "body"),
        (Content(title="", body="b"), ["IN_APP"], "title"),
    ],
)
def test_content_that_could_not_be_sent_is_refused_with_its_field(content, channels, field):
    with pytest.raises(Invalid) as caught:
        message_send(key="t:bad", source_type="test", content=content, channels=channels, audience={"kind": "all"})
    assert field in caught.value.details
    assert not Message.objects.exists()


def test_a_fanout_batch_written_again_keeps_the_rows_already_there(django_capture_on_commit_callbacks):
    # A batch whose first run committed rows but not its cursor (cannot happen in one
    # transaction, but a hand-made row or a future path might): the insert skips, never fails.
    people = _customers(2)
    message = Message.objects.create(
        key="t:again", source_type="test", title="Hi {{ first_name }}", body="b", channels=["IN_APP"],
        audience={"kind": "customers", "ids": [p.pk for p in people]},
    )  # fmt: skip
    existing = Delivery.objects.create(message=message, recipient=people[0], channel="IN_APP", title="kept")

    with django_capture_on_commit_callbacks(execute=True):
        from notifications.services.messages import message_fanout

        message_fanout(message_id=message.pk)

    rows = {row.recipient_id: row.title for row in Delivery.objects.filter(message=message)}
    assert rows == {existing.recipient_id: "kept", people[1].pk: "Hi Name1"}
