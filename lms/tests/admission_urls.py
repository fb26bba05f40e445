"""The product's URLs plus ``/slow``: a view that holds its thread, so a burst outruns the
threads of a test server (lms/tests/test_admission.py)."""

import time

from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def slow(request: HttpRequest) -> JsonResponse:
    time.sleep(float(request.GET.get("seconds", "1")))
    return JsonResponse({"ok": True})


urlpatterns = [path("slow", slow), path("", include("lms.urls"))]
