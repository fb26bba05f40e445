"""The segment console's own pages (a mixin for ``SegmentAdmin``): the builder's live count and
sample (JSON), a segment's members a page at a time, their CSV export (streamed), and what
targets the segment, with links."""

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from lms.api.csv import csv_response
from lms.db_router import replica_iter
from lms.errors import DomainError
from segments import services
from segments.admin.forms import criteria_error_words
from segments.models import Segment
from segments.selectors import member_columns, segment_member_rows, segment_preview

MEMBERS_PER_PAGE = 50
EXPORT_PERMISSION = "console.export_reports"


def _error(status: int, code: str, message: str, **details: Any) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "details": details}, status=status)


def _sample_label(kind: str, row: dict[str, Any]) -> str:
    if kind == Segment.Kind.PRODUCT:
        return f"{row['sku']} · {row['name']}"
    name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part)
    return f"{name} <{row['email']}>" if name else row["email"]


class SegmentPagesMixin:
    """Mixed in before unfold's ModelAdmin."""

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        pages = [
            # JSON, not a page: it answers 401/403 itself instead of the admin's login redirect.
            path("preview/", self.preview_view, name=f"{prefix}_preview"),
            path("<int:object_id>/members/", wrap(self.members_view), name=f"{prefix}_members"),
            path("<int:object_id>/members.csv", wrap(self.members_export_view), name=f"{prefix}_members_export"),
        ]
        return pages + super().get_urls()

    # --- The builder's live count ----------------------------------------------------------------

    @method_decorator(csrf_protect)
    @method_decorator(require_POST)
    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Who the unsaved criteria select now: ``{count, sample}``, or 400 with the bad row in words."""
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return _error(401, "not_signed_in", "Sign in to the console to count members.")
        if not (user.is_staff and self.has_view_permission(request)):
            return _error(403, "forbidden", "You may not see segments.")
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "not_json", "The criteria could not be read (not JSON).")
        if not isinstance(body, dict) or body.get("kind") not in Segment.Kind.values:
            return _error(400, "kind_invalid", "Say whether the segment holds customers or products.")
        criteria = body.get("criteria")
        if criteria in (None, {"all": []}):
            return _error(400, "criteria_empty", "Add a condition to see who matches.")
        try:
            checked = services.criteria_check(kind=body["kind"], criteria=criteria)
            result = segment_preview(body["kind"], checked)
        except DomainError as error:
            return _error(400, error.code, criteria_error_words(error), path=error.details.get("path", ""))
        except DataError:  # a value the database cannot compare (validation bounds most of them)
            return _error(400, "criteria_uncountable", "These criteria cannot be counted; check the values.")
        sample = [{"id": row["id"], "label": _sample_label(body["kind"], row)} for row in result["sample"]]
        return JsonResponse({"count": result["count"], "sample": sample})

    # --- Members and their export ----------------------------------------------------------------

    def _segment_for(self, request: HttpRequest, object_id: int) -> Segment:
        segment = get_object_or_404(Segment, pk=object_id)
        if not self.has_view_permission(request, segment):
            raise PermissionDenied
        return segment

    def members_view(self, request: HttpRequest, object_id: int) -> TemplateResponse:
        segment = self._segment_for(request, object_id)
        paginator = Paginator(segment_member_rows(segment), MEMBERS_PER_PAGE)
        page = paginator.get_page(request.GET.get("page"))  # not a number: the first; past the end: the last
        url_name = (
            "admin:commerce_product_change" if segment.kind == Segment.Kind.PRODUCT else "admin:accounts_user_change"
        )
        columns = member_columns(segment.kind)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Members of {segment.name}",
            "segment": segment,
            "columns": columns,
            "rows": [
                {"url": _member_url(url_name, row["id"]), "cells": [row[key] for key, _ in columns]}
                for row in page.object_list
            ],
            "page": page,
            "can_export": self._may_export(request),
        }
        return TemplateResponse(request, "admin/segments/segment/members.html", context)

    def _may_export(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION) or self.has_change_permission(request)

    def members_export_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        segment = self._segment_for(request, object_id)
        if not self._may_export(request):
            raise PermissionDenied
        columns = member_columns(segment.kind)
        rows = replica_iter(
            segment_member_rows(segment).values_list(*(key for key, _ in columns)).iterator(chunk_size=2000)
        )
        return csv_response([label for _, label in columns], rows, filename=f"segment-{segment.pk}-members.csv")

    # --- Read-only panels on the change form ---------------------------------------------------

    def used_by(self, obj: Segment) -> str:
        uses = services.segment_usages(obj) if obj.pk else []
        if not uses:
            return "Nothing targets this segment yet."
        return format_html(
            '<ul data-testid="segment-usages">{}</ul>',
            format_html_join("", "<li>{}</li>", ((_use_link(use),) for use in uses)),
        )

    used_by.short_description = "Used by"

    def members_link(self, obj: Segment) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:segments_segment_members", args=[obj.pk])
        return format_html(
            '<a href="{}" class="text-primary-600" data-testid="segment-members-link">See the {} members</a>',
            url,
            obj.member_count,
        )

    members_link.short_description = "Members"


def _member_url(url_name: str, pk: int) -> str:
    try:
        return reverse(url_name, args=[pk])
    except NoReverseMatch:
        return ""


def _use_link(use: Any) -> str:
    url_name = getattr(use, "admin_url_name", "")
    if not url_name:
        return str(use)
    try:
        url = reverse(url_name, args=[use.pk])
    except NoReverseMatch:
        return str(use)
    return format_html('{} <a href="{}" class="text-primary-600">{}</a>', use.what.capitalize(), url, use.name)
