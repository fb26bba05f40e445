"""Who may call the integration API: a live API key (stored hashed) or an ADMIN."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from commerce.tests.factories import ProductFactory
from conftest import client_with_key
from lms.testing import assert_error

PRODUCTS = "/api/v1/commerce/products/"
ROUTES = [
    ("get", PRODUCTS),
    ("post", "/api/v1/commerce/products/bulk"),
    ("post", "/api/v1/commerce/customers/bulk"),
    ("post", "/api/v1/commerce/orders/"),
    ("post", "/api/v1/commerce/orders/bulk"),
    ("patch", "/api/v1/commerce/orders/ORD-1/"),
    ("post", "/api/v1/commerce/events/"),
]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_every_integration_route_needs_credentials(api_client, method, url):
    response = getattr(api_client, method)(url, {})

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_live_key_is_let_in(integration_client):
    ProductFactory(sku="PH-1")

    response = integration_client.get(PRODUCTS)

    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("key", ["garbage", "garbage.more-garbage", ""])
def test_an_unknown_key_is_api_key_invalid(key):
    assert_error(client_with_key(key).get(PRODUCTS), 401, "api_key_invalid")


def test_a_known_prefix_with_a_wrong_secret_is_api_key_invalid(integration_key):
    prefix, _, _ = integration_key.partition(".")

    assert_error(client_with_key(f"{prefix}.wrong-secret").get(PRODUCTS), 401, "api_key_invalid")


def test_a_revoked_key_is_api_key_revoked(integration_key):
    api_key = APIKey.objects.get(name="storefront")
    api_key.revoked = True
    api_key.save()

    body = assert_error(client_with_key(integration_key).get(PRODUCTS), 401, "api_key_revoked")

    assert "storefront" in body["message"]


def test_an_expired_key_is_api_key_expired(integration_key):
    APIKey.objects.filter(name="storefront").update(expiry_date=timezone.now() - timedelta(minutes=1))

    assert_error(client_with_key(integration_key).get(PRODUCTS), 401, "api_key_expired")


def test_a_key_that_expires_later_is_let_in(integration_key):
    APIKey.objects.filter(name="storefront").update(expiry_date=timezone.now() + timedelta(days=1))

    assert client_with_key(integration_key).get(PRODUCTS).status_code == 200


def test_an_admin_with_a_jwt_is_let_in(admin_client):
    assert admin_client.get(PRODUCTS).status_code == 200


def test_a_user_with_a_jwt_is_forbidden(customer_client):
    assert_error(customer_client.get(PRODUCTS), 403, "permission_denied")


def test_only_the_hash_of_a_key_is_stored(integration_key):
    api_key = APIKey.objects.get(name="storefront")
    _, _, secret = integration_key.partition(".")

    stored = " ".join(str(value) for value in model_to_dict(APIKey.objects.get(pk=api_key.pk)).values())

    assert integration_key not in stored
    assert secret not in stored
    assert api_key.is_valid(integration_key)


def test_the_command_prints_a_key_that_authenticates():
    stdout, stderr = StringIO(), StringIO()

    call_command("create_api_key", "storefront-prod", stdout=stdout, stderr=stderr)

    key = stdout.getvalue().strip()
    assert key and "\n" not in key
    assert "not shown again" in stderr.getvalue()
    assert APIKey.objects.get().name == "storefront-prod"
    assert client_with_key(key).get(PRODUCTS).status_code == 200


def test_the_command_refuses_a_second_live_key_with_the_same_name():
    call_command("create_api_key", "storefront-prod", stdout=StringIO(), stderr=StringIO())

    with pytest.raises(CommandError, match="storefront-prod"):
        call_command("create_api_key", "storefront-prod", stdout=StringIO(), stderr=StringIO())

    assert APIKey.objects.count() == 1


def test_the_command_may_reuse_the_name_of_a_revoked_key():
    call_command("create_api_key", "storefront-prod", stdout=StringIO(), stderr=StringIO())
    APIKey.objects.update(revoked=True)

    call_command("create_api_key", "storefront-prod", stdout=StringIO(), stderr=StringIO())

    assert APIKey.objects.filter(name="storefront-prod", revoked=False).count() == 1


def test_a_bearer_token_that_is_not_a_jwt_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nonsense")

    assert_error(client.get(PRODUCTS), 401, "token_not_valid")


# --- Key bytes ------------------------------------------------------------------------------------


def test_an_api_key_with_a_nul_byte_is_invalid_not_a_database_error(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Api-Key ab\x00cd.efgh")

    assert_error(api_client.get("/api/v1/commerce/products/"), 401, "api_key_invalid")
