"""Figures of one locust run of the load bench (the locustfile's raw answers) and the tables
``bench/load/run.py`` prints."""

from dataclasses import dataclass, field


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


@dataclass
class Endpoint:
    answers: int = 0
    ok: int = 0  # 2xx
    good: int = 0  # 2xx within the bound
    shed: int = 0  # 503 overloaded, 429
    timeouts: int = 0  # no answer (time-out, connection error)
    other: int = 0  # any other status
    ok_ms: list[float] = field(default_factory=list)


@dataclass
class Figures:
    label: str
    offered: float | None
    users: int
    load: float
    seconds: float
    endpoints: dict[str, Endpoint]

    def _sum(self, name: str) -> int:
        return sum(getattr(endpoint, name) for endpoint in self.endpoints.values())

    @property
    def goodput(self) -> float:
        return self._sum("good") / self.seconds

    @property
    def ok_rate(self) -> float:
        return self._sum("ok") / self.seconds

    @property
    def answered_rate(self) -> float:
        return (self._sum("answers") - self._sum("timeouts")) / self.seconds

    @property
    def shed(self) -> int:
        return self._sum("shed")

    @property
    def errors(self) -> int:
        return self._sum("timeouts") + self._sum("other")

    @property
    def timeouts(self) -> int:
        return self._sum("timeouts")

    def ok_ms(self) -> list[float]:
        return [ms for endpoint in self.endpoints.values() for ms in endpoint.ok_ms]


def figures_of(label: str, raw: dict, *, offered: float | None, users: int, load: float, bound_ms: float) -> Figures:
    window = raw["window"]
    seconds = max(0.001, window["end"] - window["start"])
    endpoints: dict[str, Endpoint] = {}
    for name, answers in sorted(raw["requests"].items()):
        endpoint = endpoints[name] = Endpoint()
        for ms, status, code in answers:
            endpoint.answers += 1
            if 200 <= status < 300:
                endpoint.ok += 1
                endpoint.ok_ms.append(ms)
                endpoint.good += ms <= bound_ms
            elif status == 429 or (status == 503 and code == "overloaded"):
                endpoint.shed += 1
            elif status == 0:
                endpoint.timeouts += 1
            else:
                endpoint.other += 1
    return Figures(label, offered, users, load, seconds, endpoints)


def print_endpoints(title: str, figures: Figures) -> None:
    print(f"\n{title}: {figures.users} users, {figures.seconds:.0f} s measured, load average {figures.load:.1f}")
    print(
        f"{'endpoint':<30}{'req/s':>8}{'ok/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'shed':>7}{'timeouts':>9}{'other':>7}{'error %':>9}"
    )
    rows = [*figures.endpoints.items(), ("all", None)]
    for name, endpoint in rows:
        if endpoint is None:
            ok_ms, answers = figures.ok_ms(), sum(e.answers for e in figures.endpoints.values())
            ok, shed, timeouts = sum(e.ok for e in figures.endpoints.values()), figures.shed, figures.timeouts
            other = figures.errors - timeouts
        else:
            ok_ms, answers, ok = endpoint.ok_ms, endpoint.answers, endpoint.ok
            shed, timeouts, other = endpoint.shed, endpoint.timeouts, endpoint.other
        error_percent = 100 * (timeouts + other) / answers if answers else 0.0
        print(
            f"{name:<30}{answers / figures.seconds:>8.1f}{ok / figures.seconds:>8.1f}"
            f"{percentile(ok_ms, 50):>9.0f}{percentile(ok_ms, 95):>9.0f}{percentile(ok_ms, 99):>9.0f}"
            f"{shed:>7}{timeouts:>9}{other:>7}{error_percent:>8.1f}%"
        )
    print("(percentiles of the 2xx answers; shed = 503 overloaded or 429; error % = time-outs and other statuses)")


def print_summary(
    *,
    bare: Figures,
    steps: list[Figures],
    peak: Figures,
    saturated: list[Figures],
    overloads: list[Figures],
    without: Figures | None,
    bound_ms: float,
) -> None:
    print(f"\nruns (goodput = 2xx within {bound_ms:.0f} ms):")
    print(
        f"{'offered/s':>10}{'answered/s':>12}{'goodput/s':>11}{'p50 ms':>8}{'p99 ms':>8}{'shed':>7}{'errors':>8}{'load':>6}"
    )
    for step in [*steps, *saturated, *overloads, *([without] if without else [])]:
        ok_ms = step.ok_ms()
        print(
            f"{step.offered:>10.0f}{step.answered_rate:>12.1f}{step.goodput:>11.1f}{percentile(ok_ms, 50):>8.0f}"
            f"{percentile(ok_ms, 99):>8.0f}{step.shed:>7}{step.errors:>8}{step.load:>6.1f}  {step.label}"
        )
    ratio = peak.ok_rate / bare.ok_rate if bare.ok_rate else 0.0
    at_saturation = sum(run.goodput for run in saturated) / len(saturated)
    at_overload = sum(run.goodput for run in overloads) / len(overloads)
    kept = at_overload / at_saturation if at_saturation else 0.0
    shed = sum(run.shed for run in overloads)
    timeouts = sum(run.timeouts for run in overloads)
    others = sum(run.errors - run.timeouts for run in overloads)
    print(f"\nbare view (GET /bench/bare): {bare.ok_rate:.0f} req/s, load average {bare.load:.1f}")
    print(f"mix at peak: {peak.ok_rate:.1f} req/s 2xx = {100 * ratio:.1f} % of the bare view")
    print(f"saturating rate (the best step's goodput): {peak.goodput:.1f} req/s")
    print(
        f"at the saturating rate ({saturated[0].offered:.0f}/s offered, {len(saturated)} runs): "
        f"goodput {at_saturation:.1f} req/s on average"
    )
    print(
        f"2x saturation ({overloads[0].offered:.0f}/s offered, {len(overloads)} runs alternated with those): goodput "
        f"{at_overload:.1f} req/s = {100 * kept:.0f} % of the goodput at the saturating rate "
        f"({'met' if kept >= 0.9 else 'MISSED'}: aim >= 90 %), {100 * at_overload / peak.goodput:.0f} % of the best "
        f"step; shed {shed}, time-outs {timeouts}, other errors {others}"
    )
    if without is not None:
        print(
            f"the same without admission control: goodput {without.goodput:.1f} req/s = "
            f"{100 * without.goodput / at_saturation:.0f} % of the goodput at the saturating rate; shed {without.shed}, "
            f"time-outs {without.timeouts}, other errors {without.errors - without.timeouts}"
        )
