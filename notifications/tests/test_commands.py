import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from notifications.models import Delivery, DeliveryStatus, Message

pytestmark = pytest.mark.django_db


def test_send_test_notification_mails_the_address_and_prints_the_outcome(mailoutbox):
    User.objects.create_user("ops@example.com", first_name="Ravi")
    out = StringIO()

    call_command("send_test_notification", "EMAIL", "ops@example.com", stdout=out)

    assert out.getvalue().startswith("EMAIL to ops@example.com: SENT")
    assert [m.to for m in mailoutbox] == [["ops@example.com"]]
    assert "Ravi works" in mailoutbox[0].body


def test_send_test_notification_names_the_bad_argument():
    with pytest.raises(CommandError, match="to"):
        call_command("send_test_notification", "EMAIL", "not-an-address")
    with pytest.raises(CommandError, match="No account"):
        call_command("send_test_notification", "SMS", "+919800000001", "--sender", "nobody@example.com")
    assert not Delivery.objects.exists()


def test_sweep_notifications_takes_over_a_row_stuck_sending():
    user = User.objects.create_user("stuck@example.com")
    message = Message.objects.create(
        key="stuck", source_type="test", title="t", body="b", channels=["SMS"], status="DONE"
    )
    past = timezone.now() - timezone.timedelta(hours=2)
    row = Delivery.objects.create(
        message=message, recipient=user, channel="SMS", status=DeliveryStatus.SENDING, lease_until=past, attempts=1
    )
    out = StringIO()

    call_command("sweep_notifications", stdout=out)

    report = json.loads(out.getvalue())
    row.refresh_from_db()
    assert report["taken_over"] == 1 and report["dispatched"] == 1
    assert (row.status, row.lease_until) == (DeliveryStatus.PENDING, None)
