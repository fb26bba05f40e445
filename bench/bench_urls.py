"""The product's URLs plus a bare Django JSON view, the yardstick of ``bench/throughput.py``
(through the same middleware; no DRF, no database, no cache)."""

from django.http import JsonResponse
from django.urls import path

from lms.urls import urlpatterns as product_urlpatterns


def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare", bare), *product_urlpatterns]
