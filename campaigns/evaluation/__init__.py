"""Cart evaluation: the ORM side of the cart engine.

``cart_evaluate(CartRequest)`` reads the live campaigns from a per-process ``snapshot``, the
cart's and the customer's ``facts`` (a constant number of queries), asks the pure engine
(``campaigns.engine``) and returns an ``Evaluation``; ``answer.result_json`` is its JSON.
``request.pinned_at`` bounds the time a caller may pin.
"""

from campaigns.evaluation.answer import money, points_json, result_json
from campaigns.evaluation.cart import cart_evaluate
from campaigns.evaluation.request import AT_GRACE, CartRequest, Evaluation, pinned_at
from campaigns.evaluation.snapshot import (
    CAMPAIGNS_VERSION,
    SNAPSHOT_TTL,
    Snapshot,
    engine_campaign,
    engine_campaigns,
    snapshot_get,
    snapshot_invalidate,
    snapshot_version,
)

__all__ = [
    "CAMPAIGNS_VERSION",
    "AT_GRACE",
    "SNAPSHOT_TTL",
    "CartRequest",
    "Evaluation",
    "Snapshot",
    "cart_evaluate",
    "engine_campaign",
    "engine_campaigns",
    "money",
    "pinned_at",
    "points_json",
    "result_json",
    "snapshot_get",
    "snapshot_invalidate",
    "snapshot_version",
]
