from rest_framework.response import Response

from lms.api.pagination import PageLimitPagination


class InboxPagination(PageLimitPagination):
    """The page envelope plus ``unread_count`` (all unread items, whatever the page or filter)."""

    unread_count = 0

    def get_paginated_response(self, data) -> Response:
        response = super().get_paginated_response(data)
        response.data["unread_count"] = self.unread_count
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        envelope = super().get_paginated_response_schema(schema)
        envelope["required"] = [*envelope["required"], "unread_count"]
        envelope["properties"]["unread_count"] = {
            "type": "integer",
            "example": 3,
            "description": "Unread items in the whole inbox.",
        }
        return envelope
