"""The dispatcher: providers on loopback, consent, the daily cap, quiet hours, retries."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus, Preference, PushDevice
from notifications.services.dispatch import deliveries_send, deliveries_sweep
from notifications.services.messages import message_cancel, message_fanout, message_send
from notifications.services.policy import quiet_until
from notifications.tests.factories import PROMO, CustomerFactory, send

pytestmark = pytest.mark.django_db


def _rows(**filters):
    return list(Delivery.objects.filter(**filters).order_by("recipient_id", "channel"))


def _later(hours: float = 2) -> None:
    """Let time pass for every waiting row (backoff, quiet hours): their due time moves back."""
    for row in Delivery.objects.filter(status=DeliveryStatus.PENDING):
        Delivery.objects.filter(pk=row.pk).update(available_at=row.available_at - timedelta(hours=hours))


# --- EMAIL through a real SMTP server -----------------------------------------------------------


def test_marketing_mail_reaches_the_smtp_server_with_unsubscribe_headers_and_a_stable_message_id(
    smtp_server, django_capture_on_commit_callbacks
):
    person = CustomerFactory(first_name="<script>alert(1)</script>")

    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.EMAIL])

    [row] = _rows()
    assert row.status == DeliveryStatus.SENT, row.last_error
    [mail] = smtp_server.messages
    assert mail["To"] == person.email
    assert mail["Message-ID"] == row.provider_message_id
    assert mail["Message-ID"].startswith(f"<delivery-{row.pk}.") and mail["Message-ID"].endswith("@lms.example.com>")
    assert mail["List-Unsubscribe"].strip().startswith("<https://lms.example.com/n/u/")  # folded: long
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Subject"] == "Hi <script>alert(1)</script>, 20% off"  # a subject is plain text
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "<script>" not in html
    assert "Dear &lt;script&gt;alert(1)&lt;/script&gt;,<br>" in html
    assert 'src="https://cdn.example.com/banner.png"' in html
    assert "https://lms.example.com/n/c/" in html and "shop.example.com" not in html  # the CTA is tracked
    assert "Dear <script>alert(1)</script>," in text
    assert (row.address, row.title, row.sent_at is not None) == (person.email, mail["Subject"], True)
    assert row.body == "Dear <script>alert(1)</script>,\nour sale starts today."


def test_a_first_name_with_line_breaks_cannot_add_mail_headers(mailoutbox, django_capture_on_commit_callbacks):
    person = CustomerFactory(first_name="Asha\r\nBcc: evil@example.com\nX-Evil: 1")

    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.EMAIL])

    [row] = _rows()
    [mail] = mailoutbox
    assert row.status == DeliveryStatus.SENT, row.last_error
    assert mail.subject == "Hi Asha Bcc: evil@example.com X-Evil: 1, 20% off"
    assert (mail.bcc, mail.recipients()) == ([], [person.email])
    assert "X-Evil" not in mail.extra_headers and "\n" not in mail.message()["Subject"]


def test_transactional_mail_has_no_unsubscribe_link(smtp_server, django_capture_on_commit_callbacks):
    person = CustomerFactory(marketing_email=False)
    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.EMAIL], purpose="TRANSACTIONAL")
    [mail] = smtp_server.messages
    assert "List-Unsubscribe" not in mail
    assert "/n/u/" not in mail.get_body(("html",)).get_content()


def test_a_refused_recipient_fails_the_row_and_the_rest_are_sent(smtp_server, django_capture_on_commit_callbacks):
    good, bad = CustomerFactory(), CustomerFactory()
    smtp_server.refuse_rcpt[bad.email] = "550 5.1.1 No such user"

    send(django_capture_on_commit_callbacks, people=[good, bad], channels=[Channel.EMAIL])

    assert Delivery.objects.get(recipient=good).status == DeliveryStatus.SENT
    failed = Delivery.objects.get(recipient=bad)
    assert failed.status == DeliveryStatus.FAILED
    assert "550" in failed.last_error and "No such user" in failed.last_error
    assert [m["To"] for m in smtp_server.messages] == [good.email]


def test_a_mail_server_saying_try_later_is_retried_with_backoff(smtp_server, django_capture_on_commit_callbacks):
    person = CustomerFactory()
    smtp_server.data_replies.append("451 4.3.0 Try again later")

    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.EMAIL])

    [row] = _rows()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert "451" in row.last_error and row.available_at > timezone.now() + timedelta(seconds=30)
    assert deliveries_sweep()["dispatched"] == 0  # not due yet

    _later()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep()["dispatched"] == 1

    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)
    assert [m["Message-ID"] for m in smtp_server.messages] == [row.provider_message_id]


def test_a_mail_server_that_is_down_is_a_transient_error(settings, django_capture_on_commit_callbacks):
    from lms.testing import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    send(django_capture_on_commit_callbacks, people=[CustomerFactory()], channels=[Channel.EMAIL])
    [row] = _rows()
    assert row.status == DeliveryStatus.PENDING and "unavailable" in row.last_error


# --- SMS and PUSH through Apprise to a real HTTP receiver ---------------------------------------


def test_sms_and_push_reach_the_receiver_through_apprise(http_receiver, django_capture_on_commit_callbacks):
    person = CustomerFactory(phone="+91 98000 11111")
    PushDevice.objects.create(user=person, token="device-a")
    PushDevice.objects.create(user=person, token="device-b")
    PushDevice.objects.create(user=person, token="device-old", active=False)

    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.SMS, Channel.PUSH])

    push, sms = _rows()
    assert (push.status, sms.status) == (DeliveryStatus.SENT, DeliveryStatus.SENT)
    assert sorted(r.path for r in http_receiver.requests) == [
        "/push/device-a",
        "/push/device-b",
        "/sms/+91%2098000%2011111",
    ]
    by_path = {r.path: r for r in http_receiver.requests}
    assert by_path["/push/device-a"].body["title"] == f"Hi {person.first_name}, 20% off"
    assert by_path["/sms/+91%2098000%2011111"].headers["Idempotency-Key"] == sms.provider_message_id
    assert push.address == "device-a,device-b"


def test_a_503_is_retried_and_then_sent_with_the_same_idempotency_key(
    http_receiver, django_capture_on_commit_callbacks
):
    http_receiver.replies.extend([503, 429])
    send(django_capture_on_commit_callbacks, people=[CustomerFactory()], channels=[Channel.SMS])
    [row] = _rows()
    assert row.status == DeliveryStatus.PENDING and "503" in row.last_error

    for _ in range(2):
        _later()
        with django_capture_on_commit_callbacks(execute=True):
            deliveries_sweep()

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 3, "")
    keys = {r.headers["Idempotency-Key"] for r in http_receiver.requests}
    assert len(http_receiver.requests) == 3 and keys == {row.provider_message_id}


def test_a_400_fails_the_row_at_once_with_the_reason(http_receiver, django_capture_on_commit_callbacks):
    http_receiver.replies.append(400)
    send(django_capture_on_commit_callbacks, people=[CustomerFactory()], channels=[Channel.SMS])
    [row] = _rows()
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 1)
    assert "error=400" in row.last_error


def test_a_receiver_that_stays_down_fails_the_row_after_the_last_attempt(
    settings, http_receiver, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    http_receiver.replies.extend([500, 502, 503, 200])
    person = CustomerFactory()
    PushDevice.objects.create(user=person, token="t")
    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.PUSH])
    for _ in range(2):
        _later()
        with django_capture_on_commit_callbacks(execute=True):
            deliveries_sweep()
    [row] = _rows()
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 3)
    assert "503" in row.last_error


# --- consent, cap, quiet hours -----------------------------------------------------------------


def test_marketing_honours_each_channels_consent_and_needs_an_address(outbox, django_capture_on_commit_callbacks):
    no_mail = CustomerFactory(marketing_email=False)
    no_sms = CustomerFactory(marketing_sms=False)
    no_phone = CustomerFactory(phone="")
    no_device = CustomerFactory()
    with_device = CustomerFactory(marketing_push=True)
    PushDevice.objects.create(user=with_device, token="tok")
    people = [no_mail, no_sms, no_phone, no_device, with_device]

    send(django_capture_on_commit_callbacks, people=people, channels=[Channel.EMAIL, Channel.SMS, Channel.PUSH])

    outcome = {(r.recipient_id, r.channel): (r.status, r.reason) for r in _rows()}
    skipped = DeliveryStatus.SKIPPED
    assert outcome[(no_mail.pk, "EMAIL")] == (skipped, "opted_out")
    assert outcome[(no_sms.pk, "SMS")] == (skipped, "opted_out")
    assert outcome[(no_phone.pk, "SMS")] == (skipped, "no_address")
    assert outcome[(no_device.pk, "PUSH")] == (skipped, "no_address")
    assert outcome[(with_device.pk, "PUSH")] == (DeliveryStatus.SENT, "")
    assert outcome[(no_mail.pk, "SMS")] == (DeliveryStatus.SENT, "")


def test_transactional_messages_ignore_consent_cap_and_quiet_hours(
    settings, outbox, mailoutbox, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DAILY_CAP = 1
    settings.NOTIFICATIONS_QUIET_HOURS = "00:00-23:59"
    person = CustomerFactory(marketing_email=False, marketing_sms=False)
    for key in ("t:1", "t:2"):
        send(
            django_capture_on_commit_callbacks,
            people=[person],
            key=key,
            channels=[Channel.EMAIL, Channel.SMS],
            purpose="TRANSACTIONAL",
        )
    assert {r.status for r in _rows()} == {DeliveryStatus.SENT}
    assert (len(mailoutbox), len(outbox)) == (2, 2)


def test_the_daily_cap_counts_marketing_messages_not_channels(
    settings, outbox, mailoutbox, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DAILY_CAP = 2
    person, fresh = CustomerFactory(), CustomerFactory()
    # Older than a day, and in-app: neither counts.
    send(django_capture_on_commit_callbacks, people=[person], key="old", channels=[Channel.EMAIL])
    Delivery.objects.update(sent_at=timezone.now() - timedelta(hours=25))
    send(django_capture_on_commit_callbacks, people=[person], key="inbox", channels=[Channel.IN_APP])

    for key in ("m:1", "m:2", "m:3"):
        send(django_capture_on_commit_callbacks, people=[person, fresh], key=key, channels=[Channel.EMAIL, Channel.SMS])

    third = _rows(message__key="m:3")
    assert [(r.recipient_id, r.status, r.reason) for r in third] == [
        (person.pk, DeliveryStatus.SKIPPED, "frequency_cap"),
        (person.pk, DeliveryStatus.SKIPPED, "frequency_cap"),
        (fresh.pk, DeliveryStatus.SKIPPED, "frequency_cap"),
        (fresh.pk, DeliveryStatus.SKIPPED, "frequency_cap"),
    ]
    assert {r.status for r in _rows(message__key__in=["m:1", "m:2"])} == {DeliveryStatus.SENT}


def test_quiet_hours_defer_marketing_to_their_end_and_then_it_is_sent(outbox, django_capture_on_commit_callbacks):
    zone = ZoneInfo("America/New_York")
    local_now = timezone.now().astimezone(zone)
    start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    person, awake = CustomerFactory(), CustomerFactory()
    Preference.objects.create(user=person, timezone="America/New_York", quiet_start=start, quiet_end=end)

    send(django_capture_on_commit_callbacks, people=[person, awake], channels=[Channel.SMS])

    deferred = Delivery.objects.get(recipient=person)
    assert (deferred.status, deferred.reason, deferred.attempts) == (DeliveryStatus.PENDING, "quiet_hours", 0)
    expected_end = datetime.combine((local_now + timedelta(hours=1)).date(), end, tzinfo=zone)
    assert deferred.available_at == expected_end.astimezone(UTC)
    assert Delivery.objects.get(recipient=awake).status == DeliveryStatus.SENT
    assert [o.to for o in outbox] == [awake.phone]

    # The sweeper finds it due once the quiet hours are over (their end is moved to the past).
    Delivery.objects.filter(pk=deferred.pk).update(available_at=timezone.now() - timedelta(minutes=5))
    # ... and "now" is outside them: the window becomes the rest of the day.
    Preference.objects.filter(user=person).update(quiet_start=end, quiet_end=start)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep(grace=timedelta(minutes=1))["dispatched"] == 1
    deferred.refresh_from_db()
    assert (deferred.status, deferred.attempts) == (DeliveryStatus.SENT, 1)
    assert [o.to for o in outbox] == [awake.phone, person.phone]


@pytest.mark.parametrize(
    ("now", "start", "end", "until"),
    [
        ("2026-12-06T23:30", "22:00", "08:00", "2026-12-07T08:00"),
        ("2026-12-07T07:59", "22:00", "08:00", "2026-12-07T08:00"),
        ("2026-12-07T08:00", "22:00", "08:00", None),
        ("2026-12-07T21:59", "22:00", "08:00", None),
        ("2026-12-07T13:00", "12:00", "14:00", "2026-12-07T14:00"),
        ("2026-12-07T14:00", "12:00", "14:00", None),
    ],
)
def test_quiet_hours_window_including_across_midnight(now, start, end, until):
    zone = ZoneInfo("Asia/Kolkata")
    at = datetime.fromisoformat(now).replace(tzinfo=zone)
    result = quiet_until(at, zone=zone, start=time.fromisoformat(start), end=time.fromisoformat(end))
    assert result == (datetime.fromisoformat(until).replace(tzinfo=zone) if until else None)


def test_the_site_quiet_hours_apply_when_the_customer_has_none(settings, outbox, django_capture_on_commit_callbacks):
    settings.TIME_ZONE = "UTC"
    now = timezone.now()
    settings.NOTIFICATIONS_QUIET_HOURS = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    send(django_capture_on_commit_callbacks, people=[CustomerFactory()], channels=[Channel.SMS])
    [row] = _rows()
    assert (row.status, row.reason) == (DeliveryStatus.PENDING, "quiet_hours")
    assert outbox == []


def test_the_site_quiet_hours_are_judged_in_the_customers_own_zone(settings):
    from notifications.services.policy import quiet_until_for

    settings.TIME_ZONE, settings.NOTIFICATIONS_QUIET_HOURS = "Asia/Kolkata", "22:00-08:00"
    three_utc = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # 08:30 in Kolkata, 22:00 the day before in New York
    in_new_york = Preference(timezone="America/New_York")

    assert quiet_until_for(three_utc, None) is None
    assert quiet_until_for(three_utc, in_new_york) == datetime(2026, 12, 6, 13, 0, tzinfo=UTC)  # 08:00 New York


# --- cancel, render errors, in-app ---------------------------------------------------------------


def test_rows_claimed_before_a_cancel_are_skipped_not_sent(outbox):
    people = [CustomerFactory(), CustomerFactory()]
    message = message_send(
        key="promo:c", source_type="promotion", content=PROMO, channels=[Channel.SMS],
        audience={"kind": "customers", "ids": [p.pk for p in people]},
    )  # fmt: skip
    message_fanout(message_id=message.pk)  # rows written; their send task waits on commit
    assert {r.status for r in _rows()} == {DeliveryStatus.PENDING}
    # The cancel commits while a dispatcher is about to send: it reads the message's status.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.CANCELLED)

    assert deliveries_send(message_id=message.pk, first_recipient=0, last_recipient=10**9) == 0

    assert {(r.status, r.reason) for r in _rows()} == {(DeliveryStatus.SKIPPED, "cancelled")}
    assert outbox == []


def test_message_cancel_skips_the_rows_not_yet_sent():
    person = CustomerFactory()
    message = message_send(
        key="promo:d", source_type="promotion", content=PROMO, channels=[Channel.SMS],
        audience={"kind": "customers", "ids": [person.pk]},
    )  # fmt: skip
    message_fanout(message_id=message.pk)
    message_cancel(message_id=message.pk)
    assert {(r.status, r.reason) for r in _rows()} == {(DeliveryStatus.SKIPPED, "cancelled")}


def test_a_value_missing_at_send_time_fails_only_that_row(outbox, django_capture_on_commit_callbacks):
    from notifications import registry
    from notifications.content import Content

    registry.placeholders.register("test_level", "A level no source fills.")
    try:
        content = Content(title="t", body="Your level: {{ test_level }}")
        send(
            django_capture_on_commit_callbacks,
            people=[CustomerFactory()],
            channels=[Channel.SMS, Channel.IN_APP],
            content=content,
        )
    finally:
        registry.placeholders.unregister("test_level")
    assert {(r.channel, r.status) for r in _rows()} == {("SMS", "FAILED"), ("IN_APP", "FAILED")}
    assert all("test_level" in r.last_error for r in _rows())


def test_a_batch_is_sent_once_however_often_its_task_runs(outbox, django_capture_on_commit_callbacks):
    people = [CustomerFactory() for _ in range(3)]
    message = send(django_capture_on_commit_callbacks, people=people, channels=[Channel.SMS])
    ids = [p.pk for p in people]
    assert deliveries_send(message_id=message.pk, first_recipient=min(ids), last_recipient=max(ids)) == 0
    assert len(outbox) == 3


def test_content_keeps_its_cta_for_sms_as_a_tracked_link(outbox, django_capture_on_commit_callbacks):
    send(django_capture_on_commit_callbacks, people=[CustomerFactory()], channels=[Channel.SMS], content=PROMO)
    assert outbox[0].link.startswith("https://lms.example.com/n/c/")


# --- settings checks --------------------------------------------------------------------------


def test_settings_that_cannot_work_fail_the_system_checks(settings):
    from notifications.checks import notification_settings_check

    assert notification_settings_check() == []
    settings.NOTIFICATIONS_QUIET_HOURS = "late-early"
    settings.NOTIFICATIONS_PROVIDERS = {
        "EMAIL": "notifications.providers.nowhere.Provider",
        "SMS": "notifications.providers.apprise.AppriseProvider",
    }
    settings.NOTIFICATIONS_SMS_URL = ""

    ids = sorted(problem.id for problem in notification_settings_check())

    assert ids == ["notifications.E001", "notifications.E002", "notifications.W001"]


# --- recipients whose account closed ----------------------------------------------------------


@pytest.mark.parametrize("purpose", ["MARKETING", "TRANSACTIONAL"])
def test_a_row_for_an_account_deactivated_after_fan_out_is_skipped_not_sent(outbox, mailoutbox, purpose):
    from notifications.tests.builders import delivery, message

    person = CustomerFactory()
    msg = message(channels=("SMS", "EMAIL"), purpose=purpose)
    rows = [delivery(msg, person, channel=ch, status=DeliveryStatus.PENDING) for ch in (Channel.SMS, Channel.EMAIL)]
    person.is_active = False
    person.save(update_fields=["is_active"])

    deliveries_send(message_id=msg.pk, first_recipient=person.pk, last_recipient=person.pk)

    assert (outbox, mailoutbox) == ([], [])
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.reason) == (DeliveryStatus.SKIPPED, "inactive")


def test_retrying_a_failed_row_of_a_deactivated_account_does_not_send_it(outbox, django_capture_on_commit_callbacks):
    from notifications.services.dispatch import deliveries_retry
    from notifications.tests.builders import delivery, message

    person = CustomerFactory()
    row = delivery(message(channels=("SMS",)), person, channel=Channel.SMS, status=DeliveryStatus.FAILED)
    person.is_active = False
    person.save(update_fields=["is_active"])

    with django_capture_on_commit_callbacks(execute=True):
        deliveries_retry(delivery_ids=[row.pk])

    row.refresh_from_db()
    assert (row.status, row.reason, outbox) == (DeliveryStatus.SKIPPED, "inactive", [])
