"""The two public pages a notification links to: the tracked CTA redirect and unsubscribe.

They are plain Django views (not the API): a person opens them from a mail or a phone, and a
mail client POSTs to the unsubscribe link by itself (RFC 8058 one-click, no CSRF token: the
signed token is the proof).
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from notifications.services.links import (
    CONSENT_FIELD,
    click_delivery,
    delivery_click,
    delivery_unsubscribe,
    unsubscribe_delivery,
)

CHANNEL_WORDS = {"EMAIL": "marketing email", "SMS": "marketing text messages", "PUSH": "marketing push notifications"}


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "notifications/link_invalid.html", status=404)


@never_cache
@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    delivery = click_delivery(token)
    if delivery is None or not delivery.message.cta_url:
        return _not_found(request)
    # Only to the delivery's own stored link, never to anything the request carries.
    return HttpResponseRedirect(delivery_click(delivery_id=delivery.pk))


@never_cache
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery = unsubscribe_delivery(token)
    if delivery is None:
        return _not_found(request)
    what = CHANNEL_WORDS.get(delivery.channel, "marketing messages in your inbox")
    if request.method == "POST":
        delivery = delivery_unsubscribe(delivery_id=delivery.pk)
        return render(request, "notifications/unsubscribed.html", {"what": what, "email": delivery.recipient.email})
    # GET only shows a button: link scanners and prefetchers follow links, they do not POST.
    consent_on = CONSENT_FIELD.get(delivery.channel) is None or getattr(
        delivery.recipient, CONSENT_FIELD[delivery.channel]
    )
    return render(
        request,
        "notifications/unsubscribe.html",
        {"what": what, "email": delivery.recipient.email, "subscribed": consent_on},
    )
