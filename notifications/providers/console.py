"""Writes each message to standard output (``make run``): nothing leaves the machine."""

import sys
import threading

from notifications.providers.base import Outgoing, Provider

_lock = threading.Lock()


class ConsoleProvider(Provider):
    stream = sys.stdout

    def send(self, outgoing: Outgoing) -> str:
        lines = [
            f"--- {outgoing.channel} to {outgoing.to} (key {outgoing.idempotency_key})",
            f"Title: {outgoing.title}",
            outgoing.body,
        ]
        if outgoing.link:
            lines.append(f"Link: {outgoing.link}")
        with _lock:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        return f"console-{outgoing.idempotency_key}"
