"""Notifications' scrape-time metric, registered into lms's scrape collectors from ``ready()``."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from notifications.selectors import deliveries_in_flight


def deliveries() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "lms_notification_deliveries_in_flight",
        "Notification deliveries not yet settled, by status (PENDING: waiting or retrying; SENDING: being sent).",
        labels=["status"],
    )
    for status, count in deliveries_in_flight().items():
        family.add_metric([status], count)
    yield family
