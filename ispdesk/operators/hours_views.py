"""Area pages: the areas with their members, hours and whether they are open now; each
area's settings, members and weekly working hours.

Views parse, fetch through `access_*`, call the actions and render; a refusal re-renders the
page with the reason beside the field (an overlap names both windows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.lib.calendar import weekday_name
from ispdesk.operators.access import access_area, operators_by_ids
from ispdesk.operators.actions import TeamChangeError
from ispdesk.operators.forms import AreaForm, AreaHoursForm, add_team_error
from ispdesk.operators.hours import AreaOpening, area_openings, closed_until_text
from ispdesk.operators.hours_actions import (
    access_area_hours,
    do_add_area_hours,
    do_delete_area_hours,
    do_save_area_and_members,
)
from ispdesk.operators.models import Area, AreaHours, Operator, Weekday
from ispdesk.operators.views import _render, _status, window_text

HOURS_ANCHOR = "#working-hours"


# What the pages show ---------------------------------------------------------------------------


def hours_summary(rows: Iterable[AreaHours]) -> list[str]:
    """The week in a few lines: consecutive days with the same windows share one line,
    e.g. "Monday to Friday: 08:00 → 12:00, 14:00 → 18:00". No lines = no hours set."""
    by_day: dict[int, list[AreaHours]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row.weekday, row.start)):
        by_day[row.weekday].append(row)
    texts = {
        day: ", ".join(window_text(row.start, row.end) for row in windows)
        for day, windows in by_day.items()
    }
    lines: list[str] = []
    day = 0
    while day < len(Weekday.choices):
        text = texts.get(day)
        last = day
        while text and texts.get(last + 1) == text:
            last += 1
        if text:
            days = weekday_name(day)
            if last != day:
                days = _("%(first)s to %(last)s") % {"first": days, "last": weekday_name(last)}
            lines.append(f"{days}: {text}")
        day = last + 1
    return lines


def opening_badge(opening: AreaOpening, now: datetime) -> str:
    return _("Open now") if opening.open else closed_until_text(opening, now)


@dataclass(frozen=True)
class AreaRow:
    area: Area
    members: list[Operator]
    hours: list[str]
    open_now: bool
    badge: str


def area_rows(now: datetime) -> list[AreaRow]:
    """Every area with its members, hours and opening, in a fixed number of queries."""
    members = Operator.objects.select_related("user")
    areas = list(
        Area.objects.order_by("name").prefetch_related(
            Prefetch("operators", queryset=members),
            Prefetch("hours", queryset=AreaHours.objects.order_by("weekday", "start")),
        )
    )
    openings = area_openings([area.pk for area in areas], now)
    return [
        AreaRow(
            area=area,
            members=sorted(area.operators.all(), key=lambda operator: (operator.name, operator.pk)),
            hours=hours_summary(area.hours.all()),
            open_now=openings[area.pk].open,
            badge=opening_badge(openings[area.pk], now),
        )
        for area in areas
    ]


@dataclass(frozen=True)
class HoursDay:
    weekday: int
    label: str
    windows: list[AreaHours]


def hours_grid(area: Area) -> list[HoursDay]:
    """The week of an area, a row per weekday, its windows in order (each with `.text`)."""
    by_day: dict[int, list[AreaHours]] = defaultdict(list)
    for row in AreaHours.objects.filter(area=area).order_by("weekday", "start"):
        row.text = window_text(row.start, row.end)  # type: ignore[attr-defined]
        by_day[row.weekday].append(row)
    return [HoursDay(day, str(label), by_day[day]) for day, label in Weekday.choices]


def _candidates(area: Area | None) -> Sequence[Operator]:
    """Who may join: active operators of active users, and the current members whatever
    their state (so that saving the form does not silently drop them)."""
    team = Q(active=True, user__is_active=True)
    if area is not None:
        team |= Q(areas=area)
    return list(Operator.objects.select_related("user").filter(team).distinct())


# The areas page ---------------------------------------------------------------------------


def _areas_page(request: AuthenticatedRequest, form: AreaForm) -> HttpResponse:
    context = {"rows": area_rows(timezone.now()), "form": form}
    return _render(request, "operators/areas.html", context, _status(form))


def _save(request: AuthenticatedRequest, form: AreaForm, area: Area) -> Area | None:
    """Save a valid form through the action; None (and the reason on the form) if refused."""
    try:
        changes = form.changes()
        changes["members"] = operators_by_ids(form.cleaned_data["members"], field="members")
        return do_save_area_and_members(request.user, area, changes)
    except TeamChangeError as exc:
        add_team_error(form, exc)
        return None


@admin_required
def areas(request: AuthenticatedRequest) -> HttpResponse:
    """Every area with its members, hours and whether it is open; a POST creates one."""
    form = AreaForm(request.POST or None, prefix="new", operators=_candidates(None))
    if request.method == "POST" and form.is_valid():
        area = _save(request, form, Area())
        if area is not None:
            messages.success(
                request,
                _("Area %(name)s created. Set its members and working hours below.")
                % {"name": area.name},
            )
            return redirect("area_edit", area_id=area.pk)
    return _areas_page(request, form)


# One area ---------------------------------------------------------------------------------


def _area_page(
    request: AuthenticatedRequest,
    area: Area,
    form: AreaForm | None = None,
    hours_form: AreaHoursForm | None = None,
) -> HttpResponse:
    now = timezone.now()
    opening = area_openings([area.pk], now)[area.pk]
    context = {
        "edited": area,
        "form": form or AreaForm(area=area, operators=_candidates(area)),
        "hours_form": hours_form or AreaHoursForm(prefix="hours"),
        "days": hours_grid(area),
        "open_now": opening.open,
        "badge": opening_badge(opening, now),
    }
    return _render(request, "operators/area_form.html", context, _status(form, hours_form))


@admin_required
def area_edit(request: AuthenticatedRequest, area_id: int) -> HttpResponse:
    area = access_area(request.user, area_id)
    if request.method != "POST":
        return _area_page(request, area)
    form = AreaForm(request.POST, area=area, operators=_candidates(area))
    if form.is_valid():
        saved = _save(request, form, area)
        if saved is not None:
            messages.success(request, _("Area %(name)s saved.") % {"name": saved.name})
            return redirect("areas")
    return _area_page(request, area, form=form)


@admin_required
@require_POST
def area_hours_add(request: AuthenticatedRequest, area_id: int) -> HttpResponse:
    """The same window on each chosen weekday; nothing is saved if any would overlap."""
    area = access_area(request.user, area_id)
    form = AreaHoursForm(request.POST, prefix="hours")
    if not form.is_valid():
        return _area_page(request, area, hours_form=form)
    data = form.cleaned_data
    try:
        rows = do_add_area_hours(
            request.user,
            area,
            weekdays=data["weekdays"],
            start=data["start"],
            end=data["end"],
            courtesy_message=data["courtesy_message"],
        )
    except TeamChangeError as exc:
        add_team_error(form, exc, rename={"start": None, "weekday": "weekdays"})
        return _area_page(request, area, hours_form=form)
    messages.success(
        request,
        ngettext(
            "Added %(window)s on %(days)s (%(count)s window).",
            "Added %(window)s on %(days)s (%(count)s windows).",
            len(rows),
        )
        % {
            "window": window_text(data["start"], data["end"]),
            "days": ", ".join(weekday_name(row.weekday) for row in rows),
            "count": len(rows),
        },
    )
    return redirect(reverse("area_edit", args=[area.pk]) + HOURS_ANCHOR)


@admin_required
@require_POST
def area_hours_delete(request: AuthenticatedRequest, hours_id: int) -> HttpResponse:
    row = access_area_hours(request.user, hours_id)
    do_delete_area_hours(request.user, row)
    messages.success(
        request,
        _("Removed %(day)s %(window)s from the working hours of %(area)s.")
        % {
            "day": weekday_name(row.weekday),
            "window": window_text(row.start, row.end),
            "area": row.area.name,
        },
    )
    return redirect(reverse("area_edit", args=[row.area_id]) + HOURS_ANCHOR)
