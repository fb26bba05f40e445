"""Sign-in hooks: a plain registry that higher apps register into.

Loyalty awards login-streak points from here. A sign-in (``session_start``) and a LOGIN event
the platform sends (``commerce.services.events``) both call ``logins_emit`` inside their
transaction, so an award is stored with the login or not at all.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Login:
    customer_id: int
    occurred_at: datetime


LoginHook = Callable[[Sequence[Login]], None]
_login_hooks: list[LoginHook] = []


def register_login_hook(hook: LoginHook) -> LoginHook:
    """Register once (re-registering is a no-op); the hook gets every login of a batch at once."""
    if hook not in _login_hooks:
        _login_hooks.append(hook)
    return hook


def unregister_login_hook(hook: LoginHook) -> None:
    if hook in _login_hooks:
        _login_hooks.remove(hook)


def logins_emit(logins: Sequence[Login]) -> None:
    if logins:
        for hook in tuple(_login_hooks):
            hook(logins)
