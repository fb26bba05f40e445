"""``?page=1&limit=10`` on every list, answered as ``{count, page, limit, pages, results}``."""

from typing import Any

from django.core.paginator import InvalidPage
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from lms.errors import Invalid


class PageLimitPagination(PageNumberPagination):
    page_size = 10
    page_query_param = "page"
    page_size_query_param = "limit"
    max_page_size = 100

    def _positive_int_param(self, request, name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Invalid("invalid_pagination", f"{name} must be a positive integer; got {raw[:20]!r}.", param=name)
        if value < 1:
            raise Invalid("invalid_pagination", f"{name} must be a positive integer; got {value}.", param=name)
        return value

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        # A limit above the maximum is clamped (the answer's "limit" says what was used).
        self.limit = min(
            self._positive_int_param(request, self.page_size_query_param, self.page_size), self.max_page_size
        )
        self.page_number = self._positive_int_param(request, self.page_query_param, 1)
        paginator = self.django_paginator_class(queryset, self.limit)
        self.count = paginator.count
        self.pages = paginator.num_pages if self.count else 0
        if self.page_number > max(self.pages, 1):
            # Past the last page: an empty page, not an error, so a client can stop on it.
            return []
        try:
            self.page = paginator.page(self.page_number)
        except InvalidPage:  # pragma: no cover - guarded above
            return []
        return list(self.page)

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {"count": self.count, "page": self.page_number, "limit": self.limit, "pages": self.pages, "results": data}
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "page", "limit", "pages", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "page": {"type": "integer", "example": 1},
                "limit": {"type": "integer", "example": 10},
                "pages": {"type": "integer", "example": 13},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "description": "Results per page (default 10, at most 100).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        ]
