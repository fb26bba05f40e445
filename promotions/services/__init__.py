"""Every write of promotions: create, change, schedule, send, cancel, delete; the beat's sends.

Lock order: the promotion row, then (inside ``message_send``) the notifications rows. Send,
schedule, cancel, change and delete all lock the promotion first (``select_for_update``), so
of a send and a cancel racing, or two sends, exactly one finds the status it needs; the other
waits, then sees the winner's status and answers 409.
"""

from promotions.services.checks import (
    CONTENT_FIELD_NAMES,
    MAX_SEGMENTS,
    PLACEHOLDERS,
    SOURCE_TYPE,
    UNSET,
    USABLE_PLACEHOLDERS,
    invalid,
    promotion_check,
    promotion_content,
    promotion_content_check,
)
from promotions.services.writes import (
    campaign_in_promotions,
    promotion_cancel,
    promotion_create,
    promotion_delete,
    promotion_schedule,
    promotion_send,
    promotion_update,
    promotions_send_due,
    promotions_settle,
    segment_usage,
)

__all__ = [
    "CONTENT_FIELD_NAMES",
    "MAX_SEGMENTS",
    "PLACEHOLDERS",
    "SOURCE_TYPE",
    "UNSET",
    "USABLE_PLACEHOLDERS",
    "campaign_in_promotions",
    "invalid",
    "promotion_cancel",
    "promotion_check",
    "promotion_content",
    "promotion_content_check",
    "promotion_create",
    "promotion_delete",
    "promotion_schedule",
    "promotion_send",
    "promotion_update",
    "promotions_send_due",
    "promotions_settle",
    "segment_usage",
]
