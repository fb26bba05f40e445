"""Reads of the platform's own tables."""

from datetime import datetime

from django.db.models import Count, Min

from lms.models import OutboxTask


def outbox_backlog() -> tuple[int, datetime | None]:
    """The outbox rows not yet on the broker and when the oldest was written (None: none waits).

    Rows are deleted once published, so the table holds only the backlog: one aggregate over it.
    """
    row = OutboxTask.objects.aggregate(waiting=Count("pk"), oldest=Min("created_at"))
    return row["waiting"], row["oldest"]
