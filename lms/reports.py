"""Reports' shared plumbing: a range of the site's days, the console's range form, Chart.js
configs and CSV streaming. Days are calendar days in ``settings.TIME_ZONE``; a range holds
both its first and last day."""

import csv
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.http import StreamingHttpResponse

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366


def site_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def site_today(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(site_zone()).date()


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the site's zone (aware)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=site_zone())


@dataclass(frozen=True)
class DateRange:
    first: dt.date
    last: dt.date

    @classmethod
    def last_days(cls, days: int, *, today: dt.date | None = None) -> "DateRange":
        """The ``days`` days ending today (today included)."""
        last = today or site_today()
        return cls(first=last - dt.timedelta(days=days - 1), last=last)

    @property
    def since(self) -> dt.datetime:
        return day_start(self.first)

    @property
    def until(self) -> dt.datetime:
        """Exclusive: the first instant after the last day."""
        return day_start(self.last + dt.timedelta(days=1))

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


class DateRangeForm(forms.Form):
    """The reports' range filter: ``from``/``to`` dates, or a preset of the last 7/30/90 days."""

    days = forms.TypedChoiceField(
        choices=[("", "Custom")] + [(str(n), f"Last {n} days") for n in PRESETS], coerce=int, required=False
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end, days = data.get("start"), data.get("end"), data.get("days")
        if self.errors:
            return data
        if days and not (start or end):
            data["range"] = DateRange.last_days(days)
        elif start or end:
            end = end or site_today()
            start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
            if start > end:
                raise forms.ValidationError("The start date is after the end date.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
            data["range"] = DateRange(first=start, last=end)
        else:
            data["range"] = DateRange.last_days(DEFAULT_DAYS)
        return data


def range_from(query: dict) -> tuple[DateRangeForm, DateRange]:
    """The form for a request's query and the range it names (the last 30 days when it is bad:
    the form then carries the message)."""
    form = DateRangeForm(query or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["range"]
    return form, DateRange.last_days(DEFAULT_DAYS)


# --- Charts (unfold's chart components take a Chart.js config as JSON) ---------------------------

COLOURS = ("#9333ea", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#64748b")


def _number(value) -> float | int:
    return float(value) if isinstance(value, Decimal) else value


def chart_json(labels: Sequence[str], series: Sequence[tuple[str, Sequence]]) -> str:
    """A Chart.js ``{labels, datasets}`` for unfold's line/bar components."""
    datasets = [
        {
            "label": name,
            "data": [_number(value) for value in values],
            "borderColor": COLOURS[n % len(COLOURS)],
            "backgroundColor": COLOURS[n % len(COLOURS)],
            # The theme draws bars 4 px wide (made for dense series); a report's few bars read better wide.
            "maxBarThickness": 48,
            "barPercentage": 0.6,
        }
        for n, (name, values) in enumerate(series)
    ]
    return json.dumps({"labels": list(labels), "datasets": datasets})


# --- CSV -------------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    """A streamed CSV download (rows are written as they are read: no list of a million)."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
