"""What campaigns do when commerce changes orders (registered in ``apps.ready``)."""

from collections.abc import Sequence

from campaigns.models import OrderRedemption, RedemptionStatus
from commerce.hooks import OrderChange
from commerce.models import UNCOUNTED_STATUSES

RELEASING = frozenset(UNCOUNTED_STATUSES)  # the order stops counting as a purchase


def orders_cancelled_or_refunded(changes: Sequence[OrderChange]) -> None:
    """A cancelled or fully refunded order gives back its coupon uses and budget, inside the
    ingesting transaction (one query for a whole ingested batch). A partial refund keeps the
    redemption: the order still used it. Only the order's own customer's redemption is
    released: a redemption recorded for someone else under the same order id stays."""
    releasing = {
        change.order.external_id: change
        for change in changes
        if change.to_status in RELEASING and change.from_status not in RELEASING
    }
    if not releasing:
        return
    from campaigns.services.redemptions import redemption_void

    redeemed = OrderRedemption.objects.filter(order_id__in=list(releasing), status=RedemptionStatus.REDEEMED)
    for order_id, customer_id in sorted(redeemed.values_list("order_id", "customer_id")):
        change = releasing[order_id]
        if customer_id != change.order.customer_id:
            continue  # another customer's redemption under this id: never released by this order
        redemption_void(order_id=order_id, reason=f"order {change.to_status.lower()}")
