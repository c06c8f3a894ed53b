"""The jobs page (admins): schedules, their recent runs, run now, interval and on/off."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.jobs.actions import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    JobScheduleError,
    do_request_run,
    do_update_schedule,
)
from ispdesk.jobs.api import access_schedule
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import JobDefinition, registered_jobs
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.lib.htmx import render_page_or_fragment

RUNS_SHOWN = 10

UNITS = [
    (86400, gettext_lazy("days")),
    (3600, gettext_lazy("hours")),
    (60, gettext_lazy("minutes")),
    (1, gettext_lazy("seconds")),
]


def format_seconds(seconds: float) -> str:
    """A duration in words a person reads at a glance: "45 s", "5 min", "1 h 30 min", "2 d"."""
    if seconds < 10:
        return _("%(s)s s") % {"s": f"{seconds:.2f}".rstrip("0").rstrip(".") or "0"}
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        (days, _("%(n)s d")),
        (hours, _("%(n)s h")),
        (minutes, _("%(n)s min")),
        (secs, _("%(n)s s")),
    ]
    shown = [template % {"n": amount} for amount, template in parts if amount]
    return " ".join(shown[:2])


class IntervalForm(forms.Form):
    value = forms.IntegerField(label=gettext_lazy("Every"), min_value=1)
    unit = forms.TypedChoiceField(label=gettext_lazy("Unit"), choices=UNITS, coerce=int, initial=60)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "value" in cleaned and "unit" in cleaned:
            seconds = cleaned["value"] * cleaned["unit"]
            if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
                raise forms.ValidationError(
                    _("Choose an interval between %(min)s and %(max)s.")
                    % {
                        "min": format_seconds(MIN_INTERVAL_SECONDS),
                        "max": format_seconds(MAX_INTERVAL_SECONDS),
                    }
                )
            cleaned["seconds"] = seconds
        return cleaned

    @classmethod
    def for_schedule(cls, schedule: JobSchedule) -> IntervalForm:
        """Show the interval in the largest unit that divides it exactly."""
        for size, _label in UNITS:
            if schedule.interval_seconds % size == 0:
                break
        return cls(
            initial={"value": schedule.interval_seconds // size, "unit": size},
            prefix=schedule.name,
        )


@dataclass
class JobCard:
    schedule: JobSchedule
    definition: JobDefinition
    runs: list[JobRun]
    interval_form: IntervalForm

    @property
    def interval(self) -> str:
        return format_seconds(self.schedule.interval_seconds)

    @property
    def running(self) -> bool:
        return bool(self.schedule.lease_owner)


def _recent_runs(schedule_ids: list[int]) -> dict[int, list[JobRun]]:
    """The last runs of every job in one query (a window per job)."""
    ranked = JobRun.objects.filter(schedule_id__in=schedule_ids).annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("schedule_id")],
            order_by=[F("started_at").desc(), F("id").desc()],
        )
    )
    runs: dict[int, list[JobRun]] = defaultdict(list)
    for run in ranked.filter(rank__lte=RUNS_SHOWN).order_by("schedule_id", "rank"):
        runs[run.schedule_id].append(run)
    return runs


def job_cards(bound: dict[str, IntervalForm] | None = None) -> list[JobCard]:
    ensure_schedules()
    definitions = registered_jobs()
    schedules = list(JobSchedule.objects.filter(name__in=definitions).order_by("name"))
    runs = _recent_runs([schedule.pk for schedule in schedules])
    bound = bound or {}
    return [
        JobCard(
            schedule=schedule,
            definition=definitions[schedule.name],
            runs=runs.get(schedule.pk, []),
            interval_form=bound.get(schedule.name) or IntervalForm.for_schedule(schedule),
        )
        for schedule in schedules
    ]


def _render(request: HttpRequest, cards: list[JobCard], status: int = 200) -> HttpResponse:
    context = {
        "jobs": cards,
        "min_interval": MIN_INTERVAL_SECONDS,
        "max_interval": MAX_INTERVAL_SECONDS,
    }
    return render_page_or_fragment(
        request, "jobs/jobs.html", "jobs/_activity_oob.html", context, status=status
    )


@admin_required
def jobs(request: AuthenticatedRequest) -> HttpResponse:
    """The page; for HTMX requests only each job's status and runs (refetched on events)."""
    return _render(request, job_cards())


@admin_required
@require_POST
def job_run(request: AuthenticatedRequest, name: str) -> HttpResponse:
    schedule = access_schedule(name)
    do_request_run(request.user, schedule)
    messages.success(request, _("%(job)s will run within seconds.") % {"job": schedule.name})
    # Back to the page the button was on (the pipeline overview has one), if it is ours.
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("jobs")


@admin_required
@require_POST
def job_update(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """Change the interval (fields `<name>-value`, `<name>-unit`) or switch on/off (`enabled`)."""
    schedule = access_schedule(name)
    interval_seconds = None
    enabled = None
    form = IntervalForm(request.POST, prefix=schedule.name)
    if "enabled" in request.POST:
        enabled = request.POST["enabled"] in ("1", "true", "on")
    elif form.is_valid():
        interval_seconds = form.cleaned_data["seconds"]
    else:
        return _render(request, job_cards({schedule.name: form}), status=422)
    try:
        updated = do_update_schedule(
            request.user, schedule, interval_seconds=interval_seconds, enabled=enabled
        )
    except JobScheduleError as exc:
        form.add_error(None, exc.message)
        return _render(request, job_cards({schedule.name: form}), status=422)
    if enabled is None:
        message = _("%(job)s now runs every %(interval)s.") % {
            "job": updated.name,
            "interval": format_seconds(updated.interval_seconds),
        }
    elif updated.enabled:
        message = _("%(job)s is enabled.") % {"job": updated.name}
    else:
        message = _("%(job)s is disabled: it will not run until enabled.") % {"job": updated.name}
    messages.success(request, message)
    return redirect("jobs")
