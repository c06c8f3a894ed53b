"""Periodic service-desk work: routing waiting chats and closing idle ones."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from ispdesk.conversations.actions import do_auto_close
from ispdesk.conversations.models import Conversation, ConversationStatus
from ispdesk.conversations.presence import prune_sessions
from ispdesk.conversations.queue import drain, waiting_queues
from ispdesk.jobs.registry import JobContext, periodic_job

ROUTE_WAITING = "conversations.route_waiting"
AUTO_CLOSE = "conversations.auto_close"


@periodic_job(
    ROUTE_WAITING,
    interval=timedelta(seconds=60),
    description=_(
        "Hands chats waiting in area queues to operators who can take them: at opening time, "
        "when a shift starts, and as a safety net for every other moment capacity frees."
    ),
    honours_pause=False,
)
def route_waiting(ctx: JobContext) -> dict[str, int]:
    pruned = prune_sessions()
    assigned = sum(drain(area_id) for area_id in waiting_queues())
    waiting = Conversation.objects.filter(status=ConversationStatus.PENDING).count()
    return {"assigned": assigned, "waiting": waiting, "stale_consoles": pruned}


@periodic_job(
    AUTO_CLOSE,
    interval=timedelta(minutes=5),
    description=_(
        "Closes chats without activity for the auto-close time (per area or global), sending "
        "the auto-close message; never one whose customer still waits for an answer."
    ),
    honours_pause=False,
)
def auto_close(ctx: JobContext) -> dict[str, int]:
    return {"closed": do_auto_close()}
