"""``manage.py doctor``: is this deployment able to work? One finding per thing checked, each
OK, WARN or FAIL with what to do about it.

Each check returns its findings and never raises: a check that cannot even run (the database
is down) is itself a FAIL, and the others still run.
"""

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import checks as django_checks
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Min
from django.utils import timezone

from lms.celery import app as celery_app
from lms.health import _check_broker, _check_cache, _check_database
from lms.heartbeat import beat_heartbeat_at
from lms.models import OutboxTask
from lms.retention import retention_check

OK, WARN, FAIL = "OK", "WARN", "FAIL"
# The outbox sweep runs every minute; a few missed runs mean beat (or the default worker) is down.
BEAT_STALE = timedelta(minutes=5)
# The on-commit dispatch publishes within milliseconds, the sweeper within a minute or two.
OUTBOX_STALE = timedelta(minutes=10)
OUTBOX_MANY_ATTEMPTS = 5


@dataclass(frozen=True)
class Finding:
    check: str
    level: str
    message: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.level:<4}  {self.check:<10}  {self.message}" + (f" -> {self.fix}" if self.fix else "")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _ago(at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


def settings_findings(**_) -> Iterator[Finding]:
    if settings.DEBUG:
        yield Finding("settings", WARN, "DEBUG is on", "set DEBUG=false in production (development only)")
    else:
        yield Finding("settings", OK, "DEBUG is off")
    if not settings.SECRET_KEY:
        yield Finding("settings", FAIL, "SECRET_KEY is empty", "set SECRET_KEY to a long random value")
    elif settings.SECRET_KEY == getattr(settings, "DEV_SECRET_KEY", None):
        level = WARN if settings.DEBUG else FAIL
        yield Finding("settings", level, "SECRET_KEY is the public development key", "set SECRET_KEY")
    else:
        yield Finding("settings", OK, "SECRET_KEY is set")
    hosts = list(settings.ALLOWED_HOSTS)
    if not hosts or "*" in hosts:
        level = WARN if settings.DEBUG else FAIL
        yield Finding("settings", level, f"ALLOWED_HOSTS is {hosts or 'empty'}", "list the site's host names")
    else:
        yield Finding("settings", OK, f"ALLOWED_HOSTS: {', '.join(hosts)}")
    for problem in retention_check():
        yield Finding("settings", FAIL, problem, "fix the RETENTION_*_DAYS setting")
    messages = django_checks.run_checks(include_deployment_checks=True)
    errors = [m for m in messages if m.is_serious() and not m.is_silenced()]
    warnings = [m for m in messages if not m.is_serious() and not m.is_silenced()]
    ids = ", ".join(sorted({m.id for m in errors + warnings if m.id}))
    if errors:
        yield Finding("settings", FAIL, f"check --deploy: {len(errors)} errors, {len(warnings)} warnings ({ids})",
                      "run manage.py check --deploy for each one's hint")  # fmt: skip
    elif warnings:
        yield Finding("settings", WARN, f"check --deploy: {len(warnings)} warnings ({ids})",
                      "run manage.py check --deploy for each one's hint")  # fmt: skip
    else:
        yield Finding("settings", OK, "check --deploy: no issues")


def migrations_findings(**_) -> Iterator[Finding]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:10]) + (" ..." if len(plan) > 10 else "")
        yield Finding("migrations", FAIL, f"{len(plan)} unapplied: {names}", "run manage.py migrate")
    else:
        yield Finding("migrations", OK, "every migration is applied")


def services_findings(**_) -> Iterator[Finding]:
    for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
        try:
            answer = check() or "ok"
        except Exception as exc:  # the failure is the finding
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            yield Finding("services", FAIL, f"{name} unreachable: {reason}", f"check the {name}'s URL and that it runs")
            continue
        if answer == "eager":
            yield Finding(
                "services", WARN, f"{name}: none (tasks run in-process)", "set CELERY_BROKER_URL in production"
            )
        else:
            yield Finding("services", OK, f"{name} reachable")


def _eager() -> bool:
    return bool(celery_app.conf.task_always_eager)


def workers_findings(*, timeout: float, **_) -> Iterator[Finding]:
    if _eager():
        yield Finding(
            "workers", WARN, "no workers: tasks run in-process (eager)", "set CELERY_BROKER_URL in production"
        )
        return
    queues = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    answers = celery_app.control.inspect(timeout=timeout).active_queues() or {}
    consumers = {queue: sorted(w for w, qs in answers.items() if queue in {q["name"] for q in qs}) for queue in queues}
    for queue, workers in consumers.items():
        if workers:
            yield Finding("workers", OK, f"queue {queue}: {', '.join(workers)}")
        else:
            yield Finding("workers", FAIL, f"queue {queue}: no worker answered within {timeout:g} s",
                          f"start one: celery -A lms worker -Q {queue}")  # fmt: skip


def beat_findings(*, now: datetime, **_) -> Iterator[Finding]:
    celery_app.loader.import_default_modules()
    unknown = sorted(
        f"{name} ({entry['task']})"
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in celery_app.tasks
    )
    if unknown:
        yield Finding("beat", FAIL, f"schedule entries name no registered task: {', '.join(unknown)}",
                      "fix the task path in CELERY_BEAT_SCHEDULE")  # fmt: skip
    else:
        yield Finding("beat", OK, f"{len(settings.CELERY_BEAT_SCHEDULE)} schedule entries name registered tasks")
    if _eager():
        return  # no beat without a broker
    beat = beat_heartbeat_at()
    if beat is None:
        yield Finding("beat", FAIL, "no heartbeat: the every-minute outbox sweep has not run for a day or ever",
                      "start beat (celery -A lms beat) and a default-queue worker")  # fmt: skip
    elif now - beat > BEAT_STALE:
        yield Finding("beat", FAIL, f"last heartbeat {_ago(beat, now)} ago",
                      "beat or the default-queue worker stopped: restart it")  # fmt: skip
    else:
        yield Finding("beat", OK, f"last heartbeat {_ago(beat, now)} ago")


def outbox_findings(*, now: datetime, **_) -> Iterator[Finding]:
    summary = OutboxTask.objects.aggregate(oldest=Min("created_at"))
    waiting = OutboxTask.objects.count()
    if not waiting:
        yield Finding("outbox", OK, "no task waiting to be published")
        return
    oldest = summary["oldest"]
    line = f"{waiting} tasks waiting, the oldest for {_ago(oldest, now)}"
    if now - oldest > OUTBOX_STALE:
        yield Finding("outbox", FAIL, line, "is the broker up and beat's outbox sweep running? (see above)")
    else:
        yield Finding("outbox", OK, line)
    failing = OutboxTask.objects.filter(attempts__gte=OUTBOX_MANY_ATTEMPTS)
    count = failing.count()
    if count:
        tasks = ", ".join(sorted(set(failing.values_list("task", flat=True)[:20])))
        yield Finding("outbox", FAIL, f"{count} tasks failed {OUTBOX_MANY_ATTEMPTS}+ publish attempts ({tasks})",
                      "read their last_error in the console (Outbox tasks)")  # fmt: skip


CHECKS: dict[str, Callable[..., Iterator[Finding]]] = {
    "settings": settings_findings,
    "migrations": migrations_findings,
    "services": services_findings,
    "workers": workers_findings,
    "beat": beat_findings,
    "outbox": outbox_findings,
}


def doctor_run(*, timeout: float = 1.0, now: datetime | None = None) -> list[Finding]:
    now = now or timezone.now()
    findings: list[Finding] = []
    for name, check in CHECKS.items():
        try:
            findings.extend(check(timeout=timeout, now=now))
        except Exception as exc:  # a check that cannot run is a finding, and the others still run
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            findings.append(
                Finding(name, FAIL, f"could not check: {reason}", "fix the services FAIL lines, then run doctor again")
            )
    return findings
