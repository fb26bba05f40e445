"""Messages, their deliveries (one per recipient and channel), preferences and push devices.

A :class:`Message` is what one source says once: a campaign announcing itself, a promotion, a
customer's points earned. It names its audience (an opaque spec an audience resolver walks)
and its content. Fan-out turns it into :class:`Delivery` rows, unique per (message, recipient,
channel); the rows are the outbox of the sending: written in the transaction that decides to
send, claimed by a conditional update before a provider sees them, re-dispatched by beat when
left PENDING or stuck in SENDING past their lease.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    EMAIL = "EMAIL", "Email"
    SMS = "SMS", "SMS"
    PUSH = "PUSH", "Push"
    IN_APP = "IN_APP", "In-app"


class Purpose(models.TextChoices):
    # Marketing honours the customer's consents, the frequency cap and quiet hours;
    # transactional (a test send, account notices) honours none of them.
    MARKETING = "MARKETING", "Marketing"
    TRANSACTIONAL = "TRANSACTIONAL", "Transactional"


class MessageStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting to fan out"
    FANNING_OUT = "FANNING_OUT", "Fanning out"
    DONE = "DONE", "Every delivery written"
    CANCELLED = "CANCELLED", "Cancelled"


class Message(models.Model):
    """One source's content for one audience, sent at most once per recipient and channel."""

    # Idempotency key of the send: "promotion:5", "campaign:12:activated:3", "points-earned:991".
    key = models.CharField(max_length=160, unique=True)
    # Who sent it, for filters and per-source counts; source_type also selects the context
    # provider that fills per-recipient placeholders (``notifications.registry``).
    source_type = models.CharField(max_length=32, db_index=True)
    source_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.MARKETING)

    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    cta_text = models.CharField(max_length=60, blank=True)
    cta_url = models.URLField(max_length=500, blank=True)
    channels = models.JSONField(default=list)
    # {"kind": "customers", "ids": [..]} | {"kind": "all"} | {"kind": "segments", "ids": [..]}:
    # walked in id order by the resolver registered for its kind.
    audience = models.JSONField(default=dict)
    # Values every recipient's placeholders share (the campaign's code, the program's name).
    context = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    # Fan-out resumes after the last recipient id it wrote (a killed worker loses nothing).
    cursor = models.BigIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0, help_text="Recipients written so far.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last fan-out batch written (or restart): the sweeper restarts a fan-out idle too long.
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["source_type", "source_id"], name="notifications_msg_source")]

    def __str__(self) -> str:
        return self.key


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SENDING = "SENDING", "Sending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"
    SKIPPED = "SKIPPED", "Skipped"
    READ = "READ", "Read"
    CLICKED = "CLICKED", "Clicked"


# Statuses of a delivery that reached its recipient.
DELIVERED = (DeliveryStatus.SENT, DeliveryStatus.READ, DeliveryStatus.CLICKED)


class Delivery(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    # Why it was skipped or deferred: opted_out, no_address, frequency_cap, quiet_hours, cancelled,
    # inactive (the recipient's account was closed before the send).
    reason = models.CharField(max_length=32, blank=True)
    # This recipient's placeholder values (merged over the message's context when rendered).
    context = models.JSONField(default=dict, blank=True)
    address = models.CharField(max_length=254, blank=True, help_text="Where it went: email, phone, devices.")
    # The rendered text, kept for the in-app inbox (and as the record of what went out).
    title = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    available_at = models.DateTimeField(default=timezone.now, help_text="Not sent before (backoff, quiet hours).")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A SENDING row past this is taken over.")

    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "recipient", "channel"], name="notifications_delivery_once"),
        ]
        indexes = [
            # The dispatcher's sweep: due rows by status.
            models.Index(fields=["status", "available_at"], name="notifications_due"),
            # The in-app inbox, newest first.
            models.Index(
                fields=["recipient", "-created_at"], name="notifications_inbox", condition=Q(channel="IN_APP")
            ),
            # The frequency cap: a recipient's marketing sends in the last day.
            models.Index(fields=["recipient", "sent_at"], name="notifications_recent_sends"),
            models.Index(fields=["message", "status"], name="notifications_msg_status"),
            # The dashboard's delivery rates over a range of days.
            models.Index(fields=["created_at"], name="notifications_delivery_time"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient_id} ({self.status})"


class Preference(models.Model):
    """A customer's notification settings beyond the marketing consents kept on the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    in_app = models.BooleanField(default=True, help_text="Marketing messages in the in-app inbox.")
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA name; blank = the site's zone.")
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True, help_text="Before the start: the quiet hours cross midnight.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | (Q(quiet_start__isnull=False, quiet_end__isnull=False) & ~Q(quiet_start=models.F("quiet_end"))),
                name="notifications_quiet_hours_window",
            ),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class PushDevice(models.Model):
    """A device token a client app registered for push messages."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices")
    token = models.CharField(max_length=512)
    platform = models.CharField(max_length=16, blank=True, help_text="ios, android, web.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["token"], name="notifications_push_token_unique")]

    def __str__(self) -> str:
        return f"{self.platform or 'device'} of {self.user_id}"
