"""The campaign report page and its CSV export (``lms.admin_reports.ReportPages``): figures
from ``campaigns.reports``."""

from django.http import HttpRequest, HttpResponse

from campaigns import reports
from campaigns.models import Campaign
from lms.admin_reports import ReportPages
from lms.reports import DateRange, chart_json, csv_response


class CampaignReportPages(ReportPages):
    report_template = "admin/campaigns/campaign/report.html"

    def report_context(self, request: HttpRequest, obj: Campaign, span: DateRange) -> dict:
        daily = reports.redemptions_daily(span=span, campaign_id=obj.pk)
        labels = [day.day.strftime("%d %b") for day in daily]
        refusals = reports.refusal_reasons(campaign=obj, span=span)
        return {
            "figures": reports.campaign_figures(campaign=obj, span=span),
            "refusals": refusals,
            "redemptions_chart": chart_json(
                labels,
                [
                    ("Redemptions", [d.redemptions for d in daily]),
                    ("Discount given (INR)", [d.discount for d in daily]),
                ],
            ),
            "refusals_chart": chart_json([r.label for r in refusals], [("Carts refused", [r.count for r in refusals])]),
        }

    def report_csv(self, request: HttpRequest, obj: Campaign, span: DateRange) -> HttpResponse:
        name = f"campaign-{obj.pk}-redemptions-{span.first:%Y%m%d}-{span.last:%Y%m%d}.csv"
        return csv_response(name, reports.REDEMPTIONS_CSV_HEADER, reports.redemption_rows(campaign=obj, span=span))
