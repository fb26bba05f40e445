"""The console's change history, readable: who changed what, field by field, in the labels and
choice names a marketer knows ("Discount type: Percentage → Fixed amount"), with the history of
the row's parts (a campaign's rules, a program's earning rules and tiers) below its own, and no
"change reason" column (the console never asks for one)."""

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.text import capfirst
from simple_history.models import ModelChange
from simple_history.template_utils import HistoricalRecordContextHelper

HISTORY_TEMPLATE = "admin/lms/history_list.html"
PART_HISTORY_ROWS = 50  # the latest changes of the parts shown
UNSHOWN = frozenset({"position"})  # bookkeeping a marketer never set
PART_HISTORY_SCAN = 2000  # versions read to find them (a part row's previous version among them)


class ReadableHistoryHelper(HistoricalRecordContextHelper):
    """Choice values shown by their labels, empty values as "empty"."""

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if field.choices and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value) if value not in (None, "") else "(empty)"
        value = super().prepare_delta_change_value(change, value)
        if value in (None, "", []):
            return "(empty)"
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):  # tiers, streak steps
            return "; ".join(
                ", ".join(f"{key.replace('_', ' ')} {item[key]}" for key in sorted(item)) for item in value
            )
        return value


def record_changes(model: type[models.Model], record, previous) -> list[dict[str, Any]]:
    """The fields ``record`` changed against ``previous``; for a row created (or first seen), the
    fields it was given; for a row deleted, nothing."""
    if record.history_type == "-":
        return []
    helper = ReadableHistoryHelper(model, record)
    if previous is not None:
        return helper.context_for_delta_changes(record.diff_against(previous, foreign_keys_are_objs=True))
    given = []
    for field in model._meta.concrete_fields:
        value = getattr(record, field.attname, None)
        if field.primary_key or field.is_relation or field.name in UNSHOWN or value in (None, "", []):
            continue
        change = ModelChange(field.name, None, value)
        given.append({"field": capfirst(field.verbose_name), "old": "", "new": helper.format_delta_change(change).new})
    return given


@dataclass(frozen=True)
class PartHistory:
    """A part's history under the row's: its label ("rule") and the part's historical rows
    for the row (a callable taking the row's id)."""

    label: str
    model: type[models.Model]
    records: Any  # Callable[[int], QuerySet] of the part's historical records


class ReadableHistoryAdmin:
    """Mixed in before SimpleHistoryAdmin: readable changes, the parts' history, no change reason."""

    object_history_list_template = HISTORY_TEMPLATE
    history_parts: tuple[PartHistory, ...] = ()

    def get_historical_record_context_helper(self, request, historical_record):
        return ReadableHistoryHelper(self.model, historical_record)

    def history_view(self, request, object_id, extra_context=None):
        return super().history_view(
            request, object_id, {**(extra_context or {}), "part_history": self.part_history(object_id)}
        )

    def part_history(self, object_id) -> list[dict[str, Any]]:
        """The parts' latest changes, newest first, each against that part row's previous version
        (read in one query per part: the part rows' versions, oldest first)."""
        try:
            pk = int(object_id)
        except (TypeError, ValueError):
            return []
        lines = []
        for part in self.history_parts:
            records = part.records(pk).select_related("history_user").order_by("-history_date", "-history_id")
            last: dict[int, Any] = {}  # part row id -> its version before this one
            for record in reversed(records[:PART_HISTORY_SCAN]):
                key = getattr(record, part.model._meta.pk.attname)
                before = last.get(key)
                last[key] = record
                lines.append(
                    {
                        "part": capfirst(part.label),
                        "object": str(record.history_object),
                        "date": record.history_date,
                        "user": record.history_user,
                        "action": record.get_history_type_display(),
                        "changes": record_changes(part.model, record, before),
                    }
                )
        lines.sort(key=lambda line: line["date"], reverse=True)
        return lines[:PART_HISTORY_ROWS]
