"""Segment refreshes: on save (enqueued on commit), on demand, and periodically (beat)."""

from celery import shared_task


@shared_task
def segment_refresh_task(segment_id: int) -> int | None:
    from segments.models import Segment
    from segments.services import segment_refresh

    try:
        return segment_refresh(segment_id=segment_id).member_count
    except Segment.DoesNotExist:
        return None  # deleted after the refresh was enqueued


@shared_task
def segments_refresh_all_task() -> int:
    """Enqueue a refresh of every dynamic segment, one task each."""
    from segments.models import Segment

    ids = list(Segment.objects.filter(type=Segment.Type.DYNAMIC).values_list("pk", flat=True))
    for segment_id in ids:
        segment_refresh_task.delay(segment_id)
    return len(ids)
