"""Sign-in hooks: a registry that higher apps register into from ``ready()``.

Loyalty awards login-streak points from here. A sign-in (``session_start``) and a LOGIN event
the platform sends (``commerce.services.events``) both call ``logins_emit`` inside their
transaction, so an award is stored with the login or not at all.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lms.registry import Registry


@dataclass(frozen=True)
class Login:
    customer_id: int
    occurred_at: datetime


LoginHook = Callable[[Sequence[Login]], None]
# Keyed by the registering app; a hook gets every login of a batch at once.
login_hooks: Registry[LoginHook] = Registry("login hooks")


def logins_emit(logins: Sequence[Login]) -> None:
    if logins:
        for hook in login_hooks.values():
            hook(logins)
