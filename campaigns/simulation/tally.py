"""What a replay counts as it goes, and the result it answers (JSON values, stored on the run)."""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from campaigns.engine.schedule import local
from campaigns.engine.types import Campaign

ZERO = Decimal("0.00")


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"


@dataclass
class Day:
    orders: int = 0
    qualifying: int = 0
    cost: Decimal = ZERO
    points: int = 0


@dataclass
class Tally:
    """Per-day figures on the campaign's own clock, the customers reached, and why orders were refused."""

    clock: Campaign  # its timezone names the days
    since: dt.datetime
    until: dt.datetime
    days: dict[dt.date, Day] = field(default_factory=lambda: defaultdict(Day))
    customers: set[int] = field(default_factory=set)
    refused: Counter = field(default_factory=Counter)
    budget_out_on: dt.date | None = None

    def day(self, at: dt.datetime) -> Day:
        return self.days[local(at, self.clock).date()]

    def order(self, at: dt.datetime) -> Day:
        day = self.day(at)
        day.orders += 1
        return day

    def qualified(self, day: Day, customer_id: int, *, cost: Decimal = ZERO, points: int = 0) -> None:
        day.qualifying += 1
        day.cost += cost
        day.points += points
        self.customers.add(customer_id)

    def refuse(self, reason: str, at: dt.datetime) -> None:
        self.refused[reason] += 1
        if reason == "budget_exhausted" and self.budget_out_on is None:
            self.budget_out_on = local(at, self.clock).date()

    def result(self, **extra: Any) -> dict[str, Any]:
        """The figures as stored and answered: totals, the qualifying share, one row per day."""
        first, last = local(self.since, self.clock).date(), local(self.until, self.clock).date()
        rows, running = [], ZERO
        day = first
        while day <= last:
            figures = self.days.get(day, Day())
            running += figures.cost
            rows.append(
                {
                    "day": day.isoformat(),
                    "orders": figures.orders,
                    "qualifying_orders": figures.qualifying,
                    "cost": money(figures.cost),
                    "cumulative_cost": money(running),
                    "points": figures.points,
                }
            )
            day += dt.timedelta(days=1)
        orders = sum(d.orders for d in self.days.values())
        qualifying = sum(d.qualifying for d in self.days.values())
        share = Decimal(qualifying * 100) / orders if orders else ZERO
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": self.clock.timezone,
            "orders": orders,
            "qualifying_orders": qualifying,
            "qualifying_share": f"{share.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):.1f}",
            "affected_customers": len(self.customers),
            "refused": dict(sorted(self.refused.items())),
            "budget_runs_out_on": self.budget_out_on.isoformat() if self.budget_out_on else None,
            "daily": rows,
            **extra,
        }
