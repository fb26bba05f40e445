"""``{% chart_legend data %}``: the names and colours of a chart's series, drawn beside it.

The theme's charts hide Chart.js's own legend (its options replace, not merge, the theme's), so a
chart of several series says which line is which in HTML of its own."""

import json

from django import template

register = template.Library()


@register.inclusion_tag("admin/lms/chart_legend.html")
def chart_legend(data: str) -> dict:
    try:
        datasets = json.loads(data).get("datasets", [])
    except (TypeError, ValueError, AttributeError):
        datasets = []
    series = [(d.get("label", ""), d.get("borderColor", "")) for d in datasets if d.get("label")]
    return {"series": series if len(series) > 1 else []}
