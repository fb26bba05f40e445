"""Rendering one delivery for its channel: text, the HTML mail layout, links and headers."""

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from notifications.content import render
from notifications.models import Channel, Delivery, Message, Purpose
from notifications.services.links import click_url, unsubscribe_url


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    cta_text: str
    html_body: str = ""  # the body with its placeholder values HTML-escaped (EMAIL only)


def values_for(delivery: Delivery) -> dict[str, Any]:
    """Placeholder values of one recipient: the message's shared ones, then the recipient's."""
    return {**delivery.message.context, **delivery.context}


def render_delivery(delivery: Delivery) -> Rendered:
    """Render the message for this recipient (:class:`RenderError` if a value is missing)."""
    message, values = delivery.message, values_for(delivery)
    return Rendered(
        title=render(message.title, values).strip(),
        body=render(message.body, values),
        cta_text=render(message.cta_text, values) if message.cta_text else "",
        html_body=render(message.body, values, html=True) if delivery.channel == Channel.EMAIL else "",
    )


def _key_hash(message: Message) -> str:
    return hashlib.sha256(message.key.encode()).hexdigest()[:12]


def idempotency_key(delivery: Delivery) -> str:
    """Stable for a delivery across every re-send: ``delivery-<id>.<hash of the message key>``."""
    return f"delivery-{delivery.pk}.{_key_hash(delivery.message)}"


def message_id(delivery: Delivery) -> str:
    return f"<{idempotency_key(delivery)}@{settings.NOTIFICATIONS_MESSAGE_ID_DOMAIN}>"


def email_parts(delivery: Delivery, rendered: Rendered) -> tuple[str, str, dict[str, str]]:
    """(text, html, headers) of the mail of one delivery."""
    message = delivery.message
    marketing = message.purpose == Purpose.MARKETING
    context = {
        "site_name": settings.NOTIFICATIONS_SITE_NAME,
        "title": rendered.title,
        "body": rendered.body,
        # The body template ran with autoescaping: a first_name like "<script>" is text here.
        "body_html": rendered.html_body.replace("\n", "<br>\n"),
        "image_url": message.image_url,
        "cta_text": rendered.cta_text or ("Open" if message.cta_url else ""),
        "cta_link": click_url(delivery.pk) if message.cta_url else "",
        "unsubscribe_url": unsubscribe_url(delivery.pk) if marketing else "",
        "marketing": marketing,
    }
    text = render_to_string("emails/notification.txt", context)
    html = render_to_string("emails/notification.html", context)
    headers = {"Message-ID": message_id(delivery)}
    if marketing:
        # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs to the link.
        headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return text, html, headers


def email_subject(rendered: Rendered) -> str:
    subject = render_to_string("emails/notification.subject.txt", {"title": rendered.title})
    return " ".join(subject.split())


def short_text(delivery: Delivery, rendered: Rendered) -> tuple[str, str]:
    """(body, link) for SMS and push: the text body and the tracked CTA link, if any."""
    link = click_url(delivery.pk) if delivery.message.cta_url else ""
    return rendered.body.strip(), link


__all__ = ["Rendered", "email_parts", "email_subject", "idempotency_key", "message_id", "render_delivery"]
