"""What campaigns do when commerce changes an order (registered in ``apps.ready``)."""

from campaigns.models import OrderRedemption, RedemptionStatus
from commerce.hooks import OrderChange
from commerce.models import OrderStatus

RELEASING = {OrderStatus.CANCELLED, OrderStatus.REFUNDED}


def order_cancelled_or_refunded(change: OrderChange) -> None:
    """A cancelled or fully refunded order gives back its coupon uses and budget, inside the
    ingesting transaction. A partial refund keeps the redemption (the order still used it)."""
    if change.to_status not in RELEASING or change.from_status in RELEASING:
        return
    if not OrderRedemption.objects.filter(order_id=change.order.external_id, status=RedemptionStatus.REDEEMED).exists():
        return
    from campaigns.services.redemptions import redemption_void

    redemption_void(order_id=change.order.external_id, reason=f"order {change.to_status.lower()}")
