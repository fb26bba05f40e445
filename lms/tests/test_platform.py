"""The API platform: pagination, the OpenAPI docs, settings, Celery, permissions."""

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from lms.api.csv import csv_response
from lms.api.permissions import IsAdminOrModelPermission
from lms.celery import app as celery_app

USERS = "/api/v1/users/"
LOCAL_HOSTS = {"testserver", "127.0.0.1", "localhost"}


# --- Pagination ------------------------------------------------------------------------------


@pytest.fixture
def twenty_five_users(admin_user):
    # 24 customers plus the admin; bulk_create skips password hashing (no one signs in here).
    User.objects.bulk_create([User(email=f"bulk{n:02d}@example.com", role=Role.USER) for n in range(24)])
    return list(User.objects.order_by("id").values_list("id", flat=True))


@pytest.mark.django_db
def test_list_answers_count_page_limit_pages_results_with_defaults(admin_client, twenty_five_users):
    response = admin_client.get(USERS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "page", "limit", "pages", "results"}
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (25, 1, 10, 3)
    assert [user["id"] for user in body["results"]] == twenty_five_users[:10]


@pytest.mark.django_db
def test_list_pages_through_every_row_once(admin_client, twenty_five_users):
    seen = []
    for page in (1, 2, 3):
        body = admin_client.get(f"{USERS}?page={page}&limit=10").json()
        assert body["page"] == page
        seen += [user["id"] for user in body["results"]]

    assert seen == twenty_five_users


@pytest.mark.django_db
def test_page_past_the_end_is_empty_not_an_error(admin_client, twenty_five_users):
    response = admin_client.get(f"{USERS}?page=4")

    assert response.status_code == 200
    assert response.json() == {"count": 25, "page": 4, "limit": 10, "pages": 3, "results": []}


@pytest.mark.django_db
def test_limit_above_100_is_clamped_to_100(admin_client, twenty_five_users):
    response = admin_client.get(f"{USERS}?limit=1000")

    assert response.status_code == 200
    body = response.json()
    assert (body["limit"], body["pages"], len(body["results"])) == (100, 1, 25)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, param",
    [("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"),
     ("limit=0", "limit"), ("limit=-5", "limit"), ("limit=ten", "limit")],
)  # fmt: skip
def test_bad_page_or_limit_is_invalid_pagination(admin_client, query, param):
    response = admin_client.get(f"{USERS}?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_pagination"
    assert body["message"].startswith(f"{param} must be a positive integer")
    assert body["details"] == {"param": param}


# /healthz and /readyz: lms/tests/test_health.py.


# --- OpenAPI and its pages ----------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_is_served_as_yaml_and_json_and_lists_signin(api_client):
    as_yaml = api_client.get("/api/schema/")
    as_json = api_client.get("/api/schema/?format=json")

    assert as_yaml.status_code == 200
    assert as_json.status_code == 200
    yaml_paths = yaml.safe_load(as_yaml.content)["paths"]
    json_paths = json.loads(as_json.content)["paths"]
    assert "/api/v1/auth/signin" in yaml_paths
    assert set(yaml_paths) == set(json_paths)
    assert "post" in json_paths["/api/v1/auth/signin"]


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "/api/v1/auth/signin" in yaml.safe_load(target.read_text())["paths"]


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url", "data", "action", "poster") and value:
                self.links.append(value)


def _links_and_urls(html: str) -> tuple[list[str], list[str]]:
    collector = _LinkCollector()
    collector.feed(html)
    inline_urls = re.findall(r"""(?:https?:)?//[^\s"'<>()`]+""", html)
    return collector.links, inline_urls


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/", "/api/redoc/"])
def test_docs_pages_load_nothing_from_outside_hosts(api_client, page):
    response = api_client.get(page)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    links, inline_urls = _links_and_urls(response.content.decode())
    outside = [
        url for url in links + inline_urls
        if url.startswith(("http://", "https://", "//")) and urlsplit(url).hostname not in LOCAL_HOSTS
    ]  # fmt: skip
    assert outside == []


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/", "/api/redoc/"])
def test_docs_pages_static_assets_exist_and_are_served(api_client, page):
    links, _ = _links_and_urls(api_client.get(page).content.decode())
    static_prefix = "/" + django_settings.STATIC_URL.lstrip("/")
    assets = [urlsplit(link).path for link in links if urlsplit(link).path.startswith(static_prefix)]

    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert finders.find(asset[len(static_prefix) :]), f"{asset} is not in any static folder"
        served = api_client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content if served.streaming else [served.content])
        served.close()


@pytest.mark.django_db
def test_redoc_asks_for_no_web_font_and_shows_the_favicon(api_client):
    html = api_client.get("/api/redoc/").content.decode()

    assert "Montserrat" not in html and "fonts.g" not in html
    assert "system-ui" in html
    assert 'rel="icon" href="/static/lms/favicon.ico"' in html


# --- Routes -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/no-such-route", "/api/v1/me/extra/", "/api/nothing", "/api/v2/"])
def test_an_unknown_api_route_answers_the_error_shape_even_with_debug_on(api_client, path, settings):
    settings.DEBUG = True  # Django's own 404 page would be HTML with a URL list

    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "message": f"No route matches {path}.", "details": {}}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/me/"])
def test_me_answers_with_and_without_the_trailing_slash(customer_client, path):
    response = customer_client.get(path)

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "asha@example.com"


@pytest.mark.django_db
def test_a_post_to_the_other_spelling_of_a_route_is_served_in_place_not_redirected(api_client, customer):
    customer.set_password("a-long-passphrase-9")
    customer.save()

    response = api_client.post("/api/v1/auth/signin/", {"email": customer.email, "password": "a-long-passphrase-9"})

    assert response.status_code == 200, response.content
    assert "access" in response.json()


@pytest.mark.django_db
def test_the_other_spelling_still_refuses_what_the_route_refuses(api_client):
    assert api_client.patch("/api/v1/me/", {"first_name": "X"}).status_code == 401
    assert api_client.get("/api/v1/auth/signin/").status_code == 405


@pytest.mark.django_db
def test_the_root_redirects_to_the_console(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.django_db
def test_the_favicon_is_an_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert "max-age" in response["Cache-Control"]


def test_a_csv_answer_says_it_is_utf8():
    response = csv_response(("name",), [("Zoë",)], filename="names.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="names.csv"'
    assert b"".join(response.streaming_content).decode() == "name\r\nZoë\r\n"


# --- Celery -------------------------------------------------------------------------------------


def test_celery_acknowledges_late_and_prefetches_one():
    conf = celery_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_celery_has_otp_notifications_and_default_queues():
    conf = celery_app.conf

    assert {queue.name for queue in conf.task_queues} == {"otp", "notifications", "default"}
    assert conf.task_default_queue == "default"


@pytest.mark.parametrize(
    "task_name, queue",
    [
        ("accounts.tasks.otp_email_send_task", "otp"),
        ("accounts.tasks.password_reset_email_send_task", "otp"),
        ("notifications.tasks.delivery_send_task", "notifications"),
        ("segments.tasks.segment_refresh_task", "default"),
    ],
)
def test_tasks_are_routed_to_their_queue(task_name, queue):
    route = celery_app.amqp.router.route({}, task_name)

    assert route["queue"].name == queue


def test_otp_mail_task_is_published_to_the_otp_queue_only():
    # A real publish to the test broker (Redis): the message lands in the otp list and
    # nowhere else, so a worker on -Q otp picks it up and no other worker ever sees it.
    from accounts.tasks import otp_email_send_task

    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    queues = ("otp", "notifications", "default")
    broker.delete(*queues)
    celery_app.conf.task_always_eager = False  # the autouse fixture turns it back on
    try:
        otp_email_send_task.delay(0, "000000")
        lengths = {queue: broker.llen(queue) for queue in queues}
        message = json.loads(broker.lindex("otp", 0))
    finally:
        broker.delete(*queues)
        broker.close()

    assert lengths == {"otp": 1, "notifications": 0, "default": 0}
    assert message["headers"]["task"] == "accounts.tasks.otp_email_send_task"


# --- IsAdminOrModelPermission -----------------------------------------------------------------


class _UserAdminView(generics.GenericAPIView):
    queryset = User.objects.all()
    permission_classes = [IsAdminOrModelPermission]
    throttle_classes: list = []

    def get(self, request):
        return Response({"count": self.get_queryset().count()})

    def patch(self, request):
        return Response({"changed": True})


def _call(method: str, user: User | None):
    factory = APIRequestFactory()
    request = getattr(factory, method)("/probe", {}, format="json") if method != "get" else factory.get("/probe")
    if user is not None:
        force_authenticate(request, user=User.objects.get(pk=user.pk))  # fresh: no stale permission cache
    return _UserAdminView.as_view()(request)


def _grant(user: User, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames))


@pytest.mark.django_db
def test_admin_role_passes_every_method_without_model_permissions():
    admin = UserFactory(role=Role.ADMIN, is_staff=False)

    assert _call("get", admin).status_code == 200
    assert _call("patch", admin).status_code == 200


@pytest.mark.django_db
def test_staff_user_with_view_permission_may_read_but_not_change():
    marketer = UserFactory(role=Role.USER, is_staff=True)
    _grant(marketer, "view_user")

    read = _call("get", marketer)
    change = _call("patch", marketer)

    assert read.status_code == 200
    assert read.data == {"count": 1}
    assert change.status_code == 403
    assert change.data["code"] == "permission_denied"


@pytest.mark.django_db
def test_staff_user_with_change_permission_may_change():
    marketer = UserFactory(role=Role.USER, is_staff=True)
    _grant(marketer, "view_user", "change_user")

    assert _call("patch", marketer).status_code == 200


@pytest.mark.django_db
def test_non_staff_user_is_refused_even_with_the_model_permission():
    customer = UserFactory(role=Role.USER, is_staff=False)
    _grant(customer, "view_user", "change_user")

    response = _call("get", customer)

    assert response.status_code == 403
    assert response.data["code"] == "permission_denied"


@pytest.mark.django_db
def test_staff_user_without_permissions_and_inactive_admin_are_refused():
    bare_staff = UserFactory(role=Role.USER, is_staff=True)
    inactive_admin = UserFactory(role=Role.ADMIN, is_staff=True, is_active=False)

    assert _call("get", bare_staff).status_code == 403
    assert _call("get", inactive_admin).status_code == 403


@pytest.mark.django_db
def test_anonymous_caller_is_not_authenticated():
    response = _call("get", None)

    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"
