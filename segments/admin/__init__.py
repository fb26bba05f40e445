"""The console's segments: criteria built in a builder (or typed as JSON) with a live count,
members listed and exported, what targets a segment, history, a refresh action, and CSV
upload for static lists. Saving goes through the services."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper
from unfold.admin import ModelAdmin

from lms.errors import DomainError
from lms.outbox import outbox_enqueue
from segments import services
from segments.admin.builder import criteria_in_words
from segments.admin.forms import SegmentForm
from segments.admin.pages import SegmentPagesMixin
from segments.models import Segment


class SegmentHistoryHelper(HistoricalRecordContextHelper):
    """The history page shows a change of criteria in words, not as a truncated dict."""

    def stringify_delta_change_values(self, change, old, new):
        if change.field != "criteria":
            return super().stringify_delta_change_values(change, old, new)
        kind = self.record.kind
        return tuple(criteria_in_words(kind, value) if value else "-" for value in (old, new))


@admin.register(Segment)
class SegmentAdmin(SegmentPagesMixin, SimpleHistoryAdmin, ModelAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "type", "status", "member_count", "last_refreshed_at", "updated_at")
    list_filter = ("kind", "type", "status")
    search_fields = ("name",)
    readonly_fields = (
        "member_count",
        "status",
        "last_refreshed_at",
        "refresh_error",
        "members_link",
        "used_by",
        "criteria_summary",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "kind", "type")}),
        ("Who is in it", {"fields": ("criteria", "members_file")}),
        ("Membership", {"fields": ("members_link", "status", "last_refreshed_at", "refresh_error", "used_by")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    actions = ["refresh_now"]

    def get_readonly_fields(self, request, obj=None):
        # Kind and type fix what the membership means: set once.
        return (*self.readonly_fields, "kind", "type") if obj else self.readonly_fields

    def get_fieldsets(self, request, obj: Segment | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # kind and type are chosen: both ways of saying who is in it are offered
            return [fieldset for fieldset in fieldsets if fieldset[0] in (None, "Who is in it")]
        # Kind and type are set once: a dynamic segment has criteria (in words when read only),
        # a static one its upload (none when read only).
        if self.has_change_permission(request, obj):
            shown = ("criteria",) if obj.type == Segment.Type.DYNAMIC else ("members_file",)
        else:
            shown = ("criteria_summary",) if obj.type == Segment.Type.DYNAMIC else ()
        who = [("Who is in it", {"fields": shown})] if shown else []
        return [(None, fieldsets[0][1]), *who, *fieldsets[2:]]

    def get_historical_record_context_helper(self, request, historical_record):
        return SegmentHistoryHelper(self.model, historical_record)

    @admin.display(description="Criteria")
    def criteria_summary(self, obj: Segment) -> str:
        return criteria_in_words(obj.kind, obj.criteria) if obj.criteria else "-"

    def save_model(self, request, obj: Segment, form, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                changes = {name: data[name] for name in ("name", "description") if name in form.changed_data}
                if "criteria" in form.changed_data and obj.type == Segment.Type.DYNAMIC:
                    changes["criteria"] = data["criteria"]
                saved = services.segment_update(segment=Segment.objects.get(pk=obj.pk), **changes)
                if obj.type == Segment.Type.STATIC and data.get("members") is not None:
                    result = services.segment_members_replace(segment=saved, members=data["members"])
                    self._report_unknown(request, result.unknown)
            else:
                saved = services.segment_create(
                    name=data["name"],
                    description=data.get("description", ""),
                    kind=data["kind"],
                    type=data["type"],
                    criteria=data.get("criteria"),
                    members=data.get("members"),
                    created_by=request.user,
                )
                self._report_unknown(request, saved.unknown_members)
        except DomainError as error:
            # Shown on the list page; the console's form already validated what it could.
            self.message_user(request, error.message, level=messages.ERROR)
            obj.pk = obj.pk or Segment.objects.filter(name__iexact=data["name"]).values_list("pk", flat=True).first()
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    def _report_unknown(self, request, unknown: list[str]) -> None:
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            self.message_user(request, f"{len(unknown)} member(s) matched nothing: {shown}.", level=messages.WARNING)

    def has_delete_permission(self, request, obj: Segment | None = None) -> bool:
        # A segment a campaign, program or promotion targets cannot be deleted (the API says 409).
        return super().has_delete_permission(request, obj) and not (obj and services.segment_usages(obj))

    def delete_model(self, request, obj: Segment) -> None:
        services.segment_delete(segment=obj)

    @admin.action(description="Refresh membership now")
    def refresh_now(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for segment_id in ids:
            outbox_enqueue("segments.tasks.segment_refresh_task", segment_id)
        self.message_user(request, f"Refresh queued for {len(ids)} segment(s).")
