"""File imports for ops: CSV or JSON Lines, streamed in batches through the same
validation and services as the bulk API, with a progress bar and a summary of rejects.

Memory stays constant: one batch of rows is held at a time. Re-running an import is safe:
products upsert by sku (unchanged rows stay unchanged) and orders replay by external_id.
"""

import csv
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.core.management.base import CommandError
from rest_framework import serializers
from tqdm import tqdm

from commerce.api.batch import ingest_items
from commerce.services import ItemResult
from lms.command import OperatorCommand
from lms.errors import Invalid

FORMATS = ("csv", "jsonl")
MAX_REJECTS_SHOWN = 20


class ImportFileError(Exception):
    """The file cannot be imported at all (unknown format, missing CSV columns)."""


@dataclass
class Record:
    line: int  # first line of the record in the file (1-based; CSV counts the header)
    item: Any = None
    parse_error: str = ""


@dataclass
class ImportSummary:
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    rejects: list[tuple[int, str, str, str]] = field(default_factory=list)  # the first few: line, key, code, message
    rejects_writer: Any = None  # a csv.writer that receives every reject as it happens

    def add(self, record: Record, result: ItemResult) -> None:
        self.counts[result.outcome] += 1
        if result.error is None:
            return
        self.reasons[result.error.code] += 1
        row = (record.line, result.key, result.error.code, result.error.message)
        if len(self.rejects) < MAX_REJECTS_SHOWN:
            self.rejects.append(row)
        if self.rejects_writer is not None:
            self.rejects_writer.writerow(row)

    def lines(self) -> list[str]:
        order = ("created", "updated", "unchanged", "replayed", "rejected")
        out = [", ".join(f"{name} {self.counts[name]}" for name in order if self.counts[name] or name == "rejected")]
        if self.reasons:
            out.append("rejected by reason: " + ", ".join(f"{code} {n}" for code, n in self.reasons.most_common()))
        for line, key, code, message in self.rejects[:MAX_REJECTS_SHOWN]:
            out.append(f"  line {line}{f' ({key})' if key else ''}: {code}: {message}")
        if self.counts["rejected"] > MAX_REJECTS_SHOWN:
            out.append(f"  ... and {self.counts['rejected'] - MAX_REJECTS_SHOWN} more (--rejects FILE lists them all)")
        return out


def detect_format(path: str, given: str | None) -> str:
    if given:
        return given
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        return "csv"
    if extension in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ImportFileError(f"Cannot tell the format of {path!r} from its name; pass --format csv or --format jsonl.")


class _Progress:
    """Counts the bytes read so the bar shows how far into the file the import is."""

    def __init__(self, handle: IO[str], bar: tqdm) -> None:
        self.handle, self.bar = handle, bar

    def __iter__(self) -> Iterator[str]:
        for text in self.handle:
            self.bar.update(len(text.encode()))
            yield text


def _jsonl_records(lines: Iterator[str]) -> Iterator[Record]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield Record(line=number, item=json.loads(text, parse_float=Decimal))
        except json.JSONDecodeError as exc:
            yield Record(line=number, parse_error=f"not valid JSON: {exc.msg} (column {exc.colno})")
        except RecursionError:
            yield Record(line=number, parse_error="not valid JSON: nested too deeply")


def _csv_rows(lines: Iterator[str], required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines)
    missing = required - set(reader.fieldnames or [])
    if missing:
        raise ImportFileError(f"The CSV header lacks the column(s): {', '.join(sorted(missing))}.")
    for row in reader:
        # Empty cells mean "not given", so defaults and "keep the current value" apply.
        yield reader.line_num, {k: v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}


def run_import(
    *,
    path: str,
    fmt: str | None,
    csv_records: Callable[[Iterator[str]], Iterator[Record]],
    item_input: type[serializers.Serializer],
    service: Callable[..., list[ItemResult]],
    batch_size: int,
    progress: bool,
    rejects_path: str | None = None,
) -> ImportSummary:
    fmt = detect_format(path, fmt)
    summary = ImportSummary()
    size = os.path.getsize(path)
    with ExitStack() as stack:
        handle = stack.enter_context(open(path, encoding="utf-8-sig", newline=""))
        bar = stack.enter_context(
            tqdm(total=size, unit="B", unit_scale=True, disable=not progress, desc=os.path.basename(path))
        )
        if rejects_path:
            rejects_file = stack.enter_context(open(rejects_path, "w", encoding="utf-8", newline=""))
            summary.rejects_writer = csv.writer(rejects_file)
            summary.rejects_writer.writerow(["line", "key", "code", "message"])
        lines = iter(_Progress(handle, bar))
        records = _jsonl_records(lines) if fmt == "jsonl" else csv_records(lines)
        batch: list[Record] = []
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                _flush(batch, item_input, service, summary)
                batch = []
        if batch:
            _flush(batch, item_input, service, summary)
    return summary


def _flush(batch: list[Record], item_input, service, summary: ImportSummary) -> None:
    parsed = [record for record in batch if not record.parse_error]
    results = ingest_items([record.item for record in parsed], item_input, service)
    outcome = {id(record): result for record, result in zip(parsed, results, strict=True)}
    for record in batch:
        if record.parse_error:
            result = ItemResult(index=0, key="").reject(Invalid("parse_error", record.parse_error))
        else:
            result = outcome[id(record)]
        summary.add(record, result)


# --- CSV shapes -------------------------------------------------------------------------------

PRODUCT_COLUMNS = {"sku"}


def product_csv_records(lines: Iterator[str]) -> Iterator[Record]:
    """One product per row: sku, name, price, stock_quantity, active, category (name or
    "A > B" path) or category_id, brand or brand_id."""
    for line, row in _csv_rows(lines, PRODUCT_COLUMNS):
        yield Record(line=line, item=row)


ORDER_COLUMNS = {"external_id", "placed_at", "subtotal", "total", "sku", "quantity", "unit_price"}
ORDER_FIELDS = (
    "external_id", "placed_at", "status", "currency", "subtotal", "shipping", "discount_total", "tax_total",
    "total", "shipping_country", "shipping_state", "shipping_city", "payment_method",
)  # fmt: skip
CUSTOMER_FIELDS = ("external_id", "email", "first_name", "last_name", "phone")
LINE_FIELDS = ("sku", "name", "quantity", "unit_price", "line_total", "category", "brand")


def _order_from_rows(rows: list[dict[str, str]]) -> dict[str, Any]:
    first = rows[0]
    order: dict[str, Any] = {name: first[name] for name in ORDER_FIELDS if name in first}
    order["customer"] = {name: first[f"customer_{name}"] for name in CUSTOMER_FIELDS if f"customer_{name}" in first}
    if first.get("coupon_codes"):
        order["coupon_codes"] = [code.strip() for code in first["coupon_codes"].split(";") if code.strip()]
    order["lines"] = [{name: row[name] for name in LINE_FIELDS if name in row} for row in rows]
    return order


def order_csv_records(lines: Iterator[str]) -> Iterator[Record]:
    """One row per order line; the rows of one order are consecutive and repeat its order
    columns (taken from its first row). Coupon codes are separated by ";"."""
    group: list[dict[str, str]] = []
    start = 0
    for line, row in _csv_rows(lines, ORDER_COLUMNS):
        if group and row.get("external_id") != group[0].get("external_id"):
            yield Record(line=start, item=_order_from_rows(group))
            group = []
        if not group:
            start = line
        group.append(row)
    if group:
        yield Record(line=start, item=_order_from_rows(group))


class ImportCommand(OperatorCommand):
    """``manage.py import_<kind> FILE [--format csv|jsonl] [--batch-size N] [--rejects FILE]``."""

    item_input: type[serializers.Serializer]
    service: Callable[..., list[ItemResult]]
    csv_records: Callable[[Iterator[str]], Iterator[Record]]
    progress = True

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="A .csv or .jsonl file (one record per line).")
        parser.add_argument("--format", choices=FORMATS, help="Override the format read from the file name.")
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Records per transaction (default 500, at most 1000)."
        )
        parser.add_argument(
            "--rejects", metavar="FILE", help="Write every rejected record (line, key, code, message) as CSV."
        )

    def handle(self, *args, file: str, format: str | None, batch_size: int, rejects: str | None, **options) -> None:
        if not 1 <= batch_size <= 1000:
            raise CommandError("--batch-size must be between 1 and 1000.")
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        try:
            summary = run_import(
                path=file,
                fmt=format,
                csv_records=type(self).csv_records,
                item_input=self.item_input,
                service=type(self).service,
                batch_size=batch_size,
                progress=self.show_progress,
                rejects_path=rejects,
            )
        except (ImportFileError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc))
        for line in summary.lines():
            self.stdout.write(line)
