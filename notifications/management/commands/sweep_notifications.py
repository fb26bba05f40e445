"""``manage.py sweep_notifications``: what the every-minute beat job does, now (after an outage,
or where beat is not running yet)."""

import json

from lms.command import OperatorCommand
from notifications.services.dispatch import deliveries_sweep


class Command(OperatorCommand):
    help = (
        "Take over deliveries stuck SENDING past their lease, re-dispatch PENDING ones that are due and "
        "restart stalled fan-outs (the beat job deliveries_sweep_task, run once); prints what it did. Safe to "
        "re-run: rows are claimed before they are sent, so nothing goes out twice."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(json.dumps(deliveries_sweep(), default=str, sort_keys=True))
