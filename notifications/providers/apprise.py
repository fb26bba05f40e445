"""SMS and PUSH through Apprise (https://github.com/caronc/apprise), configured by URL.

``NOTIFICATIONS_SMS_URL`` / ``NOTIFICATIONS_PUSH_URL`` are Apprise URLs in which ``{to}`` is
replaced by the recipient's phone number or device token (URL-quoted), for example
``twilio://SID:TOKEN@+15550001111/{to}``, ``fcm://APIKEY/{to}``, or ``json://host/sms/{to}``.
Every send carries an ``Idempotency-Key`` header (``+Idempotency-Key=...``, used by Apprise's
HTTP targets such as json://) so a receiver can recognise a re-send after a crash.

Apprise answers success or failure and logs why; the log tells a transient failure
(connection error, timeout, 5xx, 429) from a permanent one (another 4xx).
"""

import re
from urllib.parse import quote

import apprise
from django.conf import settings

from notifications.providers.base import Outgoing, Provider, ProviderPermanent, ProviderTransient

_HTTP_STATUS = re.compile(r"error=(\d{3})\b")


def _url(template: str, outgoing: Outgoing) -> str:
    url = template.replace("{to}", quote(outgoing.to, safe=""))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{quote('+Idempotency-Key')}={quote(outgoing.idempotency_key, safe='')}"


def classify(log_lines: list[str]) -> Exception:
    """The error a failed notify() stands for, judged by what Apprise logged."""
    text = " | ".join(log_lines) or "the provider refused the message"
    codes = [int(code) for code in _HTTP_STATUS.findall(text)]
    if codes and all(400 <= code < 500 and code not in (408, 425, 429) for code in codes):
        return ProviderPermanent(text)
    return ProviderTransient(text)  # 5xx, 429, connection errors, timeouts, and the unknown


class AppriseProvider(Provider):
    def url_template(self) -> str:
        return {"SMS": settings.NOTIFICATIONS_SMS_URL, "PUSH": settings.NOTIFICATIONS_PUSH_URL}.get(self.channel, "")

    def send(self, outgoing: Outgoing) -> str:
        template = self.url_template()
        if not template:
            raise ProviderPermanent(f"NOTIFICATIONS_{self.channel}_URL is not set")
        notifier = apprise.Apprise()
        if not notifier.add(_url(template, outgoing)):
            raise ProviderPermanent(f"Apprise cannot use the {self.channel} URL for address {outgoing.to!r}")
        body = outgoing.body if not outgoing.link else f"{outgoing.body}\n{outgoing.link}"
        result = notifier.notify(title=outgoing.title, body=body)
        if not result:
            raise classify([entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")])
        return outgoing.idempotency_key
