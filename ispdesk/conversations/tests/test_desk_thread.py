"""A long chat in the console: it opens on its newest lines, pages back on demand, and costs
the same few queries however long it is."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.conftest import logged_in_client
from ispdesk.conversations.display import THREAD_LINES
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    EventKind,
    Message,
    Sender,
)
from ispdesk.conversations.tests.conftest import make_contact, make_conversation
from ispdesk.messaging.models import OutboundMessage
from ispdesk.messaging.outbox import queue_message
from ispdesk.operators.models import Operator

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def write(chat: Conversation, n: int, *, hours_ago: int = 10) -> list[Message]:
    """`n` lines a minute apart, oldest first; every other one ours, on an outbox row."""
    start = timezone.now() - timedelta(hours=hours_ago)
    made = []
    for i in range(n):
        outbound = None
        if i % 2:
            outbound = queue_message(chat.chat_id, f"line {i}", connection=chat.connection)
            OutboundMessage.objects.filter(pk=outbound.pk).update(status="delivered")
        made.append(
            Message.objects.create(
                conversation=chat,
                sender=Sender.OPERATOR if i % 2 else Sender.CUSTOMER,
                text=f"line {i}",
                outbound=outbound,
                created_at=start + timedelta(minutes=i),
            )
        )
    return made


def event(chat: Conversation, at: Any, operator: Operator) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=chat, kind=EventKind.TRANSFERRED, operator=operator, created_at=at
    )


def shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-message="(\d+)"', html)]


def events_shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-event="(\d+)"', html)]


def older_url(html: str) -> str | None:
    found = re.search(r'data-desk-older="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_a_long_chat_opens_on_its_newest_lines(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    made = write(chat, THREAD_LINES + 7)

    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()

    assert shown(html) == [message.pk for message in made[7:]]
    assert older_url(html) == f"/desk/c/{chat.pk}/messages/?before={made[7].pk}"
    assert "Show earlier messages" in html
    assert f'data-last-message="{made[-1].pk}"' in html


def test_scrolling_back_brings_the_lines_before_with_their_history(
    operator_client, ana, juan, soporte
):
    chat = make_conversation(area=soporte, assignee=ana)
    made = write(chat, THREAD_LINES + 7)
    early = event(chat, made[2].created_at + timedelta(seconds=30), juan)
    late = event(chat, made[-1].created_at + timedelta(seconds=30), juan)
    first = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert events_shown(first) == [late.pk]

    earlier = operator_client.get(older_url(first), **HTMX)

    html = earlier.content.decode()
    assert earlier.status_code == 200
    assert shown(html) == [message.pk for message in made[:7]]
    assert events_shown(html) == [early.pk]
    assert html.index(">line 2<") < html.index("Transferred · Juan") < html.index(">line 3<")
    assert older_url(html) is None  # the beginning of the chat
    assert "<html" not in html


def test_pages_back_meet_without_a_gap_or_a_repeat(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    made = write(chat, 2 * THREAD_LINES + 3)
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    seen = shown(html)
    while (url := older_url(html)) is not None:
        html = operator_client.get(url, **HTMX).content.decode()
        seen = shown(html) + seen
    assert seen == [message.pk for message in made]


def test_a_chat_that_fits_shows_its_whole_history_and_no_earlier_page(
    operator_client, ana, juan, soporte
):
    chat = make_conversation(area=soporte, assignee=ana)
    made = write(chat, THREAD_LINES)
    opened = event(chat, made[0].created_at - timedelta(minutes=5), juan)

    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()

    assert shown(html) == [message.pk for message in made]
    assert events_shown(html) == [opened.pk]
    assert older_url(html) is None


def test_the_page_before_a_line_of_another_chat_is_empty(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    write(chat, 3)
    other = make_conversation(make_contact("Otro", "+5491100000002"), area=soporte, assignee=ana)
    foreign = write(other, 3)
    response = operator_client.get(f"/desk/c/{chat.pk}/messages/?before={foreign[-1].pk}", **HTMX)
    assert response.status_code == 200
    assert shown(response.content.decode()) == []


def test_an_operator_of_another_area_cannot_page_back(ana, sofia, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    made = write(chat, 3)
    client = logged_in_client(sofia.user)
    response = client.get(f"/desk/c/{chat.pk}/messages/?before={made[-1].pk}", **HTMX)
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["operator_client", "supervisor_client"])
def test_opening_a_chat_takes_the_same_queries_for_a_short_or_a_long_one(
    request, who, ana, juan, soporte
):
    client = request.getfixturevalue(who)
    chat = make_conversation(area=soporte, assignee=ana)
    earlier = make_conversation(chat.contact, "closed", soporte, ana)
    write(earlier, 2)

    def opening(lines: int, events: int) -> int:
        made = write(chat, lines, hours_ago=lines)
        for message in made[:events]:
            event(chat, message.created_at, juan)
        with CaptureQueriesContext(db_connection) as captured:
            response = client.get(f"/desk/c/{chat.pk}/", **HTMX)
        assert response.status_code == 200
        return len(captured)

    client.get(f"/desk/c/{chat.pk}/", **HTMX)  # warm the settings cache
    assert opening(3, 1) == opening(2 * THREAD_LINES, 30)


def test_paging_back_takes_the_same_queries_for_any_length(operator_client, ana, juan, soporte):
    chat = make_conversation(area=soporte, assignee=ana)

    def paging(lines: int) -> int:
        made = write(chat, lines, hours_ago=lines)
        for message in made[::10]:
            event(chat, message.created_at, juan)
        with CaptureQueriesContext(db_connection) as captured:
            response = operator_client.get(
                f"/desk/c/{chat.pk}/messages/?before={made[-1].pk}", **HTMX
            )
        assert response.status_code == 200
        return len(captured)

    operator_client.get(f"/desk/c/{chat.pk}/", **HTMX)  # warm the settings cache
    assert paging(5) == paging(3 * THREAD_LINES)
