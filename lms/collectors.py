"""The platform's scrape-time metrics (registered in :data:`lms.metrics.scrape_collectors`).

Read when Prometheus scrapes, from the broker and the database: they describe the whole
deployment, so any process may answer them and none has to keep them up to date.
"""

import logging
from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from lms.celery import app as celery_app
from lms.selectors import outbox_backlog

logger = logging.getLogger(__name__)


def _queue_names() -> list[str]:
    return [queue.name for queue in celery_app.conf.task_queues or ()] or [celery_app.conf.task_default_queue]


def _queue_depths(names: list[str]) -> dict[str, int]:
    with celery_app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel = conn.default_channel
        # kombu's own count: on Redis a queue is one list per priority step ("otp", then
        # "otp\x06\x163", ...) under the transport's key prefix, and it sums them.
        return {name: channel.queue_declare(queue=name).message_count for name in names}


def celery_queues() -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "lms_celery_queue_depth", "Tasks waiting on the broker for a worker, per queue.", labels=["queue"]
    )
    up = GaugeMetricFamily("lms_celery_broker_up", "1 when the scrape could read the broker's queues, else 0.")
    names = _queue_names()
    if celery_app.conf.broker_url.startswith("memory"):
        depths = dict.fromkeys(names, 0)  # the embedded default: tasks run in-process, nothing waits
    else:
        try:
            depths = _queue_depths(names)
        except Exception:  # an unreachable broker is a value of the metric, not a failed scrape
            logger.warning("metrics: the broker's queues could not be read", exc_info=True)
            depths = None
    for name, count in (depths or {}).items():
        depth.add_metric([name], count)
    up.add_metric([], 0 if depths is None else 1)
    yield depth
    yield up


def outbox() -> Iterator[Metric]:
    waiting, oldest = outbox_backlog()
    yield GaugeMetricFamily(
        "lms_outbox_tasks_waiting", "Background tasks written to the outbox and not yet on the broker.", value=waiting
    )
    age = max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
    yield GaugeMetricFamily(
        "lms_outbox_oldest_task_age_seconds",
        "Age of the oldest task waiting in the outbox (0 when none waits).",
        value=age,
    )
