"""``manage.py send_test_notification CHANNEL TO``: check a provider's configuration from ops
(an SMTP relay, a Twilio or FCM URL) by sending one transactional message now."""

from django.core.management.base import CommandError

from accounts.models import User
from lms.command import OperatorCommand
from lms.errors import DomainError
from notifications.content import Content
from notifications.models import Channel, DeliveryStatus
from notifications.services.dispatch import notification_test_send


class Command(OperatorCommand):
    help = (
        "Send one transactional test message on a channel now and print what the provider answered "
        "(exit 1 when it failed). TO is an email (EMAIL), a phone (SMS), a device token (PUSH) or the "
        "email or id of the account whose inbox gets it (IN_APP). Re-running sends one more message (nothing else "
        "changes)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("channel", choices=Channel.values)
        parser.add_argument("to")
        parser.add_argument("--title", default="LMS test message")
        parser.add_argument("--body", default="If you can read this, {{ first_name or 'the channel' }} works.")
        parser.add_argument(
            "--sender", help="The email of the account the message is sent as (its values fill the placeholders)."
        )

    def handle(self, *args, channel: str, to: str, title: str, body: str, sender: str | None, **options) -> None:
        by = None
        if sender:
            by = User.objects.filter(email__iexact=sender).first()
            if by is None:
                raise CommandError(f"No account has the email {sender!r}.")
        try:
            delivery = notification_test_send(channel=channel, to=to, content=Content(title=title, body=body), by=by)
        except DomainError as exc:
            details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.details.items())
            raise CommandError(f"{exc.code}: {details or exc.message}")
        line = f"{channel} to {delivery.address or to}: {delivery.status}"
        if delivery.provider_message_id:
            line += f" (provider id {delivery.provider_message_id})"
        if delivery.last_error:
            line += f": {delivery.last_error}"
        if delivery.status == DeliveryStatus.FAILED:
            raise CommandError(line)
        self.stdout.write(line)
