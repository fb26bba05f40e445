"""The console's "Simulate" page for campaigns and loyalty programs: a days field, the run's
progress (the page polls a small JSON view with the session), and the last result with a chart
of projected cost (or points) per day and the budget run-out day marked.

A mixin for both ModelAdmins (``CampaignAdmin``, ``LoyaltyProgramAdmin``). It lives beside the
simulation rather than in ``campaigns.admin`` so loyalty's admin may use it too (a higher app
never imports a lower app's admin). Who may do what: starting a run needs the change permission
on the campaign (or program), as editing it does: a Marketer may simulate; an Analyst (view
only) sees the last result but gets no button and a 403 on a POST. A run writes only its own row.
"""

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.widgets import UnfoldAdminIntegerFieldWidget

from campaigns.models import SimulationRun, SimulationStatus
from campaigns.simulation.runs import MAX_DAYS, MIN_DAYS, simulation_latest, simulation_start
from lms.errors import DomainError
from lms.reports import COLOURS

REASON_WORDS = {
    "no_matching_items": "No item the campaign discounts",
    "min_cart": "Below the minimum cart value",
    "min_quantity": "Too few of the campaign's items",
    "audience": "Not the campaign's customers (new or existing)",
    "segment": "Not in the campaign's segments",
    "geo": "Shipped elsewhere",
    "outside_days": "On a day the campaign does not run",
    "outside_hours": "At an hour the campaign does not run",
    "currency": "In another currency",
    "usage_limit": "The campaign's maximum uses reached",
    "customer_limit": "The customer's maximum uses reached",
    "budget_exhausted": "The budget could not cover it",
    "nothing_to_discount": "Nothing left to discount",
    "schedule_or_currency": "Outside the program's days or hours, or in another currency",
    "audience_or_geography": "Not the program's customers or location",
    "earns_nothing": "Earns no points",
}


class SimulateForm(forms.Form):
    days = forms.IntegerField(
        min_value=MIN_DAYS,
        max_value=MAX_DAYS,
        initial=90,
        label="Days of orders to replay",
        help_text=f"The last {MIN_DAYS}-{MAX_DAYS} days of real orders (cancelled and refunded ones left out).",
        widget=UnfoldAdminIntegerFieldWidget(attrs={"data-testid": "simulate-days", "min": MIN_DAYS, "max": MAX_DAYS}),
    )


def chart_data(result: dict[str, Any]) -> str:
    """Chart.js data: cost (or points) per day, the running total, and the budget as a line."""
    rows = result["daily"]
    out_on = result.get("budget_runs_out_on")
    labels = [f"{row['day']} (budget runs out)" if row["day"] == out_on else row["day"] for row in rows]
    if result["kind"] == "program":
        datasets = [{"label": "Points per day", "data": [row["points"] for row in rows]}]
    else:
        datasets = [
            {"label": "Discount per day (₹)", "data": [float(row["cost"]) for row in rows]},
            {"label": "Running total (₹)", "data": [float(row["cumulative_cost"]) for row in rows]},
        ]
        if result.get("budget"):
            datasets.append(
                {"label": "Budget (₹)", "data": [float(result["budget"])] * len(rows), "borderDash": [6, 4]}
            )
        if out_on:  # one big point on the running total, the day the budget runs out
            marks = [float(row["cumulative_cost"]) if row["day"] == out_on else None for row in rows]
            datasets.append({"label": "Budget runs out", "data": marks, "pointRadius": 8, "showLine": False})
    for n, dataset in enumerate(datasets):  # the same colours as the reports' charts and the legend
        dataset["borderColor"] = dataset["backgroundColor"] = COLOURS[n % len(COLOURS)]
    return json.dumps({"labels": labels, "datasets": datasets})


class SimulationAdminMixin:
    """Adds ``<id>/simulate/`` and ``<id>/simulate/status/<run>/`` to a campaign or program admin."""

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/simulate/",
                self.admin_site.admin_view(self.simulate_view),
                name=f"{name}_simulate",
            ),
            path(
                "<path:object_id>/simulate/status/<int:run_id>/",
                self.admin_site.admin_view(self.simulate_status_view),
                name=f"{name}_simulate_status",
            ),
            *super().get_urls(),
        ]

    def _simulated(self, request: HttpRequest, object_id: str):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def simulate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._simulated(request, object_id)
        if obj is None:
            self.message_user(request, f"No {self.opts.verbose_name} with id {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        may_run = self.has_change_permission(request, obj) and not obj.archived
        if request.method == "POST":
            form = SimulateForm(request.POST)
        else:  # the field offers the last run's window again
            last = simulation_latest(obj)
            form = SimulateForm(initial={"days": last.days} if last is not None else None)
        if request.method == "POST":
            if not may_run:
                raise PermissionDenied
            if form.is_valid():
                try:
                    simulation_start(campaign=obj, days=form.cleaned_data["days"], user_id=request.user.pk)
                except DomainError as error:
                    form.add_error("days" if error.code == "invalid" else None, error.message)
                else:
                    return HttpResponseRedirect(request.path)
        run = simulation_latest(obj)
        running = run is not None and run.status in (SimulationStatus.PENDING, SimulationStatus.RUNNING)
        result = run.result if run is not None and run.status == SimulationStatus.DONE else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Simulate “{obj}”",
            "subtitle": None,
            "opts": self.opts,
            "original": obj,
            "form": form,
            "may_run": may_run,
            "run": run,
            "running": running,
            "result": result,
            "refused": [
                (REASON_WORDS.get(k, k.replace("_", " ")), n) for k, n in (result or {}).get("refused", {}).items()
            ],
            "chart": chart_data(result) if result else None,
            "status_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_simulate_status", args=[obj.pk, run.pk]
            )
            if running
            else "",
        }
        return TemplateResponse(request, "admin/campaigns/simulate.html", context)

    def simulate_status_view(self, request: HttpRequest, object_id: str, run_id: int) -> JsonResponse:
        obj = self._simulated(request, object_id)
        run = SimulationRun.objects.filter(pk=run_id, campaign_id=obj.pk if obj else None).first()
        if run is None:
            return JsonResponse({"code": "not_found", "message": f"No simulation {run_id} here."}, status=404)
        done = run.status in (SimulationStatus.DONE, SimulationStatus.FAILED)
        return JsonResponse({"status": run.status, "progress": run.progress, "done": done})
