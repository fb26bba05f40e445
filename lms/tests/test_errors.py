"""The one error shape, ``{"code", "message", "details"}``, for every kind of bad input.

Most tests drive real endpoints (sign-in, OTP send, sign-up, the admin user list); the last
part unit-tests ``lms.api.exceptions`` directly.
"""

import base64
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.test import RequestFactory
from django.urls import get_resolver
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import EmailOTP, LoginEvent, User
from accounts.tests.factories import DEFAULT_PASSWORD
from lms.api import exceptions as api_exceptions
from lms.api.exceptions import exception_handler, flatten_errors
from lms.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from lms.testing import assert_error

SIGNIN = "/api/v1/auth/signin"
OTP_SEND = "/api/v1/auth/otp/send"
SIGNUP = "/api/v1/auth/signup"
USERS = "/api/v1/users/"


def post_raw(client, url: str, body: str, content_type: str = "application/json", **extra):
    return client.generic("POST", url, body.encode(), content_type=content_type, **extra)


# --- Bodies that are not what the endpoint reads ---------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [SIGNIN, OTP_SEND, SIGNUP])
def test_malformed_json_is_a_parse_error(api_client, url):
    response = post_raw(api_client, url, '{"email": "asha@example.com",')

    assert_error(response, 400, "parse_error")


@pytest.mark.django_db
@pytest.mark.parametrize("body, kind", [('["asha@example.com"]', "list"), ('"asha@example.com"', "str"), ("42", "int")])
@pytest.mark.parametrize("url", [SIGNIN, OTP_SEND])
def test_json_that_is_not_an_object_is_a_validation_error(api_client, url, body, kind):
    response = post_raw(api_client, url, body)

    error = assert_error(response, 400, "validation_error")
    assert error["details"] == {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
    assert not EmailOTP.objects.exists()


@pytest.mark.django_db
def test_missing_fields_are_each_listed_by_path(api_client):
    signin = api_client.post(SIGNIN, {}, format="json")
    signup = api_client.post(SIGNUP, {}, format="json")

    signin_error = assert_error(signin, 400, "validation_error")
    assert signin_error["details"] == {"email": ["This field is required."], "password": ["This field is required."]}
    signup_error = assert_error(signup, 400, "validation_error")
    assert set(signup_error["details"]) == {"email", "first_name", "password"}
    assert all(messages == ["This field is required."] for messages in signup_error["details"].values())
    assert signup_error["message"].endswith("This field is required.")


@pytest.mark.django_db
def test_overlong_fields_are_refused_before_any_write(api_client):
    long_email = "a" * 290 + "@example.com"
    too_long_email = api_client.post(OTP_SEND, {"email": long_email}, format="json")
    too_long_name = api_client.post(
        SIGNUP,
        {"email": "asha@example.com", "first_name": "A" * 200, "password": "Quiet-River-77", "token": "x"},
        format="json",
    )

    assert "email" in assert_error(too_long_email, 400, "validation_error")["details"]
    assert set(assert_error(too_long_name, 400, "validation_error")["details"]) == {"first_name"}
    assert not EmailOTP.objects.exists()
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["not-an-email", "a@", ""])
def test_bad_email_is_a_validation_error(api_client, email):
    response = api_client.post(OTP_SEND, {"email": email}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert list(error["details"]) == ["email"]
    assert error["message"].startswith("email: ")
    assert not EmailOTP.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": 123, "password": "x"}, "email"),
        ({"email": ["a@b.co"], "password": "x"}, "email"),
        ({"email": "a@b.co", "password": {"x": 1}}, "password"),
        ({"email": "a@b.co", "password": None}, "password"),
        ({"email": "a@b.co", "password": ["x"]}, "password"),
        ({"email": None, "password": "x"}, "email"),
    ],
)
def test_wrong_types_are_validation_errors(api_client, body, field):
    response = api_client.post(SIGNIN, body, format="json")

    error = assert_error(response, 400, "validation_error")
    assert list(error["details"]) == [field]
    assert not LoginEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, body, field",
    [
        (SIGNIN, {"email": "asha\x00@example.com", "password": "x"}, "email"),
        (SIGNIN, {"email": "asha@example.com", "password": "pass\x00word"}, "password"),
        (OTP_SEND, {"email": "asha@example.com\x00"}, "email"),
        (
            SIGNUP,
            {"email": "asha@example.com", "first_name": "As\x00ha", "password": "Quiet-River-77", "token": "t"},
            "first_name",
        ),
    ],
)
def test_nul_character_in_a_string_is_a_validation_error_not_a_database_error(api_client, url, body, field):
    # PostgreSQL refuses NUL in text; letting one through would be a 500.
    response = api_client.post(url, body, format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]
    assert not EmailOTP.objects.exists()
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["search=a%00b", "country=%00", "joined_after=%00"])
def test_nul_character_in_a_list_filter_is_a_validation_error(admin_client, query):
    response = admin_client.get(f"{USERS}?{query}")

    assert_error(response, 400, "validation_error")


@pytest.mark.django_db
def test_nul_character_in_a_reset_token_query_is_just_an_invalid_token(api_client, customer):
    response = api_client.get("/api/v1/auth/password/reset?token=MQ.%00")

    assert response.status_code == 200
    assert response.json() == {"valid": False}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type, body",
    [("application/x-www-form-urlencoded", "email=asha%40example.com&password=x"), ("text/plain", "asha@example.com")],
)
@pytest.mark.parametrize("url", [SIGNIN, OTP_SEND])
def test_body_that_is_not_json_is_an_unsupported_media_type(api_client, url, content_type, body):
    response = post_raw(api_client, url, body, content_type=content_type)

    error = assert_error(response, 415, "unsupported_media_type")
    assert content_type in error["message"]
    assert not EmailOTP.objects.exists()


@pytest.mark.django_db
def test_wrong_method_is_method_not_allowed(api_client):
    response = api_client.get(SIGNIN)

    error = assert_error(response, 405, "method_not_allowed")
    assert "GET" in error["message"]
    assert "POST" in response["Allow"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/nope", "/nope", "/api/v1/auth/signin/extra"])
def test_unknown_route_is_a_json_not_found(api_client, path):
    response = api_client.get(path)

    error = assert_error(response, 404, "not_found")
    assert path in error["message"]


@pytest.mark.django_db
def test_unknown_object_is_a_json_not_found(admin_client):
    response = admin_client.get(f"{USERS}987654321/")

    assert_error(response, 404, "not_found")


# --- Who may call ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_user_calling_an_admin_route_is_permission_denied(customer_client):
    response = customer_client.get(USERS)

    assert_error(response, 403, "permission_denied")


@pytest.mark.django_db
def test_no_token_is_not_authenticated(api_client, customer):
    response = api_client.get(USERS)
    me = api_client.get("/api/v1/me")

    assert_error(response, 401, "not_authenticated")
    assert_error(me, 401, "not_authenticated")
    assert me["WWW-Authenticate"].startswith("Bearer")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.django_db
def test_tampered_token_is_not_valid(api_client, customer):
    # The customer rewrites the claims of their own token to ADMIN, keeping the signature.
    header, payload, signature = str(AccessToken.for_user(customer)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = f"{header}.{_b64({**claims, 'role': 'ADMIN'})}.{signature}"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")

    response = api_client.get(USERS)

    assert_error(response, 401, "token_not_valid")


@pytest.mark.django_db
def test_expired_token_is_not_valid(api_client, customer):
    token = AccessToken.for_user(customer)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2), lifetime=timedelta(minutes=15))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get("/api/v1/me")

    error = assert_error(response, 401, "token_not_valid")
    assert "expired" in error["message"].lower()


@pytest.mark.django_db
def test_garbage_bearer_is_not_valid(api_client, customer):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")

    response = api_client.get("/api/v1/me")

    assert_error(response, 401, "token_not_valid")


# --- Forged client addresses -----------------------------------------------------------------


@pytest.mark.django_db
def test_forged_forwarded_for_is_ignored_and_the_login_event_keeps_the_remote_address(api_client, customer):
    # NUM_PROXIES defaults to 0: X-Forwarded-For is not trusted at all.
    response = api_client.post(
        SIGNIN,
        {"email": customer.email, "password": DEFAULT_PASSWORD},
        format="json",
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="not-an-ip",
    )

    assert response.status_code == 200, response.content
    assert list(LoginEvent.objects.filter(user=customer).values_list("ip", flat=True)) == ["203.0.113.9"]


@pytest.mark.django_db
def test_forged_forwarded_for_behind_a_proxy_is_stored_as_no_address(api_client, customer, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    signin = api_client.post(
        SIGNIN,
        {"email": customer.email, "password": DEFAULT_PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="not-an-ip",
    )
    otp = api_client.post(OTP_SEND, {"email": "ravi@example.com"}, format="json", HTTP_X_FORWARDED_FOR="not-an-ip")
    trusted = api_client.post(
        SIGNIN,
        {"email": customer.email, "password": DEFAULT_PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR="198.51.100.4",
    )

    assert signin.status_code == 200, signin.content
    assert otp.status_code == 202, otp.content
    assert trusted.status_code == 200, trusted.content
    ips = list(LoginEvent.objects.filter(user=customer).order_by("occurred_at").values_list("ip", flat=True))
    assert ips == [None, "198.51.100.4"]
    assert EmailOTP.objects.get(email="ravi@example.com").requested_ip is None


@pytest.mark.django_db
@pytest.mark.filterwarnings("error::django.core.cache.backends.base.CacheKeyWarning")
def test_forged_forwarded_for_never_puts_arbitrary_text_into_throttle_cache_keys(api_client, customer, settings):
    # Behind a proxy the last X-Forwarded-For entry becomes the throttles' ident; a forged one
    # with spaces or control characters must not become part of a cache key (Django warns that
    # such keys break memcached; the suite turns that warning into an error).
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    forged = "'; drop table accounts_user; --"

    signin = api_client.post(
        SIGNIN, {"email": customer.email, "password": DEFAULT_PASSWORD}, format="json", HTTP_X_FORWARDED_FOR=forged
    )
    wrong = api_client.post(
        SIGNIN, {"email": customer.email, "password": "nope"}, format="json", HTTP_X_FORWARDED_FOR=forged
    )
    otp = api_client.post(OTP_SEND, {"email": "ravi@example.com"}, format="json", HTTP_X_FORWARDED_FOR=forged)

    assert signin.status_code == 200, signin.content
    assert_error(wrong, 401, "invalid_credentials")
    assert otp.status_code == 202, otp.content
    assert list(LoginEvent.objects.filter(user=customer).values_list("ip", flat=True)) == [None]


# --- Oversized bodies ------------------------------------------------------------------------


@pytest.mark.django_db
def test_body_larger_than_the_upload_limit_is_a_json_bad_request(api_client, customer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"email": customer.email, "password": DEFAULT_PASSWORD, "padding": "x" * 4096}

    response = api_client.post(SIGNIN, body, format="json")

    assert_error(response, 400, "bad_request")
    assert not LoginEvent.objects.exists()


# --- exception_handler, unit ------------------------------------------------------------------


@pytest.mark.parametrize(
    "error_class, status",
    [(Invalid, 400), (Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (Conflict, 409)],
)
def test_domain_errors_map_to_their_status_with_code_message_and_details(error_class, status):
    response = exception_handler(error_class("insufficient_points", "Balance is 40 points.", balance=40), {})

    assert response.status_code == status
    assert response.data == {
        "code": "insufficient_points",
        "message": "Balance is 40 points.",
        "details": {"balance": 40},
    }


def test_django_validation_error_with_fields_is_a_validation_error():
    response = exception_handler(
        DjangoValidationError({"email": ["Taken."], "password": ["Too short.", "Too common."]}), {}
    )

    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert response.data["details"] == {"email": ["Taken."], "password": ["Too short.", "Too common."]}
    assert response.data["message"] == "email: Taken."


@pytest.mark.parametrize(
    "error, messages",
    [
        (DjangoValidationError("Just wrong."), ["Just wrong."]),
        (DjangoValidationError(["First.", "Second."]), ["First.", "Second."]),
    ],
)
def test_django_validation_error_without_fields_is_a_validation_error(error, messages):
    response = exception_handler(error, {})

    assert response.status_code == 400
    assert response.data == {
        "code": "validation_error",
        "message": messages[0],
        "details": {"non_field_errors": messages},
    }


def test_integrity_error_is_a_conflict():
    response = exception_handler(IntegrityError('duplicate key value violates unique constraint "x"'), {})

    assert response.status_code == 409
    assert response.data["code"] == "conflict"
    assert response.data["details"] == {}
    assert "duplicate key" not in response.data["message"]  # no database internals leak out


def test_http404_and_django_permission_denied_keep_the_shape():
    not_found = exception_handler(Http404("No User matches the given query."), {})
    denied = exception_handler(DjangoPermissionDenied(), {})

    assert not_found.status_code == 404
    assert not_found.data["code"] == "not_found"
    assert denied.status_code == 403
    assert denied.data["code"] == "permission_denied"


def test_throttled_carries_retry_after():
    response = exception_handler(Throttled(wait=12.4), {})

    assert response.status_code == 429
    assert response.data["code"] == "throttled"
    assert response.data["details"] == {"retry_after": 13}  # rounded up, as the header is
    assert response["Retry-After"] == "13"


def test_an_unexpected_exception_is_left_to_the_server_error_handler():
    assert exception_handler(ValueError("bug"), {}) is None


def test_flatten_errors_turns_nested_errors_into_dotted_paths():
    nested = {
        "name": ["This field may not be blank."],
        "criteria": {"all": [{}, {"value": ["bad"]}], "non_field_errors": ["Give at least one rule."]},
        "non_field_errors": ["Top."],
    }

    assert flatten_errors(nested) == {
        "name": ["This field may not be blank."],
        "criteria.all[1].value": ["bad"],
        "criteria": ["Give at least one rule."],
        "non_field_errors": ["Top."],
    }
    assert flatten_errors(["One.", "Two."]) == {"non_field_errors": ["One.", "Two."]}
    assert flatten_errors("Alone.") == {"non_field_errors": ["Alone."]}


class _RuleInput(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.IntegerField()


class _CriteriaInput(serializers.Serializer):
    all = _RuleInput(many=True)


class _SegmentInput(serializers.Serializer):
    name = serializers.CharField()
    criteria = _CriteriaInput()
    tags = serializers.ListField(child=serializers.IntegerField())


def test_nested_serializer_errors_reach_the_client_as_dotted_paths():
    # DRF reports the items of a many=True serializer or a ListField by integer index.
    serializer = _SegmentInput(
        data={
            "name": "Loyal",
            "criteria": {"all": [{"field": "age", "value": 30}, {"field": "orders", "value": "many"}]},
            "tags": [1, "x"],
        }
    )
    assert not serializer.is_valid()

    response = exception_handler(serializers.ValidationError(serializer.errors), {})

    assert response.status_code == 400
    assert response.data == {
        "code": "validation_error",
        "message": "criteria.all[1].value: A valid integer is required.",
        "details": {
            "criteria.all[1].value": ["A valid integer is required."],
            "tags[1]": ["A valid integer is required."],
        },
    }


# --- handler400/403/404/500 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, view, code",
    [
        (400, api_exceptions.bad_request, "bad_request"),
        (403, api_exceptions.permission_denied, "permission_denied"),
        (404, api_exceptions.page_not_found, "not_found"),
        (500, api_exceptions.server_error, "server_error"),
    ],
)
def test_error_handler_views_answer_json_with_the_shape(status, view, code):
    request = RequestFactory().get("/somewhere/odd")

    response = view(request) if status == 500 else view(request, Exception("why"))

    assert get_resolver().resolve_error_handler(status) is view  # wired in lms.urls
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["details"] == {}
    if status == 404:
        assert "/somewhere/odd" in body["message"]


# --- Bodies that are not JSON ---------------------------------------------------------------------


def _raw(client, path: str, body: str):
    return client.post(path, body, content_type="application/json")


@pytest.mark.django_db
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
