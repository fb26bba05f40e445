"""Swagger's example bodies and the README's curl are valid requests: each is sent to its route
on ``make run``'s demo data (a fresh database, so the demo program gets the id the examples name).

An example added to a route this table does not know fails the test: say how to send it.
"""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.api.serializers import SignupInput
from accounts.models import User
from campaigns.api.examples import DEMO_PROGRAM_ID
from conftest import client_with_key

ADMIN = "admin"  # the development admin's bearer token (the integration routes take it too)
ANONYMOUS = "anonymous"
SERIALIZER = "serializer"  # sign-up needs a token only a real OTP verification gives

# In the order they are sent: the order ingest, with DIWALI20, comes after the checkout.
SENDERS = {
    ("post", "/api/v1/cart/evaluate/"): ADMIN,
    ("post", "/api/v1/redemptions/"): ADMIN,
    ("post", "/api/v1/loyalty/redeem/"): ADMIN,
    ("post", "/api/v1/commerce/orders/"): ADMIN,
    ("post", "/api/v1/commerce/products/bulk"): ADMIN,
    ("post", "/api/v1/commerce/customers/bulk"): ADMIN,
    ("post", "/api/v1/campaigns/discounts/"): ADMIN,
    ("post", "/api/v1/loyalty/programs/"): ADMIN,
    ("post", "/api/v1/segments/"): ADMIN,
    ("post", "/api/v1/promotions/"): ADMIN,
    ("post", "/api/v1/auth/signin"): ANONYMOUS,
    ("post", "/api/v1/auth/signup"): SERIALIZER,
}


def _request_examples(schema: dict) -> list[tuple[str, str, str, object]]:
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name, example in content.get("examples", {}).items():
                found.append((method, path, name, example["value"]))
    return found


@pytest.fixture
def demo_data(settings):
    settings.DEBUG = True  # dev_bootstrap runs only in development, as in make run
    call_command("seed_demo", "--no-progress", verbosity=0)
    call_command("seed_demo_campaigns", verbosity=0)
    call_command("seed_demo_loyalty", verbosity=0)
    call_command("dev_bootstrap", verbosity=0)
    settings.DEBUG = False


def _readme_curl() -> tuple[str, dict]:
    readme = (Path(django_settings.BASE_DIR) / "README.md").read_text()
    curl = re.search(r"^curl -s http://127\.0\.0\.1:8000(\S+) .*?-d '([^']+)'", readme, re.M | re.S)
    return curl.group(1), json.loads(curl.group(2))


# One test: seeding the demo data is most of its time.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_readme_curl_and_every_swagger_example_are_valid_requests_on_the_demo_data(demo_data, integration_key):
    path, body = _readme_curl()
    curl = client_with_key(integration_key).post(path, body, format="json")

    assert curl.status_code == 200, curl.content
    diwali = [d for d in curl.json()["discounts"] if d["code"] == "DIWALI20"]
    assert [d["amount"] for d in diwali] == ["500.00"]  # 20%, capped at ₹500

    examples = _request_examples(SchemaGenerator().get_schema(request=None, public=True))
    admin = APIClient()
    signin = admin.post("/api/v1/auth/signin", {"email": "admin@lms.local", "password": "admin"}, format="json")
    admin.credentials(HTTP_AUTHORIZATION=f"Bearer {signin.json()['access']}")
    clients = {ADMIN: admin, ANONYMOUS: APIClient()}

    unknown = [(method, path) for method, path, _, _ in examples if (method, path) not in SENDERS]
    assert unknown == [], "say in SENDERS how to send these examples"
    assert {(method, path) for method, path, _, _ in examples} == set(SENDERS)  # each main write has one
    order = list(SENDERS)
    for method, path, name, body in sorted(examples, key=lambda example: order.index(example[:2])):
        sender = SENDERS[(method, path)]
        if sender == SERIALIZER:
            serializer = SignupInput(data=body)
            assert serializer.is_valid(), (path, name, serializer.errors)
            assert not User.objects.filter(email=serializer.validated_data["email"]).exists(), (path, name)
            continue
        response = getattr(clients[sender], method)(path, body, format="json")
        assert 200 <= response.status_code < 300, (path, name, response.status_code, response.content)
        answer = response.json()
        if isinstance(answer.get("rejected"), list):  # a cart: the code and the points apply
            refused = [r for r in answer["rejected"] if r["code"] or r["campaign_id"] == DEMO_PROGRAM_ID]
            assert refused == [], (path, name, refused)
        if "use_points" in body:
            assert answer["points"]["points"] == body["use_points"]["points"], (path, name, answer)
        if isinstance(answer.get("rejected"), int):  # a bulk call: every item stored, no warnings
            assert answer["rejected"] == 0, (path, name, answer)
            assert [r for r in answer["results"] if r.get("warnings")] == [], (path, name, answer)
        assert not answer.get("warnings"), (path, name, answer)  # e.g. an unknown sku in an order
