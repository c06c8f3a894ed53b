"""The agent console `/desk/`: the conversation list beside the open chat.

One page, refreshed by fragments: the list (`/desk/list/`), the chat pane (`/desk/c/<id>/`,
which is also a whole page when opened from a link), and the lines after a given one
(`/desk/c/<id>/messages/`). Views parse, fetch through `access.py`, call the actions and
render; `static/ispdesk/desk.js` listens to real-time events and refetches these fragments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest
from ispdesk.conversations.access import access_conversation, conversations_for, operator_of
from ispdesk.conversations.actions import (
    MAX_TEXT,
    ConversationActionError,
    do_assign,
    do_close,
    do_mark_read,
    do_send_message,
    do_transfer,
)
from ispdesk.conversations.display import (
    Line,
    last_ids,
    lines_after,
    list_rows,
    newest_lines,
)
from ispdesk.conversations.filters import (
    TAB_ALL,
    TAB_MINE,
    TAB_QUEUE,
    search_condition,
    tab_condition,
    tab_rows,
)
from ispdesk.conversations.models import Conversation
from ispdesk.conversations.presence import AWAY, OFFLINE, ONLINE, do_set_away, presence_of
from ispdesk.conversations.queue import online_operator_ids
from ispdesk.lib.numbers import ascii_int
from ispdesk.lib.phones import format_phone
from ispdesk.operators.models import Area, Operator

LIST_PAGE = 50
LIST_MAX = 500
EARLIER_CHATS = 10
MAX_SEARCH = 100
DESK_CONTEXT = {"desk_page": True}  # lets the navigation mark "Chats" as the current section


# Who is looking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The person at the console: an operator (maybe also a supervisor) or a supervisor."""

    user: Any
    operator: Operator | None

    @property
    def is_supervisor(self) -> bool:
        return bool(self.user.is_supervisor_or_admin)

    def tabs(self) -> tuple[str, ...]:
        return (TAB_MINE, TAB_QUEUE, TAB_ALL) if self.is_supervisor else (TAB_MINE, TAB_QUEUE)

    def default_tab(self) -> str:
        return TAB_MINE if self.operator is not None else TAB_ALL

    def tab(self, raw: str | None) -> str:
        return raw if raw in self.tabs() else self.default_tab()


def _viewer(user: Any) -> Viewer | None:
    operator = operator_of(user)
    if operator is None and not user.is_supervisor_or_admin:
        return None
    return Viewer(user=user, operator=operator)


def _area_ids(viewer: Viewer) -> list[int]:
    """The areas whose events the page subscribes to (`area.<id>` groups)."""
    if viewer.operator is None:
        return []
    return list(viewer.operator.areas.order_by("pk").values_list("pk", flat=True))


DeskView = Callable[..., HttpResponse]


def desk_view(view: DeskView) -> DeskView:
    """Logged-in people with an operator profile, and supervisors; others get a page that
    says why (there is nothing to show them, which is no error of theirs)."""

    @wraps(view)
    def wrapped(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        viewer = _viewer(request.user)
        if viewer is None:
            return render(request, "desk/no_profile.html", DESK_CONTEXT, status=403)
        return view(request, viewer, *args, **kwargs)

    return login_required(wrapped)


def _wants_fragment(request: HttpRequest) -> bool:
    """HTMX asking for a fragment; a history restore (Back after a fragment) wants the page."""
    details: Any = getattr(request, "htmx", None)
    if not details:
        return False
    return not details.boosted and not details.history_restore_request


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request",))
    return response


# The list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListState:
    tab: str
    search: str
    selected: int | None
    limit: int


def _int(raw: str | None) -> int | None:
    return ascii_int(raw, max_digits=11)


def _list_state(request: HttpRequest, viewer: Viewer, selected: int | None = None) -> ListState:
    limit = _int(request.GET.get("limit")) or LIST_PAGE
    return ListState(
        tab=viewer.tab(request.GET.get("tab")),
        search=" ".join(request.GET.get("q", "").replace("\x00", "").split())[:MAX_SEARCH],
        selected=selected if selected is not None else _int(request.GET.get("selected")),
        limit=max(LIST_PAGE, min(limit, LIST_MAX)),
    )


@dataclass(frozen=True)
class Attention:
    """What calls for the person: unread lines in their chats and chats waiting in their
    queues; the page shows the sum in its title."""

    unread: int
    waiting: int

    @property
    def total(self) -> int:
        return self.unread + self.waiting


def _attention(visible: Any, viewer: Viewer) -> Attention:
    """Both figures in one query (the visibility filter compiled and run once)."""
    queue = tab_condition(viewer.user, TAB_QUEUE)
    if viewer.operator is None:
        return Attention(unread=0, waiting=visible.filter(queue).order_by().count())
    mine = tab_condition(viewer.user, TAB_MINE)
    totals = (
        visible.filter(mine | queue)
        .order_by()
        .aggregate(unread=Sum("unread_count", filter=mine), waiting=Count("pk", filter=queue))
    )
    return Attention(unread=int(totals["unread"] or 0), waiting=int(totals["waiting"] or 0))


def _list_context(viewer: Viewer, state: ListState, now: datetime) -> dict[str, Any]:
    visible = conversations_for(viewer.user)
    rows = visible.filter(search_condition(state.search)) if state.search else visible
    page = list(tab_rows(rows, viewer.user, state.tab)[: state.limit + 1])
    more = len(page) > state.limit
    return {
        "rows": list_rows(page[: state.limit], now),
        "more": more,
        "next_limit": min(state.limit + LIST_PAGE, LIST_MAX),
        "state": state,
        "attention": _attention(visible, viewer),
        "viewer": viewer,
    }


@require_GET
@desk_view
def desk_list(request: AuthenticatedRequest, viewer: Viewer) -> HttpResponse:
    state = _list_state(request, viewer)
    context = _list_context(viewer, state, timezone.now())
    if not _wants_fragment(request):
        return _render_desk(request, viewer, state, None)
    return _vary(render(request, "desk/_list.html", context))


# The chat ---------------------------------------------------------------------------------


def _may_act(viewer: Viewer, conversation: Conversation) -> bool:
    """Mirrors the actions' rule, to offer only buttons that can work."""
    if conversation.is_closed:
        return False
    if viewer.is_supervisor:
        return True
    assignee = conversation.assignee
    return assignee is None or assignee.user_id == viewer.user.pk


def _is_mine(viewer: Viewer, conversation: Conversation) -> bool:
    return conversation.assignee is not None and conversation.assignee.user_id == viewer.user.pk


def _mark_read(viewer: Viewer, conversation: Conversation) -> None:
    # Unread counts are the assignee's: a supervisor looking over a shoulder, or a colleague
    # peeking at the queue, must not clear them.
    if _is_mine(viewer, conversation) and conversation.unread_count and not conversation.is_closed:
        updated = do_mark_read(viewer.user, conversation.pk)
        conversation.unread_count = updated.unread_count
        conversation.version = updated.version


@dataclass(frozen=True)
class Target:
    value: str  # "area:<id>" or "operator:<id>"
    label: str


def _options(targets: list[Target]) -> str:
    """`<option>`s written once here, not a template loop over the whole team per dialog."""
    rows = ((target.value, target.label) for target in targets)
    return format_html_join("", '<option value="{}">{}</option>', rows)


def _area_targets(conversation: Conversation) -> list[Target]:
    return [
        Target(f"area:{area.pk}", area.name)
        for area in Area.objects.filter(active=True).order_by("name")
        if area.pk != conversation.area_id
    ]


def _operator_targets(conversation: Conversation) -> list[Target]:
    # Read as values, not models: the whole team is offered on every chat opened.
    team = list(
        Operator.objects.filter(active=True, user__is_active=True)
        .order_by("user__first_name", "user__username")
        .values_list("pk", "away", "user__first_name", "user__last_name", "user__username")
    )
    online = online_operator_ids([row[0] for row in team], timezone.now())
    words = {ONLINE: _("online"), AWAY: _("away"), OFFLINE: _("offline")}
    targets = []
    for pk, away, first_name, last_name, username in team:
        if pk == conversation.assignee_id:
            continue
        # As `presence_of` tells it, and `Operator.name` names them.
        state = (AWAY if away else ONLINE) if pk in online else OFFLINE
        name = f"{first_name} {last_name}".strip() or username
        targets.append(Target(f"operator:{pk}", f"{name} ({words[state]})"))
    return targets


def _chat_context(
    viewer: Viewer, conversation: Conversation, *, error: ConversationActionError | None = None
) -> dict[str, Any]:
    thread = newest_lines(conversation)
    last_message, last_event = last_ids(thread.lines)
    may_act = _may_act(viewer, conversation)
    contact = conversation.contact
    earlier = list(
        conversations_for(viewer.user)
        .filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .order_by("-created_at", "-pk")[:EARLIER_CHATS]
    )
    operator = viewer.operator
    return {
        "conversation": conversation,
        "contact": contact,
        "phone": format_phone(contact.phone) if contact.phone else "",
        "lines": thread.lines,
        "older_url": _older_url(conversation.pk, thread.older_than),
        "last_message": last_message,
        "last_event": last_event,
        "may_act": may_act,
        "may_reply": may_act and (conversation.assignee is not None or operator is not None),
        "takes_it": may_act and conversation.assignee is None and operator is not None,
        "may_assign": may_act and viewer.is_supervisor,
        "may_take_over": (
            may_act
            and viewer.is_supervisor
            and operator is not None
            and conversation.assignee_id != operator.pk
        ),
        "earlier": earlier,
        "error": error,
        "max_text": MAX_TEXT,
        "viewer": viewer,
    }


def _render_desk(
    request: HttpRequest,
    viewer: Viewer,
    state: ListState,
    conversation: Conversation | None,
    *,
    error: ConversationActionError | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    presence = presence_of([viewer.operator], now)[viewer.operator.pk] if viewer.operator else ""
    context: dict[str, Any] = {
        **DESK_CONTEXT,
        **_list_context(viewer, state, now),
        "tabs": [(tab, TAB_LABELS[tab]) for tab in viewer.tabs()],
        "presence": presence,
        "area_ids": _area_ids(viewer),
        "chat": _chat_context(viewer, conversation, error=error) if conversation else None,
    }
    return _vary(render(request, "desk/desk.html", context, status=status))


TAB_LABELS = {
    TAB_MINE: gettext_lazy("Mine"),
    TAB_QUEUE: gettext_lazy("Queue"),
    TAB_ALL: gettext_lazy("All"),
}


def _render_chat(
    request: HttpRequest,
    viewer: Viewer,
    conversation: Conversation,
    *,
    error: ConversationActionError | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    if not _wants_fragment(request):
        state = _list_state(request, viewer, selected=conversation.pk)
        return _render_desk(request, viewer, state, conversation, error=error, status=status)
    context = {"chat": _chat_context(viewer, conversation, error=error), "notice": notice}
    return _vary(render(request, "desk/_chat.html", context, status=status))


@require_GET
@desk_view
def desk_page(request: AuthenticatedRequest, viewer: Viewer) -> HttpResponse:
    return _render_desk(request, viewer, _list_state(request, viewer), None)


@require_GET
@desk_view
def desk_chat(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    _mark_read(viewer, conversation)
    return _render_chat(request, viewer, conversation)


TARGETS_FOR = ("transfer", "assign")


@require_GET
@desk_view
def desk_targets(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    """The `<option>`s of the transfer (`for=transfer`: other areas, then colleagues) or
    assign (`for=assign`: colleagues) dialog, loaded as the dialog opens: opening a chat
    does not read the whole team, and the presence shown is the one of that moment."""
    purpose = request.GET.get("for", "")
    if purpose not in TARGETS_FOR:
        return HttpResponse(_("Say which dialog the options are for."), status=400)
    conversation = access_conversation(request.user, pk)
    allowed = _may_act(viewer, conversation) and (purpose == "transfer" or viewer.is_supervisor)
    if not allowed:
        return HttpResponse(_("You cannot move this chat."), status=403)
    areas = _area_targets(conversation) if purpose == "transfer" else []
    context = {
        "purpose": purpose,
        "area_options": _options(areas),
        "operator_options": _options(_operator_targets(conversation)),
    }
    return render(request, "desk/_targets.html", context)


def _older_url(conversation_id: int, older_than: int | None) -> str:
    if older_than is None:
        return ""
    return f"{reverse('desk_messages', args=[conversation_id])}?before={older_than}"


@require_GET
@desk_view
def desk_messages(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    """The lines after those the page shows (a new message, a transfer note), or the page
    of lines before the oldest it shows (`before`, as the operator scrolls back)."""
    conversation = access_conversation(request.user, pk)
    before = _int(request.GET.get("before"))
    if before is not None:
        thread = newest_lines(conversation, before=before)
        context = {"lines": thread.lines, "older_url": _older_url(pk, thread.older_than)}
        return render(request, "desk/_lines.html", context)
    after_message = _int(request.GET.get("after")) or 0
    after_event = _int(request.GET.get("after_event")) or 0
    lines = lines_after(conversation, after_message, after_event)
    _mark_read(viewer, conversation)
    return _render_lines(request, lines, after_message, after_event)


def _render_lines(
    request: HttpRequest, lines: list[Line], after_message: int, after_event: int
) -> HttpResponse:
    last_message, last_event = last_ids(lines, after_message, after_event)
    response = render(request, "desk/_lines.html", {"lines": lines})
    # The page keeps its place in the thread from these, without parsing the HTML.
    response["X-Desk-Last-Message"] = str(last_message)
    response["X-Desk-Last-Event"] = str(last_event)
    return response


# Changes ----------------------------------------------------------------------------------


def _chat_url(conversation_id: int) -> str:
    return reverse("desk_chat", args=[conversation_id])


@require_POST
@desk_view
def desk_send(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    try:
        do_send_message(request.user, conversation.pk, request.POST.get("text", ""))
    except ConversationActionError as error:
        if _wants_fragment(request):
            return render(request, "desk/_error.html", {"error": error}, status=422)
        conversation.refresh_from_db()
        return _render_chat(request, viewer, conversation, error=error, status=422)
    if not _wants_fragment(request):
        return redirect(_chat_url(conversation.pk))
    after_message = _int(request.POST.get("after")) or 0
    after_event = _int(request.POST.get("after_event")) or 0
    lines = lines_after(conversation, after_message, after_event)
    return _render_lines(request, lines, after_message, after_event)


def _after_change(
    request: AuthenticatedRequest, viewer: Viewer, pk: int, notice: str
) -> HttpResponse:
    """Show the chat as it is now, or say so when the change took it out of sight."""
    conversation = conversations_for(request.user).filter(pk=pk).first()
    if conversation is None:
        if not _wants_fragment(request):
            return redirect("desk")
        return _vary(render(request, "desk/_chat_gone.html", {"notice": notice}))
    if not _wants_fragment(request):
        return redirect(_chat_url(pk))
    return _render_chat(request, viewer, conversation, notice=notice)


def _refused(
    request: AuthenticatedRequest, viewer: Viewer, pk: int, error: ConversationActionError
) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    return _render_chat(request, viewer, conversation, error=error, status=422)


def _parse_target(raw: str) -> tuple[str, int] | None:
    kind, _sep, number = raw.partition(":")
    value = _int(number)
    return (kind, value) if kind in ("area", "operator") and value is not None else None


@require_POST
@desk_view
def desk_transfer(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    target = _parse_target(request.POST.get("target", ""))
    note = request.POST.get("note", "")
    try:
        if target is None:
            raise ConversationActionError(
                "validation_error",
                _("Choose an area or an operator."),
                {"target": _("required")},
            )
        kind, value = target
        do_transfer(
            request.user,
            conversation.pk,
            area_id=value if kind == "area" else None,
            operator_id=value if kind == "operator" else None,
            note=note,
        )
    except ConversationActionError as error:
        return _refused(request, viewer, pk, error)
    return _after_change(request, viewer, pk, _("The chat was transferred."))


@require_POST
@desk_view
def desk_assign(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    """Supervisors give the chat to someone; "take over" is giving it to oneself."""
    conversation = access_conversation(request.user, pk)
    take_over = request.POST.get("take_over") == "1"
    operator_id = viewer.operator.pk if take_over and viewer.operator else None
    if operator_id is None:
        target = _parse_target(request.POST.get("target", ""))
        operator_id = target[1] if target is not None and target[0] == "operator" else None
    try:
        if operator_id is None:
            raise ConversationActionError(
                "validation_error", _("Choose an operator."), {"target": _("required")}
            )
        do_assign(request.user, conversation.pk, operator_id=operator_id)
    except ConversationActionError as error:
        return _refused(request, viewer, pk, error)
    notice = _("You took over the chat.") if take_over else _("The chat was assigned.")
    return _after_change(request, viewer, pk, notice)


@require_POST
@desk_view
def desk_close(request: AuthenticatedRequest, viewer: Viewer, pk: int) -> HttpResponse:
    conversation = access_conversation(request.user, pk)
    try:
        do_close(request.user, conversation.pk, goodbye=request.POST.get("goodbye", ""))
    except ConversationActionError as error:
        return _refused(request, viewer, pk, error)
    return _after_change(request, viewer, pk, _("The chat was closed."))


@require_POST
@desk_view
def desk_away(request: AuthenticatedRequest, viewer: Viewer) -> HttpResponse:
    if viewer.operator is None:
        return redirect("desk")
    state = do_set_away(request.user, request.POST.get("away") == "1")
    if not _wants_fragment(request):
        return redirect("desk")
    return render(request, "desk/_presence.html", {"presence": state})
