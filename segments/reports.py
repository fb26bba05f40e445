"""Segment figures for the console's dashboard."""

from segments.models import Segment


def segment_sizes(*, limit: int = 8) -> list[tuple[int, str, int, str]]:
    """The largest customer segments: (id, name, members, status label), from the materialised count."""
    rows = (
        Segment.objects.filter(kind=Segment.Kind.USER)
        .order_by("-member_count", "name")
        .values_list("id", "name", "member_count", "status")[:limit]
    )
    labels = dict(Segment.Status.choices)
    return [(pk, name, members, labels.get(status, status)) for pk, name, members, status in rows]
