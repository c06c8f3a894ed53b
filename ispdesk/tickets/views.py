"""Ticket pages: my tickets (operators), the queue (supervisors), one ticket, a new ticket.

Views parse, fetch through `access.py` and call the actions; every change is a POST that
redirects back with a message. Pages refresh their own fragments on `ticket:*` events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, supervisor_required
from ispdesk.lib.htmx import is_htmx, render_page_or_fragment
from ispdesk.lib.phones import format_phone
from ispdesk.operators.models import Area, Operator
from ispdesk.system.config import get_config
from ispdesk.tickets.access import access_ticket, tickets_for
from ispdesk.tickets.actions import (
    NewTicket,
    TicketActionError,
    do_assign_ticket,
    do_assign_unassigned,
    do_auto_assign,
    do_change_status,
    do_close_ticket,
    do_comment_ticket,
    do_create_ticket,
    do_reopen_ticket,
    do_unassign_ticket,
)
from ispdesk.tickets.assignment import Rule
from ispdesk.tickets.filters import filter_tickets
from ispdesk.tickets.forms import (
    AssignForm,
    CommentForm,
    NoteForm,
    QueueFilterForm,
    StatusForm,
    TicketForm,
    active_operators,
    first_error,
    operator_label,
)
from ispdesk.tickets.metrics import TicketMetrics, TicketTimes, ticket_metrics
from ispdesk.tickets.models import (
    EventKind,
    Source,
    Status,
    Ticket,
    TicketEvent,
    TicketQuerySet,
)
from ispdesk.tickets.team import team_facts

PAGE_SIZE = 25
UNASSIGNED_SHOWN = 8
# The actor of history events written by ispdesk itself (the engine, a job, a sync).
ENGINE_NAME = "ispdesk"
# What an operator moves an assigned ticket between; "new" means back in the queue.
WORKING_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING)


def format_duration(seconds: float | None) -> str:
    """A wait in words read at a glance: "45 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    whole = max(0, round(seconds))
    if whole < 60:
        return _("%(n)s s") % {"n": whole}
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, _("%(n)s d")), (hours, _("%(n)s h")), (minutes, _("%(n)s min"))]
    shown = [template % {"n": amount} for amount, template in parts if amount]
    return " ".join(shown[:2])


def _status_label(value: str) -> str:
    return str(Status(value).label) if value in Status.values else value


def _overdue_minutes() -> int:
    minutes: int = get_config("ticket_overdue_minutes")
    return minutes


def _times(ticket: Ticket) -> TicketTimes:
    # `first_assigned_at` is annotated by `access.ticket_rows`; reassignments keep the clock.
    first_assigned = getattr(ticket, "first_assigned_at", None) or ticket.assigned_at
    return TicketTimes(
        created_at=ticket.created_at,
        first_assigned_at=first_assigned,
        first_response_at=ticket.first_response_at,
        closed_at=ticket.closed_at,
        is_open=ticket.is_open,
        alerts_sent=ticket.alerts_sent,
    )


@dataclass(frozen=True)
class TicketRow:
    ticket: Ticket
    metrics: TicketMetrics
    # How long it has waited for a first response, or how long it has been open.
    age: str


def ticket_rows(tickets: Iterable[Ticket], now: datetime) -> list[TicketRow]:
    overdue_after = timedelta(minutes=_overdue_minutes())
    rows = []
    for ticket in tickets:
        metrics = ticket_metrics(_times(ticket), now, overdue_after)
        if metrics.waiting_seconds is not None:
            age = metrics.waiting_seconds
        else:
            end = ticket.closed_at if not ticket.is_open and ticket.closed_at else now
            age = int((end - ticket.created_at).total_seconds())
        rows.append(TicketRow(ticket, metrics, format_duration(age)))
    return rows


def _status_choices(ticket: Ticket) -> list[tuple[str, str]]:
    """The open statuses this ticket may move to ("new" only while nobody has it)."""
    allowed = WORKING_STATUSES if ticket.assignee_id else (Status.NEW, *WORKING_STATUSES[1:])
    return [(str(status), str(status.label)) for status in allowed]


def _back(request: AuthenticatedRequest, ticket: Ticket | None = None) -> str:
    """Where a form came from (its `next` field) when that is on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    if ticket is not None:
        return reverse("ticket_detail", args=[ticket.pk])
    return reverse("ticket_queue")


def _visible(user: Any) -> TicketQuerySet:
    # `tickets_for` returns the model's queryset class; its annotation says plain QuerySet.
    return cast(TicketQuerySet, tickets_for(user))


# My tickets ---------------------------------------------------------------------------------


@login_required
def my_tickets(request: AuthenticatedRequest) -> HttpResponse:
    """The operator's open tickets, oldest first; for HTMX requests only the list."""
    operator = Operator.objects.filter(user_id=request.user.pk).first()
    now = timezone.now()
    rows: list[TicketRow] = []
    if operator is not None:
        tickets = (
            _visible(request.user)
            .open()
            .filter(assignee__user_id=request.user.pk)
            .order_by("created_at", "pk")
        )
        rows = ticket_rows(tickets, now)
    context = {
        "operator": operator,
        "rows": rows,
        "overdue_count": sum(1 for row in rows if row.metrics.overdue),
        "overdue_minutes": _overdue_minutes(),
        "status_choices": [(str(s), str(s.label)) for s in WORKING_STATUSES],
    }
    return render_page_or_fragment(
        request, "tickets/my_tickets.html", "tickets/_my_tickets_list.html", context
    )


# The queue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRow:
    operator_id: int
    name: str
    open_tickets: int
    paused: bool
    assignment_paused: bool
    on_schedule: bool
    on_duty: bool


def load_right_now(now: datetime) -> list[LoadRow]:
    """Each active operator's open tickets and whether the engine could choose them now."""
    candidates, rules = team_facts(now)
    on_duty = rules.on_duty if rules.is_day_off else frozenset()
    return sorted(
        (
            LoadRow(
                operator_id=candidate.operator_id,
                name=candidate.name,
                open_tickets=candidate.open_tickets,
                paused=candidate.paused,
                assignment_paused=candidate.assignment_paused,
                on_schedule=candidate.on_schedule,
                on_duty=candidate.operator_id in on_duty,
            )
            for candidate in candidates
        ),
        key=lambda row: (row.name.casefold(), row.operator_id),
    )


@supervisor_required
def ticket_queue(request: AuthenticatedRequest) -> HttpResponse:
    """Every ticket with filters, the unassigned queue and the team's load right now."""
    now = timezone.now()
    operators = list(Operator.objects.select_related("user"))
    form = QueueFilterForm(request.GET, operators=operators, areas=list(Area.objects.all()))
    visible = _visible(request.user)
    # A filter that cannot be applied shows its error and no rows, never everything.
    tickets = filter_tickets(visible, form.filters(), now) if form.is_valid() else visible.none()
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    waiting = visible.unassigned().order_by("created_at", "pk")
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": ticket_rows(page.object_list, now),
        "query": query.urlencode(),
        "waiting_count": waiting.count(),
        "waiting_rows": ticket_rows(waiting[:UNASSIGNED_SHOWN], now),
        "load": load_right_now(now),
        "assignable": [
            (operator.pk, operator_label(operator))
            for operator in operators
            if operator.active and operator.user.is_active
        ],
        "overdue_minutes": _overdue_minutes(),
    }
    return render_page_or_fragment(
        request, "tickets/queue.html", "tickets/_queue_live.html", context
    )


@supervisor_required
@require_POST
def ticket_assign_unassigned(request: AuthenticatedRequest) -> HttpResponse:
    """Offer every waiting ticket to the engine; say how many found someone, and whom."""
    results = do_assign_unassigned(request.user)
    chosen = Counter(d.operator_id for _id, d in results if d.operator_id is not None)
    names = {
        operator.pk: operator.name
        for operator in Operator.objects.select_related("user").filter(pk__in=list(chosen))
    }
    nobody = next((d for _id, d in results if d.operator_id is None), None)
    if not results:
        messages.info(request, _("No ticket was waiting for an assignee."))
    elif chosen:
        total = sum(chosen.values())
        whom = ", ".join(
            f"{names.get(operator_id, '?')} {count}"
            for operator_id, count in sorted(chosen.items(), key=lambda item: -item[1])
        )
        messages.success(
            request,
            ngettext(
                "%(count)d ticket assigned: %(whom)s.",
                "%(count)d tickets assigned: %(whom)s.",
                total,
            )
            % {"count": total, "whom": whom},
        )
    if nobody is not None:
        messages.warning(request, nobody.reason)
    return redirect(_back(request))


# One ticket ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineItem:
    event: TicketEvent
    title: str
    text: str
    actor: str


def _name(operator: Operator | None) -> str:
    return operator.name if operator is not None else _("someone")


def timeline_item(event: TicketEvent) -> TimelineItem:
    """One history event in words."""
    kind = event.kind
    text = event.text
    if kind == EventKind.CREATED:
        title, text = (text or _("Created")), ""
    elif kind == EventKind.ASSIGNED:
        title = _("Assigned to %(name)s") % {"name": _name(event.operator)}
    elif kind == EventKind.REASSIGNED:
        title = _("Reassigned from %(old)s to %(new)s") % {
            "old": _name(event.previous_operator),
            "new": _name(event.operator),
        }
    elif kind == EventKind.UNASSIGNED:
        title = _("Unassigned from %(name)s") % {"name": _name(event.previous_operator)}
    elif kind == EventKind.STATUS_CHANGED:
        title = _("Status: %(old)s → %(new)s") % {
            "old": _status_label(event.from_status),
            "new": _status_label(event.to_status),
        }
    elif kind == EventKind.COMMENTED:
        title = _("Comment")
    elif kind == EventKind.ALERTED:
        title = _("Overdue alert sent")
    else:
        title = str(event.get_kind_display())
    actor = event.actor.display_name if event.actor is not None else ENGINE_NAME
    return TimelineItem(event=event, title=title, text=text, actor=actor)


# The address of a ticket in the system it is mirrored to (Splynx), offered by the app that
# knows that system (the pipeline registers it), so tickets never import the pipeline.
_mirror_links: list[Callable[[Ticket], str]] = []


def register_mirror_link(provider: Callable[[Ticket], str]) -> None:
    if provider not in _mirror_links:
        _mirror_links.append(provider)


def mirror_link(ticket: Ticket) -> str:
    """The first link a registered provider gives for the ticket, or ""."""
    return next((link for provider in _mirror_links if (link := provider(ticket))), "")


def _render_detail(
    request: AuthenticatedRequest,
    ticket: Ticket,
    comment_form: CommentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    events = ticket.events.select_related("actor", "operator__user", "previous_operator__user")
    metrics = ticket_metrics(_times(ticket), now, timedelta(minutes=_overdue_minutes()))
    assignable: list[tuple[int, str]] = []
    if request.user.is_supervisor_or_admin:
        assignable = [(operator.pk, operator_label(operator)) for operator in active_operators()]
    context = {
        "ticket": ticket,
        "metrics": metrics,
        "durations": {
            "assignment": format_duration(metrics.seconds_to_assignment),
            "first_response": format_duration(metrics.seconds_to_first_response),
            "close": format_duration(metrics.seconds_to_close),
            "waiting": format_duration(metrics.waiting_seconds),
        },
        "timeline": [timeline_item(event) for event in events],
        "comment_form": comment_form or CommentForm(),
        "status_choices": _status_choices(ticket),
        "assignable": assignable,
        "overdue_minutes": _overdue_minutes(),
        "splynx_url": mirror_link(ticket),
        "customer_phone": format_phone(ticket.customer_phone) if ticket.customer_phone else "",
    }
    return render_page_or_fragment(
        request, "tickets/ticket_detail.html", "tickets/_ticket_live.html", context, status=status
    )


@login_required
def ticket_detail(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    """The ticket; for HTMX requests its facts, actions and history, swapped in place."""
    try:
        ticket = access_ticket(request.user, ticket_id)
    except Http404:
        if not is_htmx(request):
            raise
        # The page was open when the ticket went to someone else: leave it, saying why.
        message = _("Ticket #%(id)s is no longer assigned to you.") % {"id": ticket_id}
        messages.info(request, message)
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("my_tickets")
        return response
    return _render_detail(request, ticket)


@login_required
@require_POST
def ticket_comment(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    ticket = access_ticket(request.user, ticket_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            do_comment_ticket(request.user, ticket, form.cleaned_data["text"])
        except TicketActionError as exc:
            form.add_error("text", exc.message)
        else:
            messages.success(request, _("Comment added."))
            return redirect(_back(request, ticket))
    # Shown again with what was typed, so nothing is lost.
    return _render_detail(request, ticket, comment_form=form, status=422)


@login_required
@require_POST
def ticket_status(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    ticket = access_ticket(request.user, ticket_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(_back(request, ticket))
    try:
        changed = do_change_status(request.user, ticket, form.cleaned_data["status"])
    except TicketActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Ticket #%(id)s: status %(status)s.")
            % {"id": ticket.pk, "status": _status_label(changed.status)},
        )
    return redirect(_back(request, ticket))


def _note_action(
    request: AuthenticatedRequest,
    ticket_id: int,
    action: Callable[[Any, Ticket, str], Ticket],
    done: str,
) -> HttpResponse:
    """Close, reopen or unassign: the same form (an optional note), the same answers."""
    ticket = access_ticket(request.user, ticket_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(_back(request, ticket))
    try:
        action(request.user, ticket, form.cleaned_data["note"])
    except TicketActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done % {"id": ticket.pk})
    return redirect(_back(request, ticket))


@login_required
@require_POST
def ticket_close(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    return _note_action(request, ticket_id, do_close_ticket, _("Ticket #%(id)s closed."))


@login_required
@require_POST
def ticket_reopen(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    return _note_action(request, ticket_id, do_reopen_ticket, _("Ticket #%(id)s reopened."))


def _engine_assign(request: AuthenticatedRequest, ticket: Ticket) -> None:
    """Let the engine choose, and report its decision in its own words."""
    if not ticket.is_open:
        messages.error(request, _("Reopen the ticket before assigning it."))
        return
    if ticket.assignee_id is not None:
        messages.error(
            request,
            _("The ticket already has an assignee; choose an operator or unassign it first."),
        )
        return
    decision = do_auto_assign(request.user, ticket)
    if decision.operator_id is None:
        messages.warning(request, decision.reason)
    elif decision.rule == Rule.NONE:
        # Someone else assigned or closed it a moment ago.
        messages.info(request, _("Ticket #%(id)s changed meanwhile.") % {"id": ticket.pk})
    else:
        messages.success(
            request,
            _("Ticket #%(id)s assigned by ispdesk: %(reason)s")
            % {"id": ticket.pk, "reason": decision.reason},
        )


@supervisor_required
@require_POST
def ticket_assign(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    """Assign or reassign to the chosen operator; no operator lets the engine choose."""
    ticket = access_ticket(request.user, ticket_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(_back(request, ticket))
    operator = form.cleaned_data["operator"]
    if operator is None:
        _engine_assign(request, ticket)
        return redirect(_back(request, ticket))
    try:
        do_assign_ticket(request.user, ticket, operator)
    except TicketActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Ticket #%(id)s assigned to %(name)s.") % {"id": ticket.pk, "name": operator.name},
        )
    return redirect(_back(request, ticket))


@supervisor_required
@require_POST
def ticket_unassign(request: AuthenticatedRequest, ticket_id: int) -> HttpResponse:
    return _note_action(
        request,
        ticket_id,
        do_unassign_ticket,
        _("Ticket #%(id)s is back in the unassigned queue."),
    )


# A new ticket -------------------------------------------------------------------------------


@supervisor_required
def ticket_create(request: AuthenticatedRequest) -> HttpResponse:
    form = TicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        new = NewTicket(
            subject=data["subject"],
            body=data["body"],
            source=Source.MANUAL,
            priority=data["priority"],
            customer_name=data["customer_name"],
            customer_splynx_id=data["customer_splynx_id"],
            area_id=data["area"].pk if data["area"] else None,
        )
        try:
            # Created first and offered to the engine after, so its decision can be told.
            ticket, _created = do_create_ticket(request.user, new, auto_assign=False)
        except TicketActionError as exc:
            form.add_error(None, exc.message)
        else:
            decision = do_auto_assign(request.user, ticket)
            messages.success(request, _("Ticket #%(id)s created.") % {"id": ticket.pk})
            if decision.operator_id is None:
                messages.warning(request, decision.reason)
            return redirect("ticket_detail", ticket.pk)
    status = 422 if form.errors else 200
    return render(request, "tickets/ticket_form.html", {"form": form}, status=status)
