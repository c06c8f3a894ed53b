"""Periodic job schedules (one row per registered job) and the history of their runs."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ispdesk.jobs.labels import count_label, error_text


class JobSchedule(models.Model):
    name = models.CharField(max_length=100, unique=True)
    interval_seconds = models.PositiveIntegerField()
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True)
    # The lease: which worker runs the job now and until when its claim holds.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=16, blank=True)
    # Set by "run now" so the run is recorded as manual.
    run_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("job schedule")
        verbose_name_plural = _("job schedules")

    def __str__(self) -> str:
        return self.name


class JobRun(models.Model):
    class Outcome(models.TextChoices):
        # Asked for by hand (the API answers with this run's id); a worker will run it.
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        OK = "ok", _("OK")
        ERROR = "error", _("Error")
        SKIPPED = "skipped", _("Skipped")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")

    schedule = models.ForeignKey(JobSchedule, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}"

    @property
    def error_display(self) -> str:
        return error_text(self.error)

    @property
    def count_items(self) -> list[tuple[str, object]]:
        """The counts in the reader's words, in the order the job reported them."""
        return [(count_label(name), value) for name, value in (self.counts or {}).items()]

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
