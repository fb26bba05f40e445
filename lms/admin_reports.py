"""A report page and its CSV export on a ModelAdmin (the campaign and program reports).

``ReportPages`` adds ``<id>/report/`` (``admin:<app>_<model>_report``) and ``<id>/report.csv``
(``..._report_csv``). Both need the object's view (or change) permission; the page needs
``console.view_reports`` and the export ``console.export_reports``, else 403. The subclass
gives ``report_template``, ``report_context()`` (its figures, read from the owning app's
report functions; on the replica when there is one) and ``report_csv()`` (whose rows opt in
themselves: they are read after the view returns)."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from lms.db_router import replica_reads
from lms.reports import PRESETS, DateRange, range_from

VIEW_REPORTS = "console.view_reports"
EXPORT_REPORTS = "console.export_reports"


class ReportPages:
    report_template: str = ""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/report/",
                self.admin_site.admin_view(self.report_view),
                name="{}_{}_report".format(*info),
            ),
            path(
                "<path:object_id>/report.csv",
                self.admin_site.admin_view(self.report_csv_view),
                name="{}_{}_report_csv".format(*info),
            ),
            *super().get_urls(),
        ]

    def _report_object(self, request: HttpRequest, object_id: str, permission: str):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and not (
            self.has_view_or_change_permission(request, obj) and request.user.has_perm(permission)
        ):
            raise PermissionDenied
        if obj is None and not request.user.has_perm(permission):
            raise PermissionDenied
        return obj

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self.message_user(request, f"No {self.opts.verbose_name} with id {object_id}.", messages.WARNING)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))

    def report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._report_object(request, object_id, VIEW_REPORTS)
        if obj is None:
            return self._missing(request, object_id)
        form, span = range_from(request.GET)
        with replica_reads():
            figures = self.report_context(request, obj, span)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Report: {obj}",
            "opts": self.opts,
            "original": obj,
            "range_form": form,
            "span": span,
            "presets": PRESETS,
            "may_export": request.user.has_perm(EXPORT_REPORTS),
            "query": request.GET.urlencode(),
            **figures,
        }
        return TemplateResponse(request, self.report_template, context)

    def report_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._report_object(request, object_id, EXPORT_REPORTS)
        if obj is None:
            return self._missing(request, object_id)
        form, span = range_from(request.GET)
        if form.errors:
            return self._back_to_report(request, obj, " ".join(m for ms in form.errors.values() for m in ms))
        return self.report_csv(request, obj, span)

    def _back_to_report(self, request: HttpRequest, obj, message: str) -> HttpResponse:
        self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_report", args=[obj.pk])
        )

    def report_context(self, request: HttpRequest, obj, span: DateRange) -> dict:
        raise NotImplementedError

    def report_csv(self, request: HttpRequest, obj, span: DateRange) -> HttpResponse:
        raise NotImplementedError
