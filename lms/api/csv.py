"""Streamed CSV for the API's exports: one line at a time, every cell safe to open in a spreadsheet.

``csv_response(("code", "uses"), rows, filename="codes.csv")``: UTF-8, and the answer says so.
"""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

# Without the charset a client may read the bytes as Latin-1 (names such as "Zoë" garble).
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

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


def csv_response(header: Iterable[str], rows: Iterable[Iterable[Any]], *, filename: str) -> StreamingHttpResponse:
    """The rows streamed as a UTF-8 CSV attachment named ``filename``."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
