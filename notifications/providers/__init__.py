"""Channel providers: what turns a rendered notification into a send.

One provider per channel, chosen by ``settings.NOTIFICATIONS_PROVIDERS`` (a dotted path per
channel). Every provider takes an :class:`~notifications.providers.base.Outgoing` and answers
the provider's message id, or raises :class:`ProviderTransient` (try again later: connection
refused, timeout, 5xx, 429) or :class:`ProviderPermanent` (this address will never work:
4xx, a refused recipient). IN_APP has no provider: the inbox row is the send.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.providers.base import Outgoing, Provider, ProviderPermanent, ProviderTransient

__all__ = ["Outgoing", "Provider", "ProviderPermanent", "ProviderTransient", "provider_for"]


def provider_for(channel: str) -> Provider:
    """A fresh provider for ``channel`` (open it for a batch, close it after)."""
    path = settings.NOTIFICATIONS_PROVIDERS.get(channel)
    if not path:
        raise ProviderPermanent(f"no provider is configured for {channel}")
    return _provider_class(path)(channel=channel)


@cache
def _provider_class(path: str) -> type[Provider]:
    return import_string(path)
