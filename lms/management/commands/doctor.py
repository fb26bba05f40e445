"""``manage.py doctor [--json] [--timeout S]``: what is wrong with this deployment, and what to do."""

import json

from django.core.management.base import CommandError

from lms.command import OperatorCommand
from lms.doctor import FAIL, doctor_run


class Command(OperatorCommand):
    help = (
        "Check the settings (DEBUG, SECRET_KEY, ALLOWED_HOSTS, check --deploy), unapplied migrations, the "
        "database, cache and broker, a Celery worker on every queue, the beat schedule and heartbeat, and "
        "the outbox; print one OK / WARN / FAIL line each with what to fix. Exits 1 when anything FAILs. "
        "Read-only: safe to run any time."
    )
    # Its own checks report Django's system checks; one failing must not stop the doctor.
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object: {ok, findings: [...]}.")
        parser.add_argument(
            "--timeout", type=float, default=1.0, help="Seconds to wait for workers to answer (default %(default)s)."
        )

    def handle(self, *args, timeout: float, **options) -> None:
        if not 0 < timeout <= 60:
            raise CommandError("--timeout is between 0 and 60 seconds.")
        findings = doctor_run(timeout=timeout)
        failed = [f for f in findings if f.level == FAIL]
        if options["json"]:
            self.stdout.write(json.dumps({"ok": not failed, "findings": [f.as_dict() for f in findings]}, indent=2))
        else:
            for finding in findings:
                self.stdout.write(finding.line())
        if failed:
            raise CommandError(f"{len(failed)} checks failed (the FAIL lines above say what to fix).", returncode=1)
