"""The program report page and its liability CSV for finance (``lms.admin_reports.ReportPages``):
figures from ``loyalty.reports``."""

from django import forms
from django.http import HttpRequest, HttpResponse

from campaigns.models import Campaign
from lms.admin_reports import ReportPages
from lms.reports import DateRange, chart_json, csv_response, site_today
from loyalty import reports


class AsOfForm(forms.Form):
    as_of = forms.DateField(required=False, label="As of the end of", widget=forms.DateInput(attrs={"type": "date"}))


class ProgramReportPages(ReportPages):
    report_template = "admin/loyalty/loyaltyprogram/report.html"

    def report_context(self, request: HttpRequest, obj: Campaign, span: DateRange) -> dict:
        flow = reports.points_flow(since=span.since, until=span.until, program=obj)
        by_rule = reports.points_by_rule(program=obj, since=span.since, until=span.until)
        tiers = reports.tier_mix(program=obj)
        return {
            "flow": flow,
            "outstanding": reports.outstanding(program=obj),
            "by_rule": by_rule,
            "tiers": tiers,
            "as_of_form": AsOfForm(initial={"as_of": site_today()}),
            "rules_chart": chart_json(
                [row.rule for row in by_rule], [("Points earned", [row.points for row in by_rule])]
            ),
            "tiers_chart": chart_json([name for name, _ in tiers], [("Members", [n for _, n in tiers])]),
        }

    def report_csv(self, request: HttpRequest, obj: Campaign, span: DateRange) -> HttpResponse:
        """Finance's liability as of the end of ``as_of`` (default today): points outstanding per member."""
        form = AsOfForm(request.GET)
        if not form.is_valid():
            return self._back_to_report(request, obj, "Choose a valid date for the liability export (YYYY-MM-DD).")
        day = form.cleaned_data["as_of"] or site_today()
        if day > site_today():
            return self._back_to_report(request, obj, "The liability export is for today or a past day.")
        until = DateRange(first=day, last=day).until
        name = f"program-{obj.pk}-liability-{day:%Y%m%d}.csv"
        return csv_response(name, reports.LIABILITY_CSV_HEADER, reports.liability_rows(program=obj, until=until))
