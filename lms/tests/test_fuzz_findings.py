"""Requests a fuzzer found to crash the API once; each is now a clean 4xx."""

import pytest
from rest_framework_api_key.models import APIKey

from commerce.models import Brand
from lms.testing import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration_client(api_client):
    _, key = APIKey.objects.create_key(name="fuzz")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api_client


def _raw(client, path: str, body: str):
    return client.post(path, body, content_type="application/json")


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/auth/otp/send", '{"email": "\\ud800@example.com"}'),
        ("/api/v1/commerce/products/bulk", '{"products": [{"sku": "fz-\\udfff", "name": "x", "price": "1"}]}'),
        ("/api/v1/commerce/orders/bulk", '{"orders": [{"external_id": "\\ud800"}]}'),
    ],
)
def test_a_lone_surrogate_in_json_is_a_parse_error(integration_client, path, body):
    assert_error(_raw(integration_client, path, body), 400, "parse_error")


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00", "1899-06-01T00:00:00Z"])
def test_a_date_out_of_range_rejects_the_item_not_the_server(integration_client, when):
    response = integration_client.post(
        "/api/v1/commerce/events/",
        {"kind": "LOGIN", "customer": {"email": "e1@example.com"}, "occurred_at": when},
        format="json",
    )

    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["outcome"] == "rejected" and "occurred_at" in result["error"]["details"]


def test_a_name_that_lower_cases_like_an_existing_brand_reuses_it(integration_client):
    Brand.objects.create(name="kelvinfz")

    response = integration_client.post(
        "/api/v1/commerce/products/bulk",
        {"products": [{"sku": "K-1", "name": "K", "price": "1.00", "brand": "\u212aelvinfz"}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["outcome"] == "created"
    assert Brand.objects.count() == 1


def test_an_api_key_with_a_nul_byte_is_invalid_not_a_database_error(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Api-Key ab\x00cd.efgh")

    assert_error(api_client.get("/api/v1/commerce/products/"), 401, "api_key_invalid")
