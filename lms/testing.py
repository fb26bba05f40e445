"""Helpers shared by the test suites of every app."""

import json


def assert_error(response, status: int, code: str) -> dict:
    """The response is the one error shape with this status and code; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    return body
