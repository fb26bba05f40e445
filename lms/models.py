"""The transactional outbox: background work as rows written in the caller's transaction."""

from django.db import models
from django.utils import timezone


class OutboxTask(models.Model):
    """A Celery task to publish once the transaction that wrote it commits.

    A row lives only until its task is on the broker: the on-commit dispatch (or the beat
    sweeper, when the broker was down) publishes it and deletes the row in one transaction,
    so task arguments (an OTP code) never outlast their delivery to the broker.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The sweeper leaves a row alone until then: a grace for the on-commit dispatch, then backoff.
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The request that wrote the row ("" for none): a task the sweeper publishes later still
    # logs under it.
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["available_at"], name="lms_outbox_available_idx")]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"
