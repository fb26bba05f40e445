"""An in-memory provider for tests: every send lands in :data:`outbox` (like ``mail.outbox``)."""

from notifications.providers.base import Outgoing, Provider

# Every Outgoing sent in this process, oldest first; tests clear it.
outbox: list[Outgoing] = []


class LocmemProvider(Provider):
    def send(self, outgoing: Outgoing) -> str:
        outbox.append(outgoing)
        return f"locmem-{outgoing.idempotency_key}"
