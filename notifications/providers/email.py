"""EMAIL through Django's email backends (``EMAIL_BACKEND``, or ``NOTIFICATIONS_EMAIL_BACKEND``
for notifications alone): console in ``make run``, locmem in tests, SMTP or an ESP through
django-anymail in production."""

import logging
import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import BadHeaderError

from notifications.providers.base import Outgoing, Provider, ProviderPermanent, ProviderTransient

logger = logging.getLogger(__name__)


def _smtp_code_error(code: int, text: str) -> Exception:
    # 5xx: the server refuses for good; 4xx: "try again later" (greylisting, a full mailbox).
    return (ProviderPermanent if code >= 500 else ProviderTransient)(f"SMTP {code}: {text}")


class EmailProvider(Provider):
    def __init__(self, *, channel: str) -> None:
        super().__init__(channel=channel)
        self.connection = None

    def _connection(self):
        if self.connection is None:
            self.connection = get_connection(settings.NOTIFICATIONS_EMAIL_BACKEND or None, fail_silently=False)
        return self.connection

    def open(self) -> None:
        # Connecting lazily: a refused connection fails the first send (transient), not the batch.
        pass

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001 - a broken session is dropped either way
                logger.debug("closing the mail connection failed", exc_info=True)
            self.connection = None

    def send(self, outgoing: Outgoing) -> str:
        headers = {"Message-ID": outgoing.idempotency_key or make_msgid(), **outgoing.headers}
        message = EmailMultiAlternatives(
            subject=outgoing.title.replace("\n", " ").replace("\r", " "),
            body=outgoing.body,
            from_email=settings.NOTIFICATIONS_FROM_EMAIL,
            to=[outgoing.to],
            headers=headers,
            connection=self._connection(),
        )
        if outgoing.html:
            message.attach_alternative(outgoing.html, "text/html")
        try:
            message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            refused = "; ".join(f"{code} {text!r}" for code, text in exc.recipients.values())
            error = ProviderTransient if codes and all(code < 500 for code in codes) else ProviderPermanent
            raise error(f"recipient refused: {refused}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not this address: retried (and alarming) rather than failing every row.
            self.close()
            raise ProviderTransient(f"SMTP authentication failed: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise _smtp_code_error(exc.smtp_code, text) from exc
        except (ValueError, BadHeaderError) as exc:  # an address that cannot be written in a header
            raise ProviderPermanent(f"bad address or header: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, disconnected
            self.close()
            raise ProviderTransient(f"mail server unavailable: {exc!r}") from exc
        status = getattr(message, "anymail_status", None)  # an ESP's own id, through django-anymail
        return (getattr(status, "message_id", None) or headers["Message-ID"])[:255]
