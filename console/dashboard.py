"""The console's landing page (UNFOLD["DASHBOARD_CALLBACK"])."""

from django.http import HttpRequest

from console.navigation import sidebar


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    sections = [
        {**section, "items": [item for item in section["items"] if item.get("permission", bool)(request)]}
        for section in sidebar(request)[1:]
    ]
    context["sections"] = [section for section in sections if section["items"]]
    return context
