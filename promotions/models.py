"""Promotions: customer-facing offers (content, audience, window) shown in the customer's feed
and sent once through notifications.

Life of a promotion: DRAFT -> (SCHEDULED ->) SENDING -> SENT, or DRAFT/SCHEDULED -> CANCELLED.
Sending records one :class:`notifications.models.Message` (key ``promotion:<id>``); the
promotion is SENDING while that message fans out and SENT once it has (the beat task settles
it). A promotion that went out is archived, never erased, so its deliveries stay.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class PromotionStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    SCHEDULED = "SCHEDULED", "Scheduled"
    SENDING = "SENDING", "Sending"
    SENT = "SENT", "Sent"
    CANCELLED = "CANCELLED", "Cancelled"


class PromotionAudience(models.TextChoices):
    ALL = "ALL", "Every customer"
    SEGMENTS = "SEGMENTS", "Members of segments"


# Statuses a marketer may still edit, schedule, send or cancel.
EDITABLE = (PromotionStatus.DRAFT, PromotionStatus.SCHEDULED)
# Statuses whose promotion has gone out (a Message exists).
WENT_OUT = (PromotionStatus.SENDING, PromotionStatus.SENT)
# Statuses a customer sees in the feed (within the window, not archived).
PUBLISHED = (PromotionStatus.SCHEDULED, PromotionStatus.SENDING, PromotionStatus.SENT)


class PromotionQuerySet(models.QuerySet):
    def live(self, at) -> "PromotionQuerySet":
        """What the feed may show at ``at``: published, not archived, inside its window."""
        return self.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=at),
            status__in=PUBLISHED,
            archived=False,
            starts_at__lte=at,
        )

    def due(self, at) -> "PromotionQuerySet":
        """Scheduled promotions whose send time has come."""
        return self.filter(status=PromotionStatus.SCHEDULED, send_at__lte=at)


class Promotion(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="The message's body; placeholders allowed.")
    image_url = models.URLField("banner image URL", max_length=500, blank=True)
    cta_text = models.CharField("call to action", max_length=60, blank=True)
    cta_url = models.URLField("call to action link", max_length=500, blank=True)
    # The customer is shown this campaign's code ({{ code }} in the content). PROTECT: a linked
    # campaign is archived rather than erased (promotions registers itself as a campaign usage).
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="promotions"
    )
    audience = models.CharField(max_length=8, choices=PromotionAudience.choices, default=PromotionAudience.ALL)
    segments = models.ManyToManyField("segments.Segment", blank=True, related_name="promotions")
    starts_at = models.DateTimeField(default=timezone.now, help_text="Shown in the feed from.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Shown in the feed until (empty: no end).")
    channels = models.JSONField(default=list, blank=True, help_text="EMAIL, SMS, PUSH, IN_APP.")

    status = models.CharField(max_length=10, choices=PromotionStatus.choices, default=PromotionStatus.DRAFT)
    send_at = models.DateTimeField(null=True, blank=True, help_text="When a scheduled promotion goes out.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When it was handed to notifications.")
    # Why the last scheduled send did not go (the promotion went back to DRAFT).
    send_error = models.TextField(blank=True)
    message = models.OneToOneField(
        "notifications.Message", null=True, blank=True, on_delete=models.PROTECT, related_name="promotion"
    )
    archived = models.BooleanField(default=False, help_text="Deleted after it went out: kept with its deliveries.")
    archived_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"], m2m_fields=[segments])
    objects = PromotionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "send_at"], name="promotions_due"),
            models.Index(fields=["archived", "status", "starts_at"], name="promotions_live"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="promotions_title_present"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")), name="promotions_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(status="SCHEDULED") | Q(send_at__isnull=False), name="promotions_scheduled_has_send_at"
            ),
            # It went out exactly when it has its message.
            models.CheckConstraint(
                condition=Q(status__in=["SENDING", "SENT"], message__isnull=False, sent_at__isnull=False)
                | (~Q(status__in=["SENDING", "SENT"]) & Q(message__isnull=True)),
                name="promotions_message_iff_went_out",
            ),
            models.CheckConstraint(
                condition=Q(archived=False, archived_at__isnull=True)
                | Q(archived=True, archived_at__isnull=False, status__in=["SENDING", "SENT"]),
                name="promotions_archived_went_out",
            ),
        ]

    def __str__(self) -> str:
        return self.title
