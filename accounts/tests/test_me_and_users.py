"""The person's own profile (/me) and the administrators' account list (/users/)."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import LoginEvent, Role, User
from accounts.services import session_start
from accounts.tests.factories import UserFactory
from lms.testing import assert_error

ME = "/api/v1/me"
USERS = "/api/v1/users/"

pytestmark = pytest.mark.django_db


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _emails(response) -> list[str]:
    return [row["email"] for row in response.json()["results"]]


# --- /me --------------------------------------------------------------------------------------


def test_me_answers_the_profile(customer_client, customer):
    response = customer_client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == customer.pk
    assert body["email"] == "asha@example.com"
    assert body["role"] == "USER"
    assert body["email_verified"] is True
    assert "password" not in body


def test_me_needs_a_token(api_client):
    response = api_client.get(ME)

    assert_error(response, 401, "not_authenticated")
    assert response.has_header("WWW-Authenticate")


def test_me_refuses_an_expired_access_token(customer):
    token = AccessToken.for_user(customer)
    token.set_exp(lifetime=timedelta(seconds=-1))

    response = _bearer(str(token)).get(ME)

    assert_error(response, 401, "token_not_valid")


def test_me_refuses_a_tampered_access_token(customer, admin_user):
    access = session_start(user=customer).access
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(user_id=str(admin_user.pk), role="ADMIN")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    tampered = _bearer(f"{header}.{forged}.{signature}").get(ME)
    garbage = _bearer("not.a.jwt").get(ME)

    assert_error(tampered, 401, "token_not_valid")
    assert_error(garbage, 401, "token_not_valid")


def test_me_refuses_a_refresh_token_as_bearer(customer):
    response = _bearer(session_start(user=customer).refresh).get(ME)

    assert_error(response, 401, "token_not_valid")


def test_patch_me_changes_the_profile(customer_client, customer):
    changes = {
        "first_name": "Ashwini",
        "last_name": "Rao-Iyer",
        "phone": "+91 98765-43210",
        "city": "Pune",
        "state": "MH",
        "marketing_email": True,
        "marketing_sms": True,
        "marketing_push": False,
    }

    response = customer_client.patch(ME, changes)

    assert response.status_code == 200, response.json()
    assert {key: response.json()[key] for key in changes} == changes
    customer.refresh_from_db()
    assert {key: getattr(customer, key) for key in changes} == changes
    assert customer.email == "asha@example.com"


def test_patch_me_with_one_field_leaves_the_others(customer_client, customer):
    response = customer_client.patch(ME, {"city": "Mysuru"})

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.city, customer.first_name, customer.last_name) == ("Mysuru", "Asha", "Rao")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "evil@example.com"}, "email"),
        ({"role": "ADMIN"}, "role"),
        ({"first_name": "Okay", "role": "ADMIN"}, "role"),
        ({"is_staff": True}, "is_staff"),
        ({"email_verified_at": None}, "email_verified_at"),
    ],
)
def test_patch_me_refuses_fields_that_are_not_the_persons_to_change(customer_client, customer, body, field):
    before = User.objects.filter(pk=customer.pk).values().get()

    response = customer_client.patch(ME, body)

    assert field in assert_error(response, 400, "validation_error")["details"]
    after = User.objects.filter(pk=customer.pk).values().get()
    assert after == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": "call me maybe"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"marketing_sms": "maybe"}, "marketing_sms"),
        ({"marketing_email": [True]}, "marketing_email"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"first_name": None}, "first_name"),
        ({"city": "y" * 65}, "city"),
    ],
)
def test_patch_me_validates_values(customer_client, customer, body, field):
    before = User.objects.filter(pk=customer.pk).values().get()

    response = customer_client.patch(ME, body)

    assert field in assert_error(response, 400, "validation_error")["details"]
    assert User.objects.filter(pk=customer.pk).values().get() == before


def test_patch_me_with_a_non_object_body_is_a_validation_error(customer_client):
    response = customer_client.patch(ME, ["first_name"])

    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("method", ["put", "delete", "post"])
def test_me_does_not_allow_other_methods(customer_client, method):
    response = getattr(customer_client, method)(ME, {})

    assert_error(response, 405, "method_not_allowed")


# --- /users/ list -----------------------------------------------------------------------------


def test_users_list_is_for_admins_only(api_client, customer_client):
    assert_error(customer_client.get(USERS), 403, "permission_denied")
    assert_error(api_client.get(USERS), 401, "not_authenticated")


def test_staff_without_the_admin_role_cannot_list_users(client_for):
    staff = UserFactory(email="staff@example.com", is_staff=True, role=Role.USER, password=None)

    response = client_for(staff).get(USERS)

    assert_error(response, 403, "permission_denied")


def test_admin_lists_users_with_the_page_envelope(admin_client, admin_user, customer):
    response = admin_client.get(USERS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "page", "limit", "pages", "results"}
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (2, 1, 10, 1)
    assert _emails(response) == ["admin@example.com", "asha@example.com"]  # by id
    admin_row = body["results"][0]
    assert admin_row["role"] == "ADMIN"
    assert admin_row["login_count"] == 1  # admin_client signed in once
    assert "password" not in admin_row


@pytest.fixture
def people(db):
    # No passwords: nobody here signs in, and hashing would cost most of the test's time.
    return [
        UserFactory(email="ravi@example.com", first_name="Ravi", last_name="Kumar", country="IN", password=None),
        UserFactory(
            email="lena@example.de",
            first_name="Lena",
            last_name="Schmidt",
            country="DE",
            email_verified_at=None,
            password=None,
        ),
        UserFactory(
            email="boss@example.com", first_name="Meera", last_name="Boss", country="in", role=Role.ADMIN, password=None
        ),
    ]


def test_users_filter_by_role(admin_client, people):
    response = admin_client.get(USERS, {"role": "ADMIN"})

    assert response.status_code == 200
    assert _emails(response) == ["admin@example.com", "boss@example.com"]


def test_users_filter_by_country_ignores_case(admin_client, people):
    response = admin_client.get(USERS, {"country": "in"})

    assert response.status_code == 200
    assert set(_emails(response)) == {"ravi@example.com", "boss@example.com", "admin@example.com"}


def test_users_filter_by_email_verified(admin_client, people):
    verified = admin_client.get(USERS, {"email_verified": "true"})
    unverified = admin_client.get(USERS, {"email_verified": "false"})

    assert "lena@example.de" not in _emails(verified)
    assert "ravi@example.com" in _emails(verified)
    assert _emails(unverified) == ["lena@example.de"]


def test_users_search_matches_email_or_name(admin_client, people):
    by_name = admin_client.get(USERS, {"search": "schmidt"})
    by_email = admin_client.get(USERS, {"search": "RAVI@"})
    nothing = admin_client.get(USERS, {"search": "zzz"})

    assert _emails(by_name) == ["lena@example.de"]
    assert _emails(by_email) == ["ravi@example.com"]
    assert nothing.json()["count"] == 0


def test_users_filter_with_an_unknown_role_is_a_validation_error(admin_client):
    response = admin_client.get(USERS, {"role": "OWNER"})

    assert "role" in assert_error(response, 400, "validation_error")["details"]


def test_users_pagination(admin_client, people):
    response = admin_client.get(USERS, {"page": 2, "limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (4, 2, 2, 2)
    assert _emails(response) == ["lena@example.de", "boss@example.com"]


def test_users_limit_is_clamped_to_100(admin_client):
    response = admin_client.get(USERS, {"limit": 1000})

    assert response.status_code == 200
    assert response.json()["limit"] == 100


@pytest.mark.parametrize("params", [{"page": "abc"}, {"limit": 0}, {"page": -1}, {"limit": "1e3"}])
def test_users_bad_pagination_is_refused(admin_client, params):
    assert_error(admin_client.get(USERS, params), 400, "invalid_pagination")


def test_users_page_past_the_end_is_empty(admin_client, people):
    response = admin_client.get(USERS, {"page": 50, "limit": 10})

    assert response.status_code == 200
    body = response.json()
    assert body["results"] == []
    assert (body["count"], body["page"], body["pages"]) == (4, 50, 1)


def _bulk_users(count: int) -> list[User]:
    users = User.objects.bulk_create(
        [User(email=f"bulk{n}@example.com", first_name=f"Bulk{n}", password="!", country="IN") for n in range(count)]
    )
    now = timezone.now()
    LoginEvent.objects.bulk_create(
        [LoginEvent(user=user, occurred_at=now - timedelta(days=day)) for user in users for day in range(2)]
    )
    return users


def test_users_list_costs_the_same_queries_for_5_and_50_users(admin_client, django_assert_max_num_queries):
    _bulk_users(5)
    with django_assert_max_num_queries(3) as small:
        small_response = admin_client.get(USERS, {"limit": 100})
    assert small_response.json()["count"] == 6

    User.objects.filter(email__startswith="bulk").delete()
    _bulk_users(50)
    with django_assert_max_num_queries(3) as large:
        large_response = admin_client.get(USERS, {"limit": 100})

    assert large_response.json()["count"] == 51
    assert len(large_response.json()["results"]) == 51
    assert {row["login_count"] for row in large_response.json()["results"][1:]} == {2}
    assert len(large.captured_queries) == len(small.captured_queries)


# --- /users/{id}/ -----------------------------------------------------------------------------


def test_admin_retrieves_one_user(admin_client, customer):
    response = admin_client.get(f"{USERS}{customer.pk}/")

    assert response.status_code == 200
    assert response.json()["email"] == customer.email


@pytest.mark.parametrize("user_id", ["999999", "abc"])
def test_unknown_user_is_not_found(admin_client, user_id):
    assert_error(admin_client.get(f"{USERS}{user_id}/"), 404, "not_found")
    assert_error(admin_client.patch(f"{USERS}{user_id}/", {"role": "ADMIN"}), 404, "not_found")


def test_admin_promotes_a_user(admin_client, customer):
    response = admin_client.patch(f"{USERS}{customer.pk}/", {"role": "ADMIN"})

    assert response.status_code == 200, response.json()
    assert response.json()["role"] == "ADMIN"
    customer.refresh_from_db()
    assert customer.role == Role.ADMIN


def test_a_user_cannot_change_roles(customer_client, customer):
    response = customer_client.patch(f"{USERS}{customer.pk}/", {"role": "ADMIN"})

    assert_error(response, 403, "permission_denied")
    customer.refresh_from_db()
    assert customer.role == Role.USER


def test_staff_without_the_admin_role_cannot_change_roles(client_for, customer):
    staff = UserFactory(email="staff@example.com", is_staff=True, role=Role.USER, password=None)

    response = client_for(staff).patch(f"{USERS}{customer.pk}/", {"role": "ADMIN"})

    assert_error(response, 403, "permission_denied")
    customer.refresh_from_db()
    assert customer.role == Role.USER


def test_invalid_role_is_refused(admin_client, customer):
    response = admin_client.patch(f"{USERS}{customer.pk}/", {"role": "OWNER"})

    assert "role" in assert_error(response, 400, "validation_error")["details"]
    customer.refresh_from_db()
    assert customer.role == Role.USER


@pytest.mark.parametrize("body", [{"role": "USER"}, {"is_active": False}])
def test_an_admin_cannot_demote_or_deactivate_themself(admin_client, admin_user, body):
    response = admin_client.patch(f"{USERS}{admin_user.pk}/", body)

    assert_error(response, 409, "self_demotion")
    admin_user.refresh_from_db()
    assert (admin_user.role, admin_user.is_active) == (Role.ADMIN, True)


def test_a_superuser_keeps_role_admin(client_for):
    root = User.objects.create_superuser("root@example.com", "Root-Password-1")
    other_root = User.objects.create_superuser("root2@example.com", "Root-Password-2")

    response = client_for(other_root).patch(f"{USERS}{root.pk}/", {"role": "USER"})

    assert_error(response, 409, "superuser_is_admin")
    root.refresh_from_db()
    assert root.role == Role.ADMIN


def test_an_admin_who_is_not_superuser_cannot_touch_a_superuser(admin_client):
    root = User.objects.create_superuser("root@example.com", "Root-Password-1")

    for change in ({"is_active": False}, {"role": "ADMIN"}):
        assert_error(admin_client.patch(f"{USERS}{root.pk}/", change), 403, "superuser_protected")

    root.refresh_from_db()
    assert root.is_active


def test_admin_update_refuses_fields_it_does_not_know(admin_client, customer):
    response = admin_client.patch(f"{USERS}{customer.pk}/", {"is_staff": True})

    body = assert_error(response, 400, "validation_error")
    assert "is_staff" in body["details"]
    customer.refresh_from_db()
    assert not customer.is_staff


def test_deactivating_a_user_ends_their_sessions(admin_client, api_client, customer):
    sessions = [session_start(user=customer) for _ in range(2)]

    response = admin_client.patch(f"{USERS}{customer.pk}/", {"is_active": False})

    assert response.status_code == 200, response.json()
    assert response.json()["is_active"] is False
    customer.refresh_from_db()
    assert customer.is_active is False
    assert BlacklistedToken.objects.filter(token__user=customer).count() == 2
    for session in sessions:
        assert_error(
            api_client.post("/api/v1/auth/token/refresh", {"refresh": session.refresh}), 401, "token_not_valid"
        )
    assert _bearer(sessions[0].access).get(ME).status_code == 401


@pytest.mark.parametrize(
    "method, path",
    [
        ("put", "{users}{id}/"),
        ("delete", "{users}{id}/"),
        ("post", "{users}"),
    ],
)
def test_users_routes_do_not_allow_other_methods(admin_client, customer, method, path):
    response = getattr(admin_client, method)(path.format(users=USERS, id=customer.pk), {"role": "ADMIN"})

    assert_error(response, 405, "method_not_allowed")
    assert User.objects.filter(pk=customer.pk, role=Role.USER).exists()
