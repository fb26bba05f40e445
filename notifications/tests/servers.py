"""Local receivers the notification tests send to: a real SMTP server (aiosmtpd) and a real
HTTP server, both on loopback, both recording what they received."""

import email
import email.policy
import json
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from lms.testing import free_port

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 that keeps every message it accepted (parsed), and answers
    RCPT/DATA with the codes a test queues (``refuse_rcpt``, ``data_replies``)."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse_rcpt: dict[str, str] = {}  # address -> reply ("550 5.1.1 no such user")
        self.data_replies: deque[str] = deque()  # next DATA replies ("451 try later"), then 250
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        with self._lock:
            if self.data_replies:
                return self.data_replies.popleft()
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def start(self) -> "SmtpReceiver":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class HttpRequestSeen:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class HttpReceiver:
    """An HTTP server on 127.0.0.1 for Apprise's json:// target: records every POST and answers
    the statuses a test queues in ``replies`` (then 200)."""

    requests: list[HttpRequestSeen] = field(default_factory=list)
    replies: deque[int] = field(default_factory=deque)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.replies.popleft() if receiver.replies else 200
                receiver.requests.append(HttpRequestSeen(self.path, dict(self.headers), json.loads(raw or b"{}")))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def start(self) -> "HttpReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
