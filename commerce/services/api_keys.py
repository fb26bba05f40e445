"""The integration's API keys: verified once per process for a short while, and revoked.

A key found valid is remembered by this process for ``API_KEY_CACHE_SECONDS`` (default 30),
so the hot routes spend no query and no hash on it. A key revoked through ``api_key_revoke``
(or saved or deleted in the console: any save of a key) stops working at once in the process
that changed it, and within ``API_KEY_CACHE_SECONDS`` in every other process. An expiry date
that passes is checked on every call; one moved earlier counts like a revocation.
"""

import hashlib
import threading
import time

from django.conf import settings
from django.db import transaction
from rest_framework_api_key.models import APIKey

# sha256 of a key found valid -> (its row, until when to trust it: time.monotonic() seconds)
_verified: dict[str, tuple[APIKey, float]] = {}
_verified_lock = threading.Lock()
_clock = time.monotonic


def api_keys_forget(**kwargs) -> None:
    """This process checks every key against the database again (a key changed or went)."""
    with _verified_lock:
        _verified.clear()


def api_key_verified(*, key: str) -> APIKey | None:
    """The key's row if the key matches it (revoked or expired included: the caller says
    which), from this process's memory when it was checked recently; None if it matches none."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = _clock()
    remembered = _verified.get(digest)
    if remembered is not None and now < remembered[1]:
        return remembered[0]
    prefix, _, _ = key.partition(".")
    api_key = APIKey.objects.filter(prefix=prefix).first()
    if api_key is None or not api_key.is_valid(key):
        return None
    if not api_key.revoked and settings.API_KEY_CACHE_SECONDS > 0:
        with _verified_lock:
            _verified[digest] = (api_key, now + settings.API_KEY_CACHE_SECONDS)
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key: APIKey) -> APIKey:
    """Revoke a key for good: refused at once here, within ``API_KEY_CACHE_SECONDS`` elsewhere."""
    APIKey.objects.filter(pk=api_key.pk).update(revoked=True)
    api_keys_forget()
    transaction.on_commit(api_keys_forget)  # a call in between must not remember the old row
    api_key.refresh_from_db()
    return api_key
