"""Order ingestion (idempotent on external_id, ``ingest``) and status changes (cancel,
refund, ``status``)."""

from commerce.services.orders.ingest import order_ingest, order_request_hash, orders_ingest
from commerce.services.orders.status import StatusChangeResult, order_status_change, status_change_hash

__all__ = [
    "StatusChangeResult",
    "order_ingest",
    "order_request_hash",
    "order_status_change",
    "orders_ingest",
    "status_change_hash",
]
