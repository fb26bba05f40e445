"""Streamed CSV for the API's exports: one line at a time, every cell safe to open in a spreadsheet.

``StreamingHttpResponse(csv_lines(("code", "uses"), rows), content_type="text/csv")``
"""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# A spreadsheet runs a cell that starts like this as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose ``write`` hands the line back, so csv.writer yields lines."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header, then one CSV line per row, each cell passed through :func:`csv_cell`."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
