"""/metrics: off by default, the token guard, request counts and latency by route template,
Celery queue depth read from a real Redis broker, the outbox backlog, deliveries in flight.

Counters live in the test process for the whole run, so every assertion is on a difference
between two scrapes.
"""

import re
from datetime import timedelta

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from lms.celery import app as celery_app
from lms.metrics import LATENCY_BUCKETS, route_label
from lms.models import OutboxTask
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus
from notifications.tests.factories import PROMO, CustomerFactory

Samples = dict[tuple[str, frozenset], float]


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = ""


def scrape(client, **headers: str) -> Samples:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_of(samples: Samples, route: str, method: str = "GET", status: str = "200") -> float:
    return value(samples, "lms_http_requests_total", route=route, method=method, status=status)


# --- the door --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_off_by_default_and_answer_404_in_the_error_shape(api_client, settings):
    assert settings.METRICS_ENABLED is False

    response = api_client.get("/metrics")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_while_off_requests_are_not_counted(api_client, settings, metrics_on):
    before = scrape(api_client)
    settings.METRICS_ENABLED = False
    api_client.get("/healthz")
    settings.METRICS_ENABLED = True

    assert requests_of(scrape(api_client), "healthz") == requests_of(before, "healthz")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer ", "not_authenticated"),
        ("Basic s3cret-scrape-token", "not_authenticated"),
        ("Bearer wrong-token", "authentication_failed"),
        ("Bearer s3cret-scrape-tokenX", "authentication_failed"),
    ],
)
def test_with_a_token_a_scrape_without_it_is_401_in_the_error_shape(api_client, metrics_on, settings, header, code):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}

    response = api_client.get("/metrics", **headers)

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "lms_" not in response.content.decode()


@pytest.mark.django_db
def test_with_the_right_token_the_scrape_answers(api_client, metrics_on, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    samples = scrape(api_client, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")

    assert value(samples, "lms_celery_broker_up") == 1


@pytest.mark.django_db
def test_another_method_is_405_in_the_error_shape(api_client, metrics_on):
    response = api_client.post("/metrics", {}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_a_scraper_asking_for_openmetrics_gets_it(api_client, metrics_on):
    response = api_client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


# --- requests by route -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "label"),
    [
        ("api/v1/campaigns/(?P<pk>[^/.]+)/?$", "api/v1/campaigns/<pk>"),
        ("api/v1/redemptions/(?P<order_id>[^/\\x00]+)/void/?$", "api/v1/redemptions/<order_id>/void"),
        ("api/v1/cart/evaluate/?$", "api/v1/cart/evaluate"),
        ("api/v1/campaigns/<int:pk>/", "api/v1/campaigns/<int:pk>"),
        ("api/v1/x/(?P<code>(?:[A-Z]{2})(?:-\\d+)?)/?$", "api/v1/x/<code>"),
        ("admin/campaigns/campaign/([^/]+)/history/([^/]+)/$", "admin/campaigns/campaign/<arg>/history/<arg>"),
        ("campaigns/discount\\-coupon/active/?$", "campaigns/discount-coupon/active"),
        ("^api/(?P<rest>.*)$", "api/<rest>"),
        ("healthz", "healthz"),
        ("", "/"),
    ],
)
def test_route_labels_are_the_url_templates(route, label):
    assert route_label(route) == label


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        # Joined as ResolverMatch.route joins them: a child's leading "^" dropped.
        route = prefix + str(pattern.pattern).removeprefix("^") if prefix else str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def test_every_route_of_the_urlconf_has_a_label_without_regex_syntax():
    labels = {route_label(route) for route in _routes(get_resolver().url_patterns)}

    assert len(labels) > 100
    assert not [label for label in labels if re.search(r"[()\[\]?*+\\^$|]", label)]


@pytest.mark.django_db
def test_requests_are_counted_by_route_template_method_and_status(api_client, metrics_on):
    before = scrape(api_client)

    api_client.get("/api/v1/campaigns/5/")
    api_client.get("/api/v1/campaigns/77")  # the other spelling of the slash: the same route
    api_client.get("/healthz")
    api_client.get("/api/v1/no-such-thing/123")
    api_client.get("/wp-login.php")
    api_client.generic("BREW", "/healthz")
    after = scrape(api_client)

    assert (
        requests_of(after, "api/v1/campaigns/<pk>", status="401")
        - requests_of(before, "api/v1/campaigns/<pk>", status="401")
        == 2
    )
    assert requests_of(after, "healthz") - requests_of(before, "healthz") == 1
    assert requests_of(after, "<unmatched>", status="404") - requests_of(before, "<unmatched>", status="404") == 2
    assert requests_of(after, "healthz", "other", "405") - requests_of(before, "healthz", "other", "405") == 1
    routes = {dict(labels)["route"] for name, labels in after if name == "lms_http_requests_total"}
    assert not {route for route in routes if any(raw in route for raw in ("5", "77", "123", "wp-login"))}


@pytest.mark.django_db
def test_latency_is_a_histogram_by_route_and_method_with_api_buckets(api_client, metrics_on):
    before = scrape(api_client)

    for _ in range(3):
        api_client.get("/readyz")
    after = scrape(api_client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, route="readyz", method="GET", **labels) - value(
            before, name, route="readyz", method="GET", **labels
        )

    buckets = sorted(
        float(dict(labels)["le"])
        for name, labels in after
        if name == "lms_http_request_duration_seconds_bucket" and dict(labels)["route"] == "readyz"
    )
    assert buckets == [*LATENCY_BUCKETS, float("inf")]
    assert delta("lms_http_request_duration_seconds_count") == 3
    assert delta("lms_http_request_duration_seconds_bucket", le="+Inf") == 3
    assert delta("lms_http_request_duration_seconds_bucket", le="10.0") == 3  # a local readiness check is fast
    assert 0 < delta("lms_http_request_duration_seconds_sum") < 30


# --- scrape-time gauges ----------------------------------------------------------------------


@pytest.fixture
def real_broker(settings):
    assert celery_app.conf.broker_url.startswith("redis://"), "the test run's broker is Redis"
    celery_app.conf.task_always_eager = False  # conftest's autouse fixture restores it
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.mark.django_db
def test_queue_depth_is_read_from_the_redis_broker_priority_lists_included(api_client, metrics_on, real_broker):
    before = scrape(api_client)
    assert value(before, "lms_celery_queue_depth", queue="otp") == 0

    # No worker consumes these: they wait on the broker. A priority lands in another list.
    celery_app.send_task("accounts.tasks.otp_email_send_task", args=["a@example.com", "000000"], queue="otp")
    celery_app.send_task(
        "accounts.tasks.otp_email_send_task", args=["b@example.com", "000000"], queue="otp", priority=6
    )
    celery_app.send_task("lms.tasks.outbox_sweep_task", queue="default")
    after = scrape(api_client)

    assert value(after, "lms_celery_broker_up") == 1
    assert value(after, "lms_celery_queue_depth", queue="otp") == 2
    assert value(after, "lms_celery_queue_depth", queue="default") == 1
    assert ("lms_celery_queue_depth", frozenset({"queue": "notifications"}.items())) in after


@pytest.mark.django_db
def test_an_unreachable_broker_is_a_gauge_not_a_failed_scrape(api_client, metrics_on, monkeypatch):
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens on port 1

    samples = scrape(api_client)

    assert value(samples, "lms_celery_broker_up") == 0
    assert not [key for key in samples if key[0] == "lms_celery_queue_depth"]
    assert value(samples, "lms_metrics_collector_up", collector="celery") == 1
    assert value(samples, "lms_metrics_collector_up", collector="outbox") == 1


@pytest.mark.django_db
def test_the_embedded_memory_broker_has_nothing_waiting(api_client, metrics_on, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setattr(celery_app.conf, "broker_url", "memory://")

    samples = scrape(api_client)

    assert value(samples, "lms_celery_broker_up") == 1
    assert {dict(labels)["queue"]: v for (name, labels), v in samples.items() if name == "lms_celery_queue_depth"} == {
        "otp": 0,
        "notifications": 0,
        "default": 0,
    }


def _outbox_rows(now, ages_in_seconds):
    OutboxTask.objects.bulk_create(
        OutboxTask(task="lms.tasks.outbox_sweep_task", created_at=now - timedelta(seconds=age))
        for age in ages_in_seconds
    )


def _deliveries(statuses):
    people = [CustomerFactory() for _ in statuses]
    message = Message.objects.create(
        key=f"promo:{len(statuses)}", source_type="promotion", title=PROMO.title, body=PROMO.body,
        channels=[Channel.SMS], audience={"kind": "customers", "ids": [p.pk for p in people]},
        status=MessageStatus.DONE,
    )  # fmt: skip
    Delivery.objects.bulk_create(
        Delivery(message=message, recipient=person, channel=Channel.SMS, status=status)
        for person, status in zip(people, statuses, strict=True)
    )


@pytest.mark.django_db
def test_outbox_backlog_counts_the_waiting_rows_and_the_age_of_the_oldest(api_client, metrics_on):
    empty = scrape(api_client)
    _outbox_rows(timezone.now(), [120, 10, 5])
    waiting = scrape(api_client)

    assert value(empty, "lms_outbox_tasks_waiting") == 0
    assert value(empty, "lms_outbox_oldest_task_age_seconds") == 0
    assert value(waiting, "lms_outbox_tasks_waiting") == 3
    assert 120 <= value(waiting, "lms_outbox_oldest_task_age_seconds") < 180


@pytest.mark.django_db
def test_deliveries_in_flight_are_counted_by_status(api_client, metrics_on):
    _deliveries([DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT])

    samples = scrape(api_client)

    assert value(samples, "lms_notification_deliveries_in_flight", status="PENDING") == 2
    assert value(samples, "lms_notification_deliveries_in_flight", status="SENDING") == 1
    assert value(samples, "lms_notification_deliveries_in_flight", status="SENT") == 0


@pytest.mark.django_db
def test_a_scrape_costs_the_same_queries_however_much_is_waiting(api_client, metrics_on, django_assert_max_num_queries):
    # One aggregate for the outbox, one for deliveries in flight.
    with django_assert_max_num_queries(2):
        scrape(api_client)
    _outbox_rows(timezone.now(), range(50))
    _deliveries([DeliveryStatus.PENDING] * 20 + [DeliveryStatus.SENDING] * 5)

    with django_assert_max_num_queries(2):
        samples = scrape(api_client)

    assert value(samples, "lms_outbox_tasks_waiting") == 50
    assert value(samples, "lms_notification_deliveries_in_flight", status="PENDING") == 20
