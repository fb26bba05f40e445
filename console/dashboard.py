"""The console's landing page (UNFOLD["DASHBOARD_CALLBACK"]): the figures for users with
``console.view_reports`` (Marketer, Analyst, superusers), the section links for everyone.
Each panel is one owning app's report function (SQL aggregates); this module only arranges
them for the template."""

import datetime as dt

from django.http import HttpRequest

from campaigns import reports as campaign_reports
from console.navigation import sidebar
from lms.db_router import replica_reads
from lms.reports import PRESETS, DateRange, chart_json, range_from
from loyalty import reports as loyalty_reports
from notifications import reports as message_reports
from segments import reports as segment_reports

VIEW_REPORTS = "console.view_reports"


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    sections = [
        {**section, "items": [item for item in section["items"] if item.get("permission", bool)(request)]}
        for section in sidebar(request)[1:]
    ]
    context["sections"] = [section for section in sections if section["items"]]
    if request.user.has_perm(VIEW_REPORTS):
        form, span = range_from(request.GET)
        context.update(range_form=form, span=span, presets=PRESETS, figures=dashboard_figures(span))
    return context


@replica_reads()
def dashboard_figures(span: DateRange) -> dict:
    """Every panel's figures for ``span`` (the windows and the liability are as of now), read
    from the replica when there is one."""
    now = dt.datetime.now(dt.UTC)
    daily = campaign_reports.redemptions_daily(span=span)
    labels = [day.day.strftime("%d %b") for day in daily]
    by_redemptions = campaign_reports.top_campaigns(span=span, by="redemptions")
    by_cost = campaign_reports.top_campaigns(span=span, by="cost")
    flow = loyalty_reports.points_flow(since=span.since, until=span.until)
    split = campaign_reports.revenue_split(span=span)
    return {
        "live": campaign_reports.live_counts_by_kind(at=now),
        "windows": campaign_reports.redemption_windows(),
        "split": split,
        "flow": flow,
        "outstanding": loyalty_reports.outstanding(),
        "top_redemptions": by_redemptions,
        "top_cost": by_cost,
        "segments": segment_reports.segment_sizes(),
        "messages": message_reports.delivery_rates(since=span.since, until=span.until),
        "redemptions_chart": chart_json(labels, [("Redemptions", [day.redemptions for day in daily])]),
        "discount_chart": chart_json(labels, [("Discount given (INR)", [day.discount for day in daily])]),
        "top_chart": chart_json(
            [row.name for row in by_cost], [("Discount given (INR)", [row.cost for row in by_cost])]
        ),
        "revenue_chart": chart_json(
            ["With a campaign", "Without"], [("Revenue (INR)", [split["with"].revenue, split["without"].revenue])]
        ),
        "points_chart": chart_json(
            ["Earned", "Redeemed", "Expired", "Reversed"],
            [("Points", [flow.earned, flow.redeemed, flow.expired, flow.reversed])],
        ),
    }
