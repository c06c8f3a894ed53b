"""Team pages: the operators (supervisors watch and pause them; admins configure them), each
operator's weekly schedule, on-duty cover, areas, shift tags and calendar exceptions.

Views parse, fetch through `access.py`, call the actions and render. Every change is a POST
that redirects back with a message; a refusal re-renders the page with the reason beside
the field. The operators list refetches itself on `operator:update` events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.forms import BoundField
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required, supervisor_required
from ispdesk.accounts.models import User
from ispdesk.lib.calendar import is_available, weekday_name
from ispdesk.lib.htmx import render_page_or_fragment
from ispdesk.lib.phones import format_phone
from ispdesk.operators.access import (
    access_calendar_exception,
    access_operator,
    access_operator_to_pause,
    access_schedule,
    access_shift_tag,
    areas_by_ids,
    operators_by_ids,
    user_by_id,
)
from ispdesk.operators.actions import (
    PauseChange,
    TeamChangeError,
    do_add_calendar_exception,
    do_add_schedule,
    do_delete_calendar_exception,
    do_delete_schedule,
    do_replace_schedules,
    do_save_operator,
    do_save_shift_tag,
    do_set_on_duty,
    do_set_pause,
)
from ispdesk.operators.calendars import business_calendar, holiday_names, windows_by_operator
from ispdesk.operators.forms import (
    CalendarExceptionForm,
    OnDutyForm,
    OperatorForm,
    PauseForm,
    ScheduleAddForm,
    ScheduleCopyForm,
    ShiftTagForm,
    add_team_error,
    day_key,
)
from ispdesk.operators.models import (
    Area,
    CalendarException,
    OnDuty,
    Operator,
    Schedule,
    ScheduleKind,
    ShiftTag,
    Weekday,
)
from ispdesk.operators.schemas import FIRST_YEAR, LAST_YEAR

ON_DUTY_PERIOD_DAYS = 56  # eight weeks
TEAM_CONTEXT = {"team_page": True}  # marks "Team" as the current section in the navigation


def _render(
    request: AuthenticatedRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {**TEAM_CONTEXT, **context}, status=status)


def _status(*forms: Any) -> int:
    return 422 if any(form is not None and form.errors for form in forms) else 200


# Operators ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorRow:
    operator: Operator
    whatsapp: str  # readable, e.g. "+54 9 11 5555-0001"
    on_schedule: bool  # the assignment schedule covers now
    open_tickets: int


def _team() -> Any:
    return Operator.objects.select_related("user").prefetch_related(
        Prefetch("areas", queryset=Area.objects.order_by("name")),
        Prefetch("shift_tags", queryset=ShiftTag.objects.filter(active=True).order_by("tag")),
    )


def open_work_counts(ids: list[int]) -> dict[int, int]:
    """Open tickets per operator, through the reverse relation the tickets app adds
    (this app may not import tickets: dependencies point one way)."""
    rows = (
        Operator.objects.filter(pk__in=ids)
        .annotate(open_tickets=Count("tickets", filter=~Q(tickets__status="closed")))
        .values_list("pk", "open_tickets")
    )
    return dict(rows)


def operator_rows(now: datetime) -> list[OperatorRow]:
    """Every operator with their state now, in a fixed number of queries."""
    operators = list(_team())
    ids = [operator.pk for operator in operators]
    calendar = business_calendar(now)
    windows = windows_by_operator(ids, ScheduleKind.ASSIGNMENT)
    loads = open_work_counts(ids)
    rows = [
        OperatorRow(
            operator=operator,
            whatsapp=format_phone(operator.whatsapp) if operator.whatsapp else "",
            on_schedule=is_available(windows.get(operator.pk, []), calendar, now),
            open_tickets=loads.get(operator.pk, 0),
        )
        for operator in operators
    ]
    # Who may work first; the rest (inactive, or users who cannot log in) at the end.
    return sorted(rows, key=lambda row: not (row.operator.active and row.operator.user.is_active))


@supervisor_required
def operators(request: AuthenticatedRequest) -> HttpResponse:
    """The team with its state; for HTMX requests only the list (refetched on events)."""
    context = {**TEAM_CONTEXT, "rows": operator_rows(timezone.now())}
    return render_page_or_fragment(
        request, "operators/operators.html", "operators/_operator_list.html", context
    )


PAUSE_MESSAGES = {
    ("full", True): gettext_lazy("%(name)s is paused: no new work and no notifications."),
    ("full", False): gettext_lazy("%(name)s is back: gets new work and notifications again."),
    ("assignment", True): gettext_lazy("%(name)s keeps current work but gets no new work."),
    ("assignment", False): gettext_lazy("%(name)s gets new work again."),
    ("notifications", True): gettext_lazy("WhatsApp notifications to %(name)s are off."),
    ("notifications", False): gettext_lazy("WhatsApp notifications to %(name)s are on."),
}


@supervisor_required
@require_POST
def operator_pause(request: AuthenticatedRequest, operator_id: int) -> HttpResponse:
    operator = access_operator_to_pause(request.user, operator_id)
    form = PauseForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Unknown pause mode."))
    mode, paused = form.cleaned_data["mode"], form.cleaned_data["paused"]
    operator = do_set_pause(request.user, operator, PauseChange(mode, paused))
    messages.success(request, str(PAUSE_MESSAGES[mode, paused]) % {"name": operator.name})
    return redirect("operators")


def _operator_form(request: AuthenticatedRequest, operator: Operator | None) -> OperatorForm:
    free_users: Iterable[User] = ()
    if operator is None:
        free_users = User.objects.filter(operator__isnull=True, is_active=True).order_by(
            "first_name", "last_name", "username"
        )
    return OperatorForm(
        request.POST or None,
        operator=operator,
        free_users=free_users,
        areas=Area.objects.order_by("name"),
    )


def _save_operator(
    request: AuthenticatedRequest, form: OperatorForm, operator: Operator | None
) -> Operator | None:
    """Save a valid form through the action; None (and the reason on the form) if refused."""
    try:
        changes = form.changes()
        changes["areas"] = areas_by_ids(form.cleaned_data["areas"])
        if operator is None:
            operator = Operator(user=user_by_id(form.cleaned_data["user"]))
        return do_save_operator(request.user, operator, changes)
    except TeamChangeError as exc:
        add_team_error(form, exc, rename={"user_id": "user"})
        return None


@admin_required
def operator_create(request: AuthenticatedRequest) -> HttpResponse:
    form = _operator_form(request, None)
    if request.method == "POST" and form.is_valid():
        saved = _save_operator(request, form, None)
        if saved is not None:
            messages.success(
                request,
                _("%(name)s is now an operator. Set their weekly schedule below.")
                % {"name": saved.name},
            )
            return redirect("operator_schedule", operator_id=saved.pk)
    return _render(request, "operators/operator_form.html", {"form": form}, _status(form))


@admin_required
def operator_edit(request: AuthenticatedRequest, operator_id: int) -> HttpResponse:
    operator = access_operator(request.user, operator_id)
    form = _operator_form(request, operator)
    if request.method == "POST" and form.is_valid():
        saved = _save_operator(request, form, operator)
        if saved is not None:
            messages.success(request, _("%(name)s saved.") % {"name": saved.name})
            return redirect("operators")
    context = {"form": form, "edited": operator}
    return _render(request, "operators/operator_form.html", context, _status(form))


# The weekly schedule --------------------------------------------------------------------------


def window_text(start: time, end: time) -> str:
    """ "08:00 → 16:00"; a window ending the next day gets "(+1)"."""
    text = f"{start:%H:%M} → {end:%H:%M}"
    return f"{text} (+1)" if end <= start else text


@dataclass(frozen=True)
class WindowCell:
    kind: str
    kind_label: str
    windows: list[Schedule]


@dataclass(frozen=True)
class WeekdayRow:
    weekday: int
    label: str
    cells: list[WindowCell]


@dataclass(frozen=True)
class KindColumn:
    kind: str
    label: str
    hours: str  # a week's total, e.g. "40 h" or "37 h 30 min"


def _hours(windows: Iterable[Schedule]) -> str:
    minutes = 0
    for row in windows:
        start, end = row.as_window().minutes()
        minutes += end - start  # start == end counts as the whole day
    hours, rest = divmod(minutes, 60)
    if rest:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}
    return _("%(h)s h") % {"h": hours}


def schedule_grid(operator: Operator) -> tuple[list[KindColumn], list[WeekdayRow]]:
    by_kind_day: dict[tuple[str, int], list[Schedule]] = defaultdict(list)
    by_kind: dict[str, list[Schedule]] = defaultdict(list)
    for row in Schedule.objects.filter(operator=operator).order_by("weekday", "start"):
        row.text = window_text(row.start, row.end)  # type: ignore[attr-defined]
        by_kind_day[row.kind, row.weekday].append(row)
        by_kind[row.kind].append(row)
    columns = [
        KindColumn(kind, str(label), _hours(by_kind[kind])) for kind, label in ScheduleKind.choices
    ]
    rows = [
        WeekdayRow(
            weekday,
            str(label),
            [WindowCell(c.kind, c.label, by_kind_day[c.kind, weekday]) for c in columns],
        )
        for weekday, label in Weekday.choices
    ]
    return columns, rows


def _schedule_page(
    request: AuthenticatedRequest,
    operator: Operator,
    add_form: ScheduleAddForm | None = None,
    copy_form: ScheduleCopyForm | None = None,
) -> HttpResponse:
    columns, rows = schedule_grid(operator)
    context = {
        "operator": operator,
        "columns": columns,
        "rows": rows,
        "add_form": add_form or ScheduleAddForm(prefix="add"),
        "copy_form": copy_form or ScheduleCopyForm(prefix="copy"),
    }
    return _render(request, "operators/schedule.html", context, _status(add_form, copy_form))


@admin_required
def operator_schedule(request: AuthenticatedRequest, operator_id: int) -> HttpResponse:
    """The week as a grid of the three kinds; a POST adds one window on several days."""
    operator = access_operator(request.user, operator_id)
    if request.method != "POST":
        return _schedule_page(request, operator)
    form = ScheduleAddForm(request.POST, prefix="add")
    if not form.is_valid():
        return _schedule_page(request, operator, add_form=form)
    kinds, weekdays = form.cleaned_data["kinds"], form.cleaned_data["weekdays"]
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    labels = dict(ScheduleKind.choices)
    current = kinds[0]
    try:
        # One window per kind and day; a refusal of any undoes them all.
        with transaction.atomic():
            for kind in kinds:
                current = kind
                for weekday in weekdays:
                    do_add_schedule(
                        request.user, operator, kind=kind, weekday=weekday, start=start, end=end
                    )
    except TeamChangeError as exc:
        message = exc.message
        if len(kinds) > 1:
            message = f"{labels[current]}: {message}"
        add_team_error(form, exc, rename={"start": None, "weekday": "weekdays"}, message=message)
        return _schedule_page(request, operator, add_form=form)
    count = len(kinds) * len(weekdays)
    messages.success(
        request,
        ngettext(
            "Added %(window)s on %(days)s (%(count)s window).",
            "Added %(window)s on %(days)s (%(count)s windows).",
            count,
        )
        % {
            "window": window_text(start, end),
            "days": ", ".join(weekday_name(day) for day in sorted(weekdays)),
            "count": count,
        },
    )
    return redirect("operator_schedule", operator_id=operator.pk)


@admin_required
@require_POST
def operator_schedule_copy(request: AuthenticatedRequest, operator_id: int) -> HttpResponse:
    """Make the assignment and/or alert schedules the same as the work schedule."""
    operator = access_operator(request.user, operator_id)
    form = ScheduleCopyForm(request.POST, prefix="copy")
    if not form.is_valid():
        return _schedule_page(request, operator, copy_form=form)
    work = [
        row.as_window()
        for row in Schedule.objects.filter(operator=operator, kind=ScheduleKind.WORK)
    ]
    if not work:
        form.add_error(None, _("There are no work hours to copy yet."))
        return _schedule_page(request, operator, copy_form=form)
    targets = form.cleaned_data["targets"]
    with transaction.atomic():
        for kind in targets:
            do_replace_schedules(request.user, operator, kind=kind, windows=work)
    labels = dict(ScheduleKind.choices)
    messages.success(
        request,
        _("Work hours copied to: %(kinds)s.")
        % {"kinds": ", ".join(str(labels[kind]) for kind in targets)},
    )
    return redirect("operator_schedule", operator_id=operator.pk)


@admin_required
@require_POST
def schedule_delete(request: AuthenticatedRequest, schedule_id: int) -> HttpResponse:
    schedule = access_schedule(request.user, schedule_id)
    do_delete_schedule(request.user, schedule)
    messages.success(
        request,
        _("Removed %(day)s %(window)s from the %(kind)s schedule.")
        % {
            "day": weekday_name(schedule.weekday),
            "window": window_text(schedule.start, schedule.end),
            "kind": schedule.get_kind_display().lower(),
        },
    )
    return redirect("operator_schedule", operator_id=schedule.operator_id)


# On-duty cover --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DutyDay:
    day: date
    holiday: str | None
    day_off: bool  # a weekend day or a holiday; other days are shown only when covered
    field: BoundField
    was: BoundField
    covered: bool
    week_starts: bool  # the first day shown of its week


def period_start(raw: str | None) -> date:
    """The first day of the period asked for (`?from=YYYY-MM-DD`); today when absent or bad."""
    day = None
    try:
        day = parse_date(raw) if raw else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR - 1:
        return timezone.localdate()
    return day


def _cover(first: date, last: date) -> dict[date, list[int]]:
    cover: dict[date, list[int]] = defaultdict(list)
    for day, operator_id in OnDuty.objects.filter(day__range=(first, last)).values_list(
        "day", "operator_id"
    ):
        cover[day].append(operator_id)
    return cover


def _on_duty_page(request: AuthenticatedRequest, start: date) -> HttpResponse:
    last = start + timedelta(days=ON_DUTY_PERIOD_DAYS - 1)
    holidays = holiday_names(range(start.year, last.year + 1))
    cover = _cover(start, last)
    days = [
        day
        for day in (start + timedelta(days=offset) for offset in range(ON_DUTY_PERIOD_DAYS))
        if day.weekday() >= 5 or day in holidays or day in cover
    ]
    covering = {pk for ids in cover.values() for pk in ids}
    team = list(
        Operator.objects.select_related("user").filter(
            Q(active=True, user__is_active=True) | Q(pk__in=covering)
        )
    )
    initial: dict[str, Any] = {
        f"was-{day_key(day)}": OnDutyForm.encode(cover.get(day, [])) for day in days
    }
    initial |= {f"d-{day_key(day)}": cover.get(day, []) for day in days}
    form = OnDutyForm(request.POST or None, days=days, operators=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = form.changed_days()
        try:
            with transaction.atomic():
                for day, ids in changed.items():
                    force = not (day.weekday() >= 5 or day in holidays)
                    do_set_on_duty(request.user, day, operators_by_ids(ids), force=force)
        except TeamChangeError as exc:
            form.add_error(None, exc.message)
        else:
            if changed:
                message = ngettext(
                    "On-duty cover saved for %(count)s day.",
                    "On-duty cover saved for %(count)s days.",
                    len(changed),
                ) % {"count": len(changed)}
            else:
                message = _("Nothing changed.")
            messages.success(request, message)
            return redirect(f"{reverse('on_duty')}?from={start.isoformat()}")
    rows = []
    previous_week = None
    for day in days:
        key = day_key(day)
        week = day.isocalendar()[:2]
        rows.append(
            DutyDay(
                day=day,
                holiday=holidays.get(day),
                day_off=day.weekday() >= 5 or day in holidays,
                field=form[f"d-{key}"],
                was=form[f"was-{key}"],
                covered=bool(cover.get(day)),
                week_starts=week != previous_week,
            )
        )
        previous_week = week
    context = {
        "form": form,
        "rows": rows,
        "team": team,
        "start": start,
        "last": last,
        "today": timezone.localdate(),
        "previous": start - timedelta(days=ON_DUTY_PERIOD_DAYS),
        "next": start + timedelta(days=ON_DUTY_PERIOD_DAYS),
        "uncovered": sum(1 for row in rows if row.day_off and not row.covered),
    }
    return _render(request, "operators/on_duty.html", context, _status(form))


@admin_required
def on_duty(request: AuthenticatedRequest) -> HttpResponse:
    """The next eight weeks' weekend days and holidays with who covers each."""
    raw = request.POST.get("from") if request.method == "POST" else request.GET.get("from")
    return _on_duty_page(request, period_start(raw))


# Shift tags and calendar exceptions ----------------------------------------------------------


@dataclass(frozen=True)
class TagCard:
    tag: ShiftTag | None
    form: ShiftTagForm


NEW_TAG_PREFIX = "newtag"


def _tag_prefix(tag: ShiftTag) -> str:
    return f"tag{tag.pk}"


def _rules_page(
    request: AuthenticatedRequest,
    bound_tag: TagCard | None = None,
    exception_form: CalendarExceptionForm | None = None,
) -> HttpResponse:
    tags = list(
        ShiftTag.objects.prefetch_related(
            Prefetch("operators", queryset=Operator.objects.select_related("user"))
        )
    )
    members = {pk for tag in tags for pk in (operator.pk for operator in tag.operators.all())}
    team = list(
        Operator.objects.select_related("user").filter(
            Q(active=True, user__is_active=True) | Q(pk__in=members)
        )
    )
    cards = []
    for tag in tags:
        if bound_tag is not None and bound_tag.tag is not None and bound_tag.tag.pk == tag.pk:
            cards.append(bound_tag)
            continue
        initial = {
            "tag": tag.tag,
            "name": tag.name,
            "active": tag.active,
            "operators": [operator.pk for operator in tag.operators.all()],
        }
        form = ShiftTagForm(prefix=_tag_prefix(tag), operators=team, initial=initial)
        cards.append(TagCard(tag, form))
    new_tag = bound_tag if bound_tag is not None and bound_tag.tag is None else None
    new_tag = new_tag or TagCard(None, ShiftTagForm(prefix=NEW_TAG_PREFIX, operators=team))
    today = timezone.localdate()
    context = {
        "tag_cards": cards,
        "new_tag": new_tag,
        "exceptions": CalendarException.objects.filter(day__gte=today).order_by("day", "start"),
        "past_exceptions": CalendarException.objects.filter(day__lt=today).count(),
        "exception_form": exception_form or CalendarExceptionForm(prefix="exception"),
    }
    status = _status(exception_form, bound_tag.form if bound_tag else None)
    return _render(request, "operators/rules.html", context, status)


@admin_required
def team_rules(request: AuthenticatedRequest) -> HttpResponse:
    return _rules_page(request)


def _save_tag(request: AuthenticatedRequest, tag: ShiftTag | None) -> HttpResponse:
    prefix = NEW_TAG_PREFIX if tag is None else _tag_prefix(tag)
    team = Operator.objects.select_related("user")
    form = ShiftTagForm(request.POST, prefix=prefix, operators=team)
    if form.is_valid():
        changes = {name: form.cleaned_data[name] for name in ("tag", "name", "active")}
        try:
            changes["operators"] = operators_by_ids(form.cleaned_data["operators"])
            saved = do_save_shift_tag(request.user, tag or ShiftTag(), changes)
        except TeamChangeError as exc:
            add_team_error(form, exc)
        else:
            message = (
                _("Shift tag %(tag)s created.") if tag is None else _("Shift tag %(tag)s saved.")
            )
            messages.success(request, message % {"tag": saved.tag})
            return redirect(f"{reverse('team_rules')}#shift-tags")
    return _rules_page(request, bound_tag=TagCard(tag, form))


@admin_required
@require_POST
def shift_tag_create(request: AuthenticatedRequest) -> HttpResponse:
    return _save_tag(request, None)


@admin_required
@require_POST
def shift_tag_edit(request: AuthenticatedRequest, tag_id: int) -> HttpResponse:
    return _save_tag(request, access_shift_tag(request.user, tag_id))


@admin_required
@require_POST
def calendar_exception_add(request: AuthenticatedRequest) -> HttpResponse:
    form = CalendarExceptionForm(request.POST, prefix="exception")
    if form.is_valid():
        try:
            exception = do_add_calendar_exception(request.user, **form.values())
        except TeamChangeError as exc:
            add_team_error(form, exc)
        else:
            messages.success(
                request, _("%(day)s added to the calendar.") % {"day": _day(exception)}
            )
            return redirect(f"{reverse('team_rules')}#calendar")
    return _rules_page(request, exception_form=form)


@admin_required
@require_POST
def calendar_exception_delete(request: AuthenticatedRequest, exception_id: int) -> HttpResponse:
    exception = access_calendar_exception(request.user, exception_id)
    do_delete_calendar_exception(request.user, exception)
    messages.success(request, _("%(day)s removed from the calendar.") % {"day": _day(exception)})
    return redirect(f"{reverse('team_rules')}#calendar")


def _day(exception: CalendarException) -> str:
    return f"{weekday_name(exception.day.weekday())} {date_format(exception.day, 'DATE_FORMAT')}"
