"""Templated mail: ``templates/emails/<name>.subject.txt``, ``.txt`` and ``.html``."""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def templated_mail_send(*, template: str, to: str, context: dict[str, Any]) -> None:
    """Render the subject, text and HTML parts of ``emails/<template>`` and send them."""
    context = {"site_name": "LMS", **context}
    subject = render_to_string(f"emails/{template}.subject.txt", context).strip().replace("\n", " ")
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
