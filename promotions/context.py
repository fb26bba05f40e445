"""Per-recipient placeholder values of a promotion's message (``notifications.registry.contexts``)."""

from typing import Any

from notifications.models import Message
from promotions.models import Promotion
from promotions.selectors import recipient_codes


def recipient_context(message: Message, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each recipient's own code where it differs from the message's shared one (two queries a
    batch at most: the promotion with its campaign, and the codes' own lookup)."""
    promotion = Promotion.objects.select_related("campaign").filter(pk=message.source_id or None).first()
    if promotion is None:
        return {}
    shared = message.context.get("code", "")
    return {
        user_id: {"code": code}
        for user_id, code in recipient_codes(promotion.campaign, user_ids).items()
        if code != shared
    }
