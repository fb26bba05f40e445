from django.template import Context, Template

from lms.reports import chart_json


def _legend(data: str) -> str:
    return Template("{% load console_charts %}{% chart_legend data %}").render(Context({"data": data}))


def test_a_chart_of_several_series_names_each_with_its_colour():
    html = _legend(chart_json(["1 Dec", "2 Dec"], [("Per day", [1, 2]), ("Running total", [1, 3])]))

    assert 'data-testid="chart-legend"' in html
    assert html.index("Per day") < html.index("Running total")
    assert "#9333ea" in html and "#0ea5e9" in html


def test_a_single_series_or_bad_data_draws_no_legend():
    assert "chart-legend" not in _legend(chart_json(["1 Dec"], [("Per day", [1])]))
    assert "chart-legend" not in _legend("not json")
    assert "chart-legend" not in _legend("")
