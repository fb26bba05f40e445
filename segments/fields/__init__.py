"""The criteria segments defines: ``user`` (customers, from accounts and commerce) and
``product`` (commerce's catalogue). These modules only define fields (``USER_FIELDS``,
``PRODUCT_FIELDS``); ``SegmentsConfig.ready()`` registers them, so importing one registers
nothing. Campaigns and loyalty define theirs in their own ``segment_fields`` modules.

Below, the rows both kinds count over. Orders are counted orders (``Order.objects.counted()``:
not cancelled, not fully refunded) placed at or before the evaluation time; a sale is a line
of one. Both keep to the condition's window when it has one.
"""

from django.db.models import QuerySet

from commerce.models import COUNTED_STATUSES, InteractionEvent, Order, OrderLine
from segments.criteria.registry import Context


def counted_orders(ctx: Context) -> QuerySet:
    orders = Order.objects.counted().filter(placed_at__lte=ctx.now)
    return orders.filter(placed_at__gte=ctx.since) if ctx.since else orders


def counted_lines(ctx: Context) -> QuerySet:
    lines = OrderLine.objects.filter(order__status__in=COUNTED_STATUSES, order__placed_at__lte=ctx.now)
    return lines.filter(order__placed_at__gte=ctx.since) if ctx.since else lines


def events_of(kind: str):
    """The platform's interaction events of ``kind`` up to the evaluation time (in the window)."""

    def related(ctx: Context) -> QuerySet:
        events = InteractionEvent.objects.filter(kind=kind, occurred_at__lte=ctx.now)
        return events.filter(occurred_at__gte=ctx.since) if ctx.since else events

    return related
