"""The provider interface every channel backend implements."""

from dataclasses import dataclass, field


class ProviderTransient(Exception):
    """The send may work later: connection refused, timeout, 5xx, 429. The row is retried."""


class ProviderPermanent(Exception):
    """The send will not work: a refused address, a 4xx. The row fails with this reason."""


@dataclass(frozen=True)
class Outgoing:
    """One rendered notification to one address."""

    channel: str
    to: str
    title: str
    body: str
    # Stable across re-sends of the same delivery, so a provider (or the receiver) can tell a
    # re-send after a crash from a new message: the Message-ID of mail, an Idempotency-Key
    # header on HTTP providers.
    idempotency_key: str
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    image_url: str = ""
    link: str = ""


class Provider:
    """Sends :class:`Outgoing` messages on one channel.

    ``open()``/``close()`` bracket a batch so a provider can keep one connection (an SMTP
    session) for many sends; ``send`` works without them too.
    """

    def __init__(self, *, channel: str) -> None:
        self.channel = channel

    def open(self) -> None:
        """Prepare for a batch of sends (connect)."""

    def close(self) -> None:
        """End a batch (disconnect); never raises."""

    def send(self, outgoing: Outgoing) -> str:
        """Send one message; the provider's message id. Raises ProviderTransient/Permanent."""
        raise NotImplementedError

    def __enter__(self) -> "Provider":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
