"""Sending deliveries through the channel providers.

A delivery row is the outbox of its send. The dispatcher:

1. claims due rows (PENDING, ``available_at <= now``) a chunk at a time: ``SELECT ... FOR
   UPDATE SKIP LOCKED`` then PENDING -> SENDING with ``lease_until`` and ``attempts + 1``, so
   two dispatchers on the same batch never hold the same row;
2. for marketing, judges consent (SKIPPED opted_out / no_address), the daily cap (SKIPPED
   frequency_cap) and quiet hours (back to PENDING at their end, reason quiet_hours);
3. renders the message for the recipient and hands it to the channel's provider;
4. records the outcome with a conditional update on (SENDING, its attempt number): SENT with
   the provider's id; a transient error back to PENDING with backoff (FAILED after
   ``NOTIFICATIONS_MAX_ATTEMPTS``); a permanent one FAILED with the reason.

A worker killed between 3 and 4 leaves the row SENDING; the sweeper takes it over once its
lease has run out and it is sent again with the same Message-ID / Idempotency-Key. That is the
delivery guarantee: exactly once in the database, at least once at the provider, a duplicate
only for a send in flight when its worker died.

Lock order (with services/messages.py): a Message row before its deliveries; deliveries in
primary-key order.
"""

from notifications.services.dispatch.send import (
    PHONE,
    SENT_CHANNELS,
    TEST_SOURCE,
    deliveries_send,
    retry_backoff,
)
from notifications.services.dispatch.sweep import (
    deliveries_retry,
    deliveries_sweep,
)
from notifications.services.dispatch.trial import (
    notification_test_send,
)

__all__ = [
    "PHONE",
    "SENT_CHANNELS",
    "TEST_SOURCE",
    "deliveries_retry",
    "deliveries_send",
    "deliveries_sweep",
    "notification_test_send",
    "retry_backoff",
]
