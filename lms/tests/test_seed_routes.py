"""The NestJS service's routes answer at the root, served by the canonical /api/v1/ views."""

import re

import pytest
from django.urls import resolve, reverse

from accounts.models import EmailOTP, LoginEvent, User
from accounts.tests.factories import DEFAULT_PASSWORD
from lms.api.seed_routes import SEED_ROUTES

SEED_IDS = [f"{route.method} /{route.seed}" for route in SEED_ROUTES]


def _concrete(route) -> tuple[str, str]:
    """An example seed path and its canonical path (path parameters filled with 1)."""
    kwargs = {name: 1 for name in re.findall(r"<int:(\w+)>", route.seed)}
    return "/" + re.sub(r"<int:\w+>", "1", route.seed), reverse(route.canonical_name, kwargs=kwargs or None)


def _mailed_code(message) -> str:
    return re.search(r"\b(\d{6})\b", message.body).group(1)


@pytest.mark.parametrize("route", SEED_ROUTES, ids=SEED_IDS)
def test_seed_path_resolves_to_the_canonical_view(route):
    seed_path, canonical_path = _concrete(route)
    seed = resolve(seed_path)
    canonical = resolve(canonical_path)

    assert canonical_path.startswith("/api/v1/")
    assert seed.func is canonical.func
    assert {k: str(v) for k, v in seed.kwargs.items()} == canonical.kwargs
    assert seed.url_name == f"seed-{route.seed}".replace(":", "-")


@pytest.mark.parametrize("route", SEED_ROUTES, ids=SEED_IDS)
def test_seed_view_handles_the_seed_method(route):
    func = resolve(_concrete(route)[0]).func
    handlers = getattr(func, "actions", None)  # a ViewSet maps methods to actions

    if handlers is not None:
        assert route.method.lower() in handlers
    else:
        assert route.method.lower() in func.view_class.http_method_names
        assert callable(getattr(func.view_class, route.method.lower(), None))


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in SEED_ROUTES if "<" not in r.seed], ids=lambda r: f"{r.method} /{r.seed}")
def test_every_seed_path_answers_its_method(admin_client, route, django_capture_on_commit_callbacks):
    # An admin's bearer token reaches the admin routes; the public auth views ignore it.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.generic(route.method, "/" + route.seed, "{}", content_type="application/json")

    assert response.status_code not in (404, 405), response.content
    assert response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_seed_signin_with_bad_credentials_is_invalid_credentials(api_client, customer):
    response = api_client.post("/auth/signin", {"email": customer.email, "password": "wrong-one"}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert not LoginEvent.objects.exists()


@pytest.mark.django_db
def test_seed_signin_with_the_password_answers_a_session(api_client, customer):
    response = api_client.post("/auth/signin", {"email": customer.email, "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh", "user"}
    assert LoginEvent.objects.filter(user=customer).count() == 1


@pytest.mark.django_db
def test_seed_reset_password_check_of_a_bad_token_is_not_valid(api_client):
    response = api_client.get("/auth/reset-password?token=x")

    assert response.status_code == 200
    assert response.json() == {"valid": False}


@pytest.mark.django_db
def test_seed_reset_password_with_a_bad_token_is_refused(api_client, customer):
    response = api_client.post("/auth/reset-password", {"token": "x", "password": "Brand-New-Pass-9"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "reset_token_invalid"
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_seed_forget_password_mails_a_reset_link(api_client, customer, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/auth/forget-password", {"email": customer.email}, format="json")

    assert response.status_code == 202
    assert [message.to for message in mailoutbox] == [[customer.email]]
    assert "token=" in mailoutbox[0].body


@pytest.mark.django_db
def test_seed_send_otp_mails_a_code(api_client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/user/send-otp", {"email": "ravi@example.com"}, format="json")

    assert response.status_code == 202
    assert response.json()["expires_in"] == 300
    assert [message.to for message in mailoutbox] == [["ravi@example.com"]]
    otp = EmailOTP.objects.get(email="ravi@example.com")
    assert otp.sent_at is not None
    assert _mailed_code(mailoutbox[0]) not in otp.code_hash  # only a keyed hash is stored


@pytest.mark.django_db
def test_seed_routes_carry_a_whole_sign_up(api_client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/user/send-otp", {"email": "ravi@example.com"}, format="json")
    verify = api_client.post(
        "/user/verify-otp", {"email": "ravi@example.com", "otp": _mailed_code(mailoutbox[0])}, format="json"
    )
    assert verify.status_code == 200, verify.content
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {verify.json()['token']}")

    signup = api_client.post(
        "/user/signup",
        {"email": "ravi@example.com", "first_name": "Ravi", "last_name": "Kumar", "password": "Quiet-River-77"},
        format="json",
    )

    assert signup.status_code == 201, signup.content
    user = User.objects.get(email="ravi@example.com")
    assert user.check_password("Quiet-River-77")
    assert user.email_verified
    assert signup.json()["user"]["id"] == user.pk


@pytest.mark.django_db
def test_seed_routes_are_not_in_the_openapi_schema(api_client):
    paths = set(api_client.get("/api/schema/?format=json").json()["paths"])

    assert paths
    assert all(path.startswith("/api/v1/") or path in ("/healthz", "/readyz") for path in paths), sorted(paths)
    assert not {"/" + route.seed for route in SEED_ROUTES} & paths
    # The schema writes path parameters as {pk}; the router's optional slash comes out as "/".
    canonical = {re.sub(r"/1(/|$)", r"/{id}\1", _concrete(route)[1]).rstrip("/") for route in SEED_ROUTES}
    assert canonical <= {path.rstrip("/") for path in paths}, sorted(canonical)
