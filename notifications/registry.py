"""What higher apps plug into notifications (from their ``AppConfig.ready()``).

- ``audiences``: how to walk an audience spec (``Message.audience["kind"]``) in recipient-id
  order, a batch at a time: ``resolver(spec, after_id, limit) -> [user ids > after_id]``.
  Notifications knows ``customers`` (listed ids) and ``all`` (every active customer);
  segments registers ``segments``.
- ``contexts``: per-recipient placeholder values for a message's ``source_type``:
  ``provider(message, user_ids) -> {user_id: {name: plain value}}`` (one or two queries per
  batch, never per recipient).
- ``placeholders``: every placeholder name content may use, with a line saying what it is; a
  template naming anything else is refused when it is saved.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lms.registry import Registry

if TYPE_CHECKING:
    from notifications.models import Message

AudienceResolver = Callable[[dict[str, Any], int, int], list[int]]
ContextProvider = Callable[["Message", list[int]], dict[int, dict[str, Any]]]

audiences: Registry[AudienceResolver] = Registry("notification audiences")
contexts: Registry[ContextProvider] = Registry("notification context providers")
placeholders: Registry[str] = Registry("notification placeholders")
