"""The Celery app: configured from Django settings (``CELERY_*``), tasks autodiscovered.

Queues: ``otp`` (small, urgent auth mail), ``notifications`` (bulk sends), ``default``.
Run one worker per queue in production, e.g. ``celery -A lms worker -Q otp -c 2``.
"""

import os

from celery import Celery

# Its signal receivers: workers and beat keep the structured logging (not Celery's own), and a
# task published while a request is handled carries that request's id in its headers.
import lms.logs  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")

# DjangoTask adds delay_on_commit(): a task enqueued inside a transaction is sent only once
# the transaction commits, so a worker never loads a row that is not there yet.
app = Celery("lms", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
