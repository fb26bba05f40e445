"""``manage.py createsuperuser`` for an email-login User, the role invariant, the console."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import EmailOTP, LoginEvent, Role, User
from accounts.services import session_start
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_env(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.COM")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Console-Root-2024")


def test_createsuperuser_from_the_environment(superuser_env):
    call_command("createsuperuser", interactive=False, verbosity=0)

    user = User.objects.get()
    assert user.email == "root@example.com"
    assert (user.is_superuser, user.is_staff, user.is_active, user.role) == (True, True, True, Role.ADMIN)
    assert user.has_usable_password()
    assert user.check_password("Console-Root-2024")
    assert user.email_verified


def test_createsuperuser_refuses_an_address_taken_in_another_case(superuser_env):
    UserFactory(email="root@example.com", password=None)

    with pytest.raises(CommandError):
        call_command("createsuperuser", interactive=False, verbosity=0)

    assert User.objects.filter(is_superuser=True).count() == 0


def test_database_forbids_a_superuser_with_role_user():
    root = User.objects.create_superuser("root@example.com", "Console-Root-2024")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=root.pk).update(role=Role.USER)

    root.refresh_from_db()
    assert root.role == Role.ADMIN


def test_superuser_flag_brings_role_admin_through_the_model():
    user = UserFactory(email="promoted@example.com", password=None)
    user.is_superuser = True
    user.full_clean(exclude=["password"])
    user.save()

    user.refresh_from_db()
    assert user.role == Role.ADMIN


# --- The console ------------------------------------------------------------------------------


@pytest.fixture
def asha(db):
    user = UserFactory(email="asha@example.com", first_name="Asha", last_name="Rao", password=None)
    LoginEvent.objects.create(user=user, ip="203.0.113.9")
    EmailOTP.objects.create(
        email="asha@example.com", code_hash="0" * 64, expires_at=timezone.now() + timedelta(minutes=5)
    )
    return user


def test_console_pages_open_for_a_superuser(console, asha):
    event = LoginEvent.objects.get(user=asha)
    otp = EmailOTP.objects.get()
    pages = [
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{asha.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/accounts/loginevent/",
        f"/admin/accounts/loginevent/{event.pk}/change/",
        "/admin/accounts/emailotp/",
        f"/admin/accounts/emailotp/{otp.pk}/change/",
    ]

    statuses = {page: console.get(page).status_code for page in pages}

    assert statuses == dict.fromkeys(pages, 200)


def test_user_change_page_links_the_login_events(console, asha):
    response = console.get(f"/admin/accounts/user/{asha.pk}/change/")

    assert f"/admin/accounts/loginevent/?user__id__exact={asha.pk}" in response.content.decode()
    assert "1 sign-ins" in response.content.decode()


def test_otp_page_never_shows_the_code_hash(console, asha):
    response = console.get(f"/admin/accounts/emailotp/{EmailOTP.objects.get().pk}/change/")

    assert "0" * 64 not in response.content.decode()


def test_console_needs_a_login(client):
    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_console_user_list_search_and_filter(console, asha):
    UserFactory(email="boss@example.com", first_name="Meera", role=Role.ADMIN, password=None)

    searched = console.get("/admin/accounts/user/", {"q": "asha"})
    # Staff and ADMIN accounts are not customers: they are on the System section's Staff list.
    filtered = console.get("/admin/console/staffuser/", {"role__exact": "ADMIN"})

    assert searched.status_code == filtered.status_code == 200
    assert [user.email for user in searched.context["cl"].result_list] == ["asha@example.com"]
    assert {user.email for user in filtered.context["cl"].result_list} == {"boss@example.com", "root@example.com"}


def test_console_user_list_queries_are_bounded(console, django_assert_max_num_queries):
    User.objects.bulk_create(
        [User(email=f"bulk{n}@example.com", first_name=f"Bulk{n}", password="!", country="IN") for n in range(30)]
    )

    with django_assert_max_num_queries(6):
        response = console.get("/admin/accounts/user/")

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 30  # the customers; root is on the Staff list


def test_console_adds_a_user_with_a_normalised_address_once(console):
    form = {"usable_password": "true", "password1": "Quite-Strong-Pass-9", "password2": "Quite-Strong-Pass-9"}

    created = console.post("/admin/accounts/user/add/", {"email": "New.Person@Example.COM", **form})
    duplicate = console.post("/admin/accounts/user/add/", {"email": "new.person@example.com", **form})

    assert created.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert (user.role, user.is_superuser, user.is_staff) == (Role.USER, False, False)
    assert user.check_password("Quite-Strong-Pass-9")
    assert duplicate.status_code == 200
    assert "email" in duplicate.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="new.person@example.com").count() == 1


def _change_form(user: User, **changes) -> dict:
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": "",
        "country": user.country,
        "state": "",
        "city": "",
        "email_verified_at_0": "",
        "email_verified_at_1": "",
        "role": user.role,
        "is_active": "on",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("changes", "ends"),
    [({"role": Role.ADMIN}, True), ({"is_staff": "on"}, True), ({"first_name": "Asha R"}, False)],
    ids=["role", "staff", "name-only"],
)
def test_a_console_change_of_access_ends_the_accounts_sessions(console, asha, api_client, changes, ends):
    session = session_start(user=User.objects.get(pk=asha.pk))

    saved = console.post(f"/admin/accounts/user/{asha.pk}/change/", _change_form(asha, **changes))

    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access}")
    assert api_client.get("/api/v1/me").status_code == (401 if ends else 200)


def test_a_password_changed_outside_the_api_ends_every_session(asha, api_client):
    session = session_start(user=User.objects.get(pk=asha.pk))

    changed = User.objects.get(pk=asha.pk)
    changed.set_password("Changed-In-Console-8")
    changed.save()

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access}")
    assert api_client.get("/api/v1/me").status_code == 401
    api_client.credentials()
    assert api_client.post("/api/v1/auth/token/refresh", {"refresh": session.refresh}).status_code == 401
