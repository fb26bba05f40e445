"""The console's segments: criteria validated as they are typed in, a live preview count,
a refresh action, and CSV upload for static lists. Saving goes through the services."""

import csv
import io

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from lms.errors import DomainError
from lms.outbox import outbox_enqueue
from segments import services
from segments.models import Segment
from segments.selectors import segment_preview

CRITERIA_EXAMPLE = (
    '{"all": [{"field": "total_spend", "op": "gte", "value": 5000, "window_days": 90}, '
    '{"field": "country", "op": "eq", "value": "IN"}]}'
)


class SegmentForm(forms.ModelForm):
    criteria = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100, "style": "font-family: monospace"}),
        help_text=f"Dynamic segments. Example: {CRITERIA_EXAMPLE}. Fields and operators: /api/v1/segments/criteria/.",
    )
    members_file = forms.FileField(
        required=False,
        label="Members CSV",
        help_text="Static segments: one customer email or external id (or product sku) per row, first column; "
        "replaces the list.",
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "type", "criteria"]

    def clean(self):
        data = super().clean()
        kind, type_ = data.get("kind") or self.instance.kind, data.get("type") or self.instance.type
        if type_ == Segment.Type.DYNAMIC:
            if data.get("criteria") in (None, ""):
                self.add_error("criteria", "A dynamic segment needs criteria.")
            else:
                try:
                    data["criteria"] = services.criteria_check(kind=kind, criteria=data["criteria"])
                except DomainError as error:
                    self.add_error("criteria", error.message)
        elif data.get("criteria") not in (None, ""):
            self.add_error("criteria", "A static segment has members, not criteria.")
        else:
            data["criteria"] = None
        if data.get("members_file"):
            try:
                text = data["members_file"].read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("members_file", "The file is not UTF-8 text.")
            else:
                data["members"] = [row[0] for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
        return data


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "type", "status", "member_count", "last_refreshed_at", "updated_at")
    list_filter = ("kind", "type", "status")
    search_fields = ("name",)
    readonly_fields = (
        "member_count",
        "status",
        "last_refreshed_at",
        "refresh_error",
        "preview",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "kind", "type")}),
        ("Who is in it", {"fields": ("criteria", "preview", "members_file")}),
        ("Membership", {"fields": ("member_count", "status", "last_refreshed_at", "refresh_error")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    actions = ["refresh_now"]

    def get_readonly_fields(self, request, obj=None):
        # Kind and type fix what the membership means: set once.
        return (*self.readonly_fields, "kind", "type") if obj else self.readonly_fields

    @admin.display(description="preview")
    def preview(self, obj: Segment) -> str:
        if obj.pk is None or obj.type != Segment.Type.DYNAMIC or not obj.criteria:
            return "-"
        try:
            result = segment_preview(obj.kind, obj.criteria)
        except Exception as exc:  # a preview must never break the page
            return f"Preview unavailable: {exc}"
        sample = ", ".join(str(member.get("email") or member.get("sku")) for member in result["sample"][:5])
        return format_html("<b>{}</b> would match now{}", result["count"], f" (e.g. {sample})" if sample else "")

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
