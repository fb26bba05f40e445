"""The console's notifications: messages with their delivery counts (and cancel), deliveries
(read-only, filtered, with "Retry failed"), preferences and push devices (read-only).
Every change goes through the services."""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from unfold.admin import ModelAdmin

from notifications.models import Delivery, DeliveryStatus, Message, Preference, PushDevice
from notifications.selectors import COUNTS, message_counts
from notifications.services.messages import message_cancel


class ReadOnlyAdmin(ModelAdmin):
    """Rows written by the system: viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The change list's actions need the permission; a single row is only ever viewed.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MessageChangeList(ChangeList):
    def get_results(self, request) -> None:
        super().get_results(request)
        counts = message_counts(message.pk for message in self.result_list)  # one query for the page
        for message in self.result_list:
            message.counts = counts[message.pk]


def _count(name: str):
    @admin.display(description=name)
    def column(self, message: Message) -> int:
        if not hasattr(message, "counts"):  # the detail page: counted once for all its fields
            message.counts = message_counts([message.pk])[message.pk]
        return message.counts[name]

    return column


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("title", "sent_by", "purpose", "status", "recipients", *COUNTS, "created_at")
    list_display_links = ("title",)
    list_filter = ("status", "purpose", "source_type")
    search_fields = ("=key", "=source_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "key", "source_type", "source_id", "purpose", "status", "title", "body", "image_url", "cta_text",
        "cta_url", "channels", "audience", "context", "cursor", "recipients", "created_at", "started_at",
        "finished_at", *COUNTS,
    )  # fmt: skip
    actions = ["cancel"]

    def get_changelist(self, request, **kwargs):
        return MessageChangeList

    @admin.display(description="sent by", ordering="source_type")
    def sent_by(self, message: Message) -> str:
        """What wrote the message, in words ("Campaign 11: announce"); the key stays searchable."""
        what = message.source_type.replace("_", " ").capitalize() or "Message"
        suffix = message.key.rsplit(":", 1)[-1] if message.key.count(":") >= 2 else ""
        return f"{what} {message.source_id}" + (f": {suffix}" if suffix else "")

    @admin.action(description="Cancel: no more recipients; unsent deliveries skipped", permissions=["change"])
    def cancel(self, request, queryset) -> None:
        for message_id in queryset.order_by("pk").values_list("pk", flat=True):
            message_cancel(message_id=message_id)
        self.message_user(request, f"Cancelled {queryset.count()} message(s).", messages.SUCCESS)


for _name in COUNTS:  # a column (and a detail field) per count: sent, failed, skipped, ...
    setattr(MessageAdmin, _name, _count(_name))


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "message", "recipient", "channel", "status", "reason", "attempts", "created_at", "sent_at")
    list_filter = ("status", "channel", ("message__source_type", admin.AllValuesFieldListFilter))
    list_select_related = ("message", "recipient")
    search_fields = ("=recipient__email",)
    search_help_text = "The recipient's exact email."
    date_hierarchy = "created_at"
    actions = ["retry_failed"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Delivery._meta.fields]

    @admin.action(description="Retry failed", permissions=["change"])
    def retry_failed(self, request, queryset) -> None:
        from notifications.services.dispatch import deliveries_retry

        ids = list(queryset.filter(status=DeliveryStatus.FAILED).values_list("pk", flat=True))
        requeued = deliveries_retry(delivery_ids=ids)
        self.message_user(request, f"Requeued {requeued} failed deliver{'y' if requeued == 1 else 'ies'}.")


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "in_app", "timezone", "quiet_start", "quiet_end", "updated_at")
    list_select_related = ("user",)
    search_fields = ("=user__email",)
    readonly_fields = ("user", "in_app", "timezone", "quiet_start", "quiet_end", "updated_at")


@admin.register(PushDevice)
class PushDeviceAdmin(ReadOnlyAdmin):
    list_display = ("user", "platform", "active", "created_at", "last_seen_at")
    list_filter = ("platform", "active")
    list_select_related = ("user",)
    search_fields = ("=user__email", "=token")
    readonly_fields = ("user", "token", "platform", "active", "created_at", "last_seen_at")
