"""The console's promotions: a list with status, window and delivery counts; a form saved
through the services with errors on their fields; a preview of the message per channel; send
now, schedule (at "send at") and cancel, as buttons and as list actions; a link to the sent
message's deliveries."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin

from lms.admin import ServiceSavedAdmin
from lms.admin_history import ReadableHistoryAdmin
from lms.errors import DomainError
from notifications.content import RenderError, render
from notifications.models import DELIVERED, Channel, Delivery, DeliveryStatus
from promotions import services
from promotions.models import EDITABLE, Promotion
from promotions.selectors import campaign_code

# A service path names the API's field; the form calls some of them otherwise.
FORM_FIELD_FOR_PATH = {"segment_ids": "segments", "campaign_id": "campaign"}
SAMPLE = {"first_name": "Asha", "last_name": "Rao", "email": "asha@example.com"}
SERVICE_FIELDS = ("title", "description", "image_url", "cta_text", "cta_url", "audience", "starts_at", "ends_at",
                  "channels")  # fmt: skip


def form_field_for(path: str) -> str:
    head = path.split(".", 1)[0]
    return FORM_FIELD_FOR_PATH.get(head, head)


class PromotionForm(forms.ModelForm):
    # A URL typed without a scheme means https; the service then refuses anything not http(s).
    image_url = forms.URLField(label="Banner image URL", max_length=500, required=False, assume_scheme="https")
    cta_url = forms.URLField(label="Call to action link", max_length=500, required=False, assume_scheme="https")
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple, help_text="Where it is sent."
    )
    send_at = forms.SplitDateTimeField(
        required=False,
        widget=AdminSplitDateTime,
        help_text='For "Save and schedule": when it goes out (in the future, before it ends).',
    )

    class Meta:
        model = Promotion
        fields = [
            "title", "description", "image_url", "cta_text", "cta_url", "campaign", "audience", "segments",
            "starts_at", "ends_at", "channels", "send_at",
        ]  # fmt: skip

    def _add_service_error(self, error: DomainError) -> None:
        details = error.details or {}
        placed = False
        for path, problems in details.items():
            field = form_field_for(path)
            if field in self.fields and isinstance(problems, list):
                for problem in problems:
                    self.add_error(field, str(problem))
                placed = True
        if not placed:
            field = form_field_for(details["path"]) if isinstance(details.get("path"), str) else None
            self.add_error(field if field in self.fields else None, error.message)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        fields = {name: data.get(name) for name in SERVICE_FIELDS}
        fields["channels"] = list(data.get("channels") or [])
        fields["campaign_id"] = data["campaign"].pk if data.get("campaign") else None
        segment_ids = [segment.pk for segment in data.get("segments") or []]
        try:
            services.promotion_check(fields=fields, segment_ids=segment_ids)
        except DomainError as error:
            self._add_service_error(error)
            return data
        if "_send_now" in self.data or "_schedule" in self.data:
            if not fields["channels"]:
                self.add_error("channels", "Choose at least one channel to send on.")
            if fields["ends_at"] is not None and fields["ends_at"] <= timezone.now():
                self.add_error("ends_at", "The window has ended; nothing to send.")
        if "_schedule" in self.data:
            send_at = data.get("send_at")
            if send_at is None:
                self.add_error("send_at", "Give the time to send at.")
            elif send_at <= timezone.now():
                self.add_error("send_at", "The send time must be in the future (send now instead).")
            elif fields["ends_at"] is not None and send_at >= fields["ends_at"]:
                self.add_error("send_at", "The send time must be before the promotion's window ends.")
        return data


def _count(statuses) -> Subquery:
    # Per row of the page only (a correlated subquery on the (message, status) index).
    rows = (
        Delivery.objects.filter(message_id=OuterRef("message_id"), status__in=list(statuses))
        .order_by()
        .values("message_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(rows, output_field=IntegerField())


@admin.register(Promotion)
class PromotionAdmin(ServiceSavedAdmin, ReadableHistoryAdmin, SimpleHistoryAdmin, ModelAdmin):
    form = PromotionForm
    list_display = ("title", "status", "audience", "starts_at", "ends_at", "send_at", "archived", "deliveries")
    list_filter = ("status", "archived", "audience")
    search_fields = ("title",)
    date_hierarchy = "starts_at"
    autocomplete_fields = ("campaign", "segments")
    readonly_fields = (
        "status", "sent_at", "send_error", "deliveries_link", "preview", "archived", "archived_at", "created_by",
        "created_at", "updated_at",
    )  # fmt: skip
    fieldsets = (
        ("Content", {"fields": ("title", "description", "image_url", ("cta_text", "cta_url"), "campaign")}),
        ("Audience and window", {"fields": ("audience", "segments", ("starts_at", "ends_at"))}),
        ("Sending", {"fields": ("channels", "send_at", "status", "sent_at", "send_error", "deliveries_link")}),
        ("Preview", {"fields": ("preview",)}),
        ("Record", {"fields": ("archived", "archived_at", "created_by", "created_at", "updated_at")}),
    )
    actions = ["send_now", "cancel_selected", "delete_or_archive"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("campaign")
            .annotate(
                delivered_count=_count(DELIVERED),
                failed_count=_count([DeliveryStatus.FAILED]),
                skipped_count=_count([DeliveryStatus.SKIPPED]),
                waiting_count=_count([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            )
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would erase sent promotions: see delete_or_archive
        return actions

    def has_change_permission(self, request, obj: Promotion | None = None) -> bool:
        # Once it went out (or was cancelled or archived) the page shows it; nothing changes it.
        editable = obj is None or (obj.status in EDITABLE and not obj.archived)
        return super().has_change_permission(request, obj) and editable

    # --- Columns and read-only fields ------------------------------------------------------------

    @admin.display(description="deliveries")
    def deliveries(self, obj: Promotion) -> str:
        if obj.message_id is None:
            return "-"
        counts = [
            (getattr(obj, "delivered_count", None) or 0, "delivered"),
            (getattr(obj, "waiting_count", None) or 0, "waiting"),
            (getattr(obj, "failed_count", None) or 0, "failed"),
            (getattr(obj, "skipped_count", None) or 0, "skipped"),
        ]
        return ", ".join(f"{n:,} {label}" for n, label in counts)

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: Promotion) -> str:
        if obj.pk is None or obj.message_id is None:
            return "Not sent yet."
        counts = dict(
            Delivery.objects.filter(message_id=obj.message_id)
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("status", "n")
        )
        summary = ", ".join(f"{counts.get(status, 0):,} {status.lower()}" for status in DeliveryStatus.values)
        try:
            url = reverse("admin:notifications_delivery_changelist") + f"?message__id__exact={obj.message_id}"
        except NoReverseMatch:  # the notifications console is not installed
            return summary
        return format_html('<a href="{}">The deliveries</a>: {}', url, summary)

    @admin.display(description="preview (sample customer Asha Rao)")
    def preview(self, obj: Promotion) -> str:
        if obj.pk is None:
            return "Save to see the message per channel."
        values = {**SAMPLE, "code": campaign_code(obj.campaign) or "CODE123", "promotion_title": obj.title}

        def text(source: str, html: bool = False) -> str:
            try:
                return render(source, values, html=html)
            except RenderError as error:
                return f"[cannot render: {error}]"

        title, body = text(obj.title), text(obj.description)
        cta = format_html(' <a href="{}">{}</a>', obj.cta_url, text(obj.cta_text)) if obj.cta_url else ""
        banner = (
            format_html('<img src="{}" alt="" style="max-width:320px"><br>', obj.image_url) if obj.image_url else ""
        )
        email_html = text(obj.description, html=True)
        chosen = set(obj.channels or [])
        rows = [
            (
                Channel.EMAIL,
                format_html(
                    '<b>Subject:</b> {}<br><iframe sandbox srcdoc="{}" style="width:100%;height:160px"></iframe>',
                    title,
                    f"{email_html}<p><a href='{obj.cta_url}'>{text(obj.cta_text)}</a></p>"
                    if obj.cta_url
                    else email_html,
                ),
            ),
            (Channel.SMS, format_html("<code>{}</code>", " ".join(filter(None, [body, obj.cta_url])))),
            (Channel.PUSH, format_html("<b>{}</b><br>{}", title, body)),
            (Channel.IN_APP, format_html("{}<b>{}</b><br>{}{}", banner, title, body, cta)),
        ]
        return format_html(
            '<table class="promotion-preview">{}</table>',
            format_html_join(
                "",
                "<tr><th>{}{}</th><td>{}</td></tr>",
                ((channel.label, "" if channel in chosen else " (not chosen)", html) for channel, html in rows),
            ),
        )

    # --- Saving through the services ------------------------------------------------------------

    def service_save(self, request, obj: Promotion, form: PromotionForm, change: bool) -> Promotion:
        data = form.cleaned_data
        fields: dict[str, Any] = {name: data.get(name) for name in SERVICE_FIELDS}
        fields["channels"] = list(data.get("channels") or [])
        fields["campaign_id"] = data["campaign"].pk if data.get("campaign") else None
        segment_ids = [segment.pk for segment in data.get("segments") or []]
        if change:
            return services.promotion_update(promotion_id=obj.pk, segment_ids=segment_ids, **fields)
        return services.promotion_create(created_by=request.user, segment_ids=segment_ids, **fields)

    def save_model(self, request, obj: Promotion, form: PromotionForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        obj.schedule_at = form.cleaned_data.get("send_at")  # for "Save and schedule" (response_add/response_change)

    def _after_save(self, request, obj: Promotion, response):
        send_at = getattr(obj, "schedule_at", None)
        try:
            if "_send_now" in request.POST:
                services.promotion_send(promotion_id=obj.pk)
                self.message_user(request, f"“{obj.title}” is being sent.", messages.SUCCESS)
            elif "_schedule" in request.POST and send_at is not None:
                services.promotion_schedule(promotion_id=obj.pk, send_at=send_at)
                self.message_user(request, f"“{obj.title}” is scheduled for {send_at:%Y-%m-%d %H:%M %Z}.")
            elif "_cancel_promotion" in request.POST:
                services.promotion_cancel(promotion_id=obj.pk)
                self.message_user(request, f"“{obj.title}” is cancelled.", messages.SUCCESS)
            else:
                return response
        except DomainError as error:
            self.message_user(request, f"Saved, but not done: {error.message}", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:promotions_promotion_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request, obj, super().response_add(request, obj, post_url_continue))

    def response_change(self, request, obj):
        return self._after_save(request, obj, super().response_change(request, obj))

    def delete_model(self, request, obj: Promotion) -> None:
        services.promotion_delete(promotion_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for promotion_id in queryset.values_list("pk", flat=True):
            services.promotion_delete(promotion_id=promotion_id)

    # --- List actions -----------------------------------------------------------------------------

    def _each(self, request, queryset, call, done: str) -> None:
        succeeded, failed = [], []
        for promotion in queryset.order_by("pk"):
            try:
                call(promotion.pk)
            except DomainError as error:
                failed.append(f"{promotion.title}: {error.message}")
            else:
                succeeded.append(promotion.title)
        if succeeded:
            self.message_user(request, f"{done}: {', '.join(succeeded)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not done for {'; '.join(failed)}", messages.ERROR)

    @admin.action(description="Send now", permissions=["change"])
    def send_now(self, request, queryset) -> None:
        self._each(request, queryset, lambda pk: services.promotion_send(promotion_id=pk), "Being sent")

    @admin.action(description="Cancel (before they go)", permissions=["change"])
    def cancel_selected(self, request, queryset) -> None:
        self._each(request, queryset, lambda pk: services.promotion_cancel(promotion_id=pk), "Cancelled")

    @admin.action(description="Delete (drafts) or archive (sent ones, deliveries kept)", permissions=["delete"])
    def delete_or_archive(self, request, queryset) -> None:
        def delete(pk: int) -> None:
            services.promotion_delete(promotion_id=pk)

        self._each(request, queryset, delete, "Deleted or archived")
