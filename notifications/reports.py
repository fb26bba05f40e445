"""Message delivery figures for the console's dashboard: one grouped query per panel."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from notifications.models import DELIVERED, Channel, Delivery, DeliveryStatus


@dataclass(frozen=True)
class Rates:
    channel: str
    deliveries: int  # written for a recipient (skipped ones too)
    delivered: int
    failed: int
    read: int
    clicked: int

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def delivery_rate(self) -> float | None:
        """Delivered out of those that were sent or failed (skipped and pending left out)."""
        return self._share(self.delivered, self.delivered + self.failed)

    @property
    def read_rate(self) -> float | None:
        return self._share(self.read, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return self._share(self.clicked, self.delivered)


def _label(channel: str) -> str:
    return Channel(channel).label if channel in Channel.values else channel


def delivery_rates(*, since: dt.datetime, until: dt.datetime) -> list[Rates]:
    """Per channel, then "All": deliveries created in [since, until) and what became of them."""
    rows = (
        Delivery.objects.filter(created_at__gte=since, created_at__lt=until)
        .order_by()
        .values("channel")
        .annotate(
            n=Count("id"),
            delivered=Count("id", filter=Q(status__in=DELIVERED)),
            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            read=Count("id", filter=Q(read_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        )
        .order_by("channel")
    )
    rates = [Rates(_label(r["channel"]), r["n"], r["delivered"], r["failed"], r["read"], r["clicked"]) for r in rows]
    if rates:
        sums = [
            sum(getattr(r, name) for r in rates) for name in ("deliveries", "delivered", "failed", "read", "clicked")
        ]
        rates.append(Rates("All", *sums))
    return rates
