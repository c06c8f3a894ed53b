"""The agent console's pages and fragments: who sees what, the list, the chat pane."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.conftest import logged_in_client
from ispdesk.contacts.models import Contact
from ispdesk.conversations.display import ticks_for
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Message,
    Sender,
)
from ispdesk.conversations.tests.conftest import make_contact, make_conversation
from ispdesk.messaging.models import OutboundMessage
from ispdesk.messaging.outbox import queue_message
from ispdesk.operators.models import Area, Operator

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def line(
    conversation: Conversation,
    text: str,
    sender: str = Sender.CUSTOMER,
    *,
    status: str | None = None,
    error: str = "",
    minutes_ago: int = 0,
) -> Message:
    """A chat line; ours (`status` given) ride on an outbox row in that state."""
    outbound = None
    if status is not None:
        outbound = queue_message(conversation.chat_id, text, connection=conversation.connection)
        OutboundMessage.objects.filter(pk=outbound.pk).update(status=status, error=error)
    return Message.objects.create(
        conversation=conversation,
        sender=sender,
        text=text,
        outbound=outbound,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def customer(name: str, phone: str, dni: str = "") -> Contact:
    return make_contact(name, phone, dni=dni)


def rows_of(response: Any) -> list[int]:
    """The conversation ids listed in a list fragment, in order."""
    html = response.content.decode()
    ids = []
    for part in html.split('data-conversation="')[1:]:
        ids.append(int(part.split('"', 1)[0]))
    return ids


# Who may open the console ------------------------------------------------------------------


def test_it_sends_anonymous_people_to_log_in(db):
    response = Client().get("/desk/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_tells_a_user_without_an_operator_profile_why_the_console_is_empty(omar):
    response = logged_in_client(omar).get("/desk/")
    assert response.status_code == 403
    assert b"You have no operator profile" in response.content
    assert b"data-desk" not in response.content


def test_it_shows_an_operator_the_mine_and_queue_tabs_only(operator_client, ana):
    response = operator_client.get("/desk/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="mine" checked' in html
    assert 'value="queue"' in html
    assert 'value="all"' not in html
    assert f'data-operator="{ana.pk}"' in html
    assert f'data-areas="{ana.areas.get().pk}"' in html
    assert 'data-presence="online"' in html  # the fixture opened a console for her


def test_it_gives_a_supervisor_without_a_profile_every_chat(supervisor_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = supervisor_client.get("/desk/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="all" checked' in html
    assert rows_of(response) == [chat.pk]
    assert 'id="desk-presence"' not in html  # no presence of her own to set


def test_an_operator_asking_for_the_all_tab_gets_her_own_chats(operator_client, ana, soporte):
    mine = make_conversation(area=soporte, assignee=ana)
    response = operator_client.get("/desk/list/?tab=all", **HTMX)
    assert rows_of(response) == [mine.pk]
    assert 'data-tab="mine"' in response.content.decode()


# The list ------------------------------------------------------------------------------------


def test_it_lists_an_operators_open_chats_newest_first(operator_client, ana, juan, soporte):
    older = make_conversation(
        customer("Pedro", "+5491133334444"),
        area=soporte,
        assignee=ana,
        last_message_at=timezone.now() - timedelta(minutes=5),
    )
    newer = make_conversation(customer("Lucía", "+5491133335555"), area=soporte, assignee=ana)
    make_conversation(customer("Rosa", "+5491133336666"), area=soporte, assignee=juan)
    make_conversation(
        customer("Beto", "+5491133337777"),
        ConversationStatus.CLOSED,
        area=soporte,
        assignee=ana,
    )
    response = operator_client.get("/desk/list/?tab=mine", **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert rows_of(response) == [newer.pk, older.pk]


def test_the_queue_tab_lists_waiting_chats_of_my_areas_and_the_general_queue_oldest_first(
    operator_client, ana, soporte, ventas
):
    now = timezone.now()
    general = make_conversation(
        customer("Pedro", "+5491133334444"), queued_at=now - timedelta(minutes=20)
    )
    mine = make_conversation(
        customer("Lucía", "+5491133335555"), area=soporte, queued_at=now - timedelta(minutes=3)
    )
    make_conversation(customer("Rosa", "+5491133336666"), area=ventas)
    response = operator_client.get("/desk/list/?tab=queue", **HTMX)
    assert rows_of(response) == [general.pk, mine.pk]
    html = response.content.decode()
    assert "Waiting" in html and "20\xa0minutes" in html
    assert "General queue" in html


def test_a_row_shows_name_dni_area_preview_and_unread_count(operator_client, ana, soporte):
    contact = customer("Marcela Gómez", "+5491123456789", dni="28444555")
    chat = make_conversation(
        contact,
        area=soporte,
        assignee=ana,
        unread_count=3,
        last_message_preview="No tengo internet desde ayer",
    )
    html = operator_client.get(f"/desk/list/?selected={chat.pk}", **HTMX).content.decode()
    assert "Marcela Gómez" in html
    assert "DNI 28444555" in html
    assert "Soporte" in html
    assert "No tengo internet desde ayer" in html
    assert 'data-unread="3"' in html
    assert 'aria-current="true"' in html
    # Three unread lines in her chats: the page's title shows (3).
    assert 'data-desk-attention="3"' in html


def test_the_title_counts_unread_lines_in_my_chats_and_chats_waiting_in_my_queues(
    operator_client, ana, soporte, ventas
):
    make_conversation(
        customer("Lucía", "+5491133335555"), area=soporte, assignee=ana, unread_count=2
    )
    make_conversation(
        customer("Marta", "+5491133335556"), area=soporte, assignee=ana, unread_count=1
    )
    # Unread lines in a chat that is not mine, or not open, count for nobody here.
    make_conversation(customer("Rosa", "+5491133336666"), area=soporte, unread_count=4)
    make_conversation(
        customer("Ema", "+5491133336667"),
        area=soporte,
        unread_count=5,
        status=ConversationStatus.CLOSED,
        assignee=ana,
    )
    make_conversation(customer("Pedro", "+5491133337777"), area=soporte)  # waiting: mine
    make_conversation(customer("Juan", "+5491133338888"))  # waiting: the general queue
    make_conversation(customer("Sara", "+5491133339999"), area=ventas)  # not my queue

    html = operator_client.get("/desk/list/?tab=all", **HTMX).content.decode()

    assert 'data-unread="3"' in html
    assert 'data-waiting="3"' in html  # Rosa (pending, unassigned), Pedro and Juan
    assert 'data-desk-attention="6"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("marce", ["Marcela"]),
        ("2844", ["Marcela"]),
        ("3333", ["Pedro"]),
        ("911", ["Marcela", "Pedro"]),
    ],
)
def test_it_searches_by_name_dni_prefix_and_phone_fragment(
    supervisor_client, soporte, query, expected
):
    make_conversation(customer("Marcela", "+5491123456789", dni="28444555"), area=soporte)
    make_conversation(customer("Pedro", "+5491133334444", dni="30111222"), area=soporte)
    response = supervisor_client.get(f"/desk/list/?tab=all&q={query}", **HTMX)
    names = [Conversation.objects.get(pk=pk).contact.name for pk in rows_of(response)]
    assert sorted(names) == expected


def test_a_search_that_finds_nothing_says_so(supervisor_client, soporte):
    make_conversation(customer("Marcela", "+5491123456789"), area=soporte)
    response = supervisor_client.get("/desk/list/?tab=all&q=zzz", **HTMX)
    assert rows_of(response) == []
    assert b"No chats match your search." in response.content


def test_it_lists_fifty_chats_and_offers_more(supervisor_client, soporte):
    for index in range(55):
        make_conversation(customer(f"Cliente {index}", f"+54911300000{index:02d}"), area=soporte)
    first = supervisor_client.get("/desk/list/?tab=all", **HTMX)
    assert len(rows_of(first)) == 50
    assert b'data-desk-more="100"' in first.content
    everything = supervisor_client.get("/desk/list/?tab=all&limit=100", **HTMX)
    assert len(rows_of(everything)) == 55
    assert b"data-desk-more" not in everything.content


def test_the_list_takes_the_same_number_of_queries_for_few_or_many_chats(
    operator_client, ana, juan, soporte, django_assert_max_num_queries
):
    def count(n: int) -> int:
        for index in range(n):
            make_conversation(
                customer(f"C{n}-{index}", f"+549113{n:02d}{index:05d}", dni=f"3{index:07d}"),
                area=soporte,
                assignee=ana if index % 2 else None,
                unread_count=index,
            )
        with CaptureQueriesContext(db_connection) as queries:
            assert operator_client.get("/desk/list/?tab=queue", **HTMX).status_code == 200
        return len(queries)

    operator_client.get("/desk/list/", **HTMX)  # warm the settings cache
    few, many = count(2), count(12)
    assert few == many
    # The session, the user, her operator profile, the rows (what she may see is part of
    # their query), her unread total, the queue's size, the system pause state.
    with django_assert_max_num_queries(7):
        operator_client.get("/desk/list/?tab=mine", **HTMX)


def test_the_whole_page_answers_a_list_url_opened_without_htmx(operator_client, ana, soporte):
    response = operator_client.get("/desk/list/?tab=queue")
    assert b"data-desk" in response.content
    assert b'value="queue" checked' in response.content


# The other area's operator sees nothing --------------------------------------------------


def test_an_operator_of_another_area_sees_nothing_of_soporte(ana, sofia, soporte):
    pending = make_conversation(customer("Pedro", "+5491133334444"), area=soporte)
    assigned = make_conversation(area=soporte, assignee=ana)
    line(assigned, "secreto de soporte")
    client = logged_in_client(sofia.user)
    for tab in ("mine", "queue", "all"):
        response = client.get(f"/desk/list/?tab={tab}", **HTMX)
        assert rows_of(response) == []
    for chat in (pending, assigned):
        assert client.get(f"/desk/c/{chat.pk}/").status_code == 404
        assert client.get(f"/desk/c/{chat.pk}/", **HTMX).status_code == 404
        assert client.get(f"/desk/c/{chat.pk}/messages/?after=0").status_code == 404
        assert client.post(f"/desk/c/{chat.pk}/send/", {"text": "hola"}).status_code == 404
        assert client.post(f"/desk/c/{chat.pk}/close/").status_code == 404
    assert client.get("/desk/list/?tab=mine&q=secreto", **HTMX).status_code == 200
    assert not Message.objects.filter(text="hola").exists()


def test_an_unknown_chat_is_a_404(operator_client, ana):
    assert operator_client.get("/desk/c/999999/").status_code == 404


# The chat pane -------------------------------------------------------------------------------


def test_opening_a_chat_shows_the_contact_card(operator_client, ana, soporte, marcela):
    chat = make_conversation(marcela, area=soporte, assignee=ana)
    response = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Marcela Gómez" in html
    assert "DNI 28444555" in html
    assert "+54 9 11 2345-6789" in html
    assert "Soporte" in html
    assert "With Ana" in html
    assert 'data-status="open"' in html


def test_a_chat_link_opened_directly_renders_the_whole_console(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    html = operator_client.get(f"/desk/c/{chat.pk}/").content.decode()
    assert "<html" in html
    assert "desk desk-has-chat" in html
    assert f'data-chat="{chat.pk}"' in html
    assert 'aria-current="true"' in html  # highlighted in the list


def test_htmx_restoring_history_gets_the_whole_page(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.get(
        f"/desk/c/{chat.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


def test_bubbles_are_drawn_by_sender(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    line(chat, "Hola, no tengo internet", minutes_ago=4)
    line(chat, "Elegí una opción", Sender.BOT, status="delivered", minutes_ago=3)
    line(chat, "Te atiende Ana", Sender.SYSTEM, status="sent", minutes_ago=2)
    line(chat, "¿Reiniciaste el módem?", Sender.OPERATOR, status="read", minutes_ago=1)
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    order = [
        html.index("Hola, no tengo internet"),
        html.index("Elegí una opción"),
        html.index("Te atiende Ana"),
        html.index("¿Reiniciaste el módem?"),
    ]
    assert order == sorted(order)
    assert "desk-in desk-from-customer" in html
    assert "desk-out desk-from-bot" in html and ">bot<" in html
    assert "desk-system desk-from-system" in html
    assert "desk-out desk-from-operator" in html


@pytest.mark.parametrize(
    ("status", "state", "symbol"),
    [
        ("queued", "pending", "◷"),
        ("sending", "pending", "◷"),
        ("sent", "sent", "✓"),
        ("delivered", "delivered", "✓✓"),
        ("read", "read", "✓✓"),
        ("failed", "failed", "!"),
    ],
)
def test_ticks_follow_the_outbox_status(status, state, symbol):
    ticks = ticks_for(status, "boom")
    assert (ticks.state, ticks.symbol) == (state, symbol)


def test_a_failed_message_says_why_in_its_title(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    sent = line(chat, "Hola", Sender.OPERATOR, status="failed", error="number not on WhatsApp")
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert f'data-outbound="{sent.outbound_id}"' in html
    assert 'data-ticks="failed" title="Not delivered: number not on WhatsApp"' in html


def test_history_events_appear_inline_as_system_lines(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    line(chat, "Hola", minutes_ago=2)
    ConversationEvent.objects.create(
        conversation=chat,
        kind=EventKind.ASSIGNED,
        operator=ana,
        area=soporte,
        detail="Ana: 0 chats, fewest among Ana, Juan.",
        created_at=timezone.now() - timedelta(minutes=1),
    )
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert "desk-event" in html
    assert "Assigned · Ana · Soporte. Ana: 0 chats, fewest among Ana, Juan." in html
    assert html.index(">Hola<") < html.index("Assigned · Ana")


def test_earlier_conversations_link_to_their_read_only_view(operator_client, ana, soporte, marcela):
    old = make_conversation(marcela, ConversationStatus.CLOSED, area=soporte, assignee=ana)
    line(old, "la vez pasada")
    chat = make_conversation(marcela, area=soporte, assignee=ana)
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert "1 earlier conversation" in html
    assert f'href="/desk/c/{old.pk}/"' in html
    closed = operator_client.get(f"/desk/c/{old.pk}/", **HTMX).content.decode()
    assert "la vez pasada" in closed
    assert "This conversation is closed" in closed
    assert "data-desk-composer" not in closed
    assert "data-dialog-open" not in closed


def test_a_colleagues_chat_is_read_only_for_an_operator(operator_client, ana, juan, soporte):
    chat = make_conversation(area=soporte, assignee=juan)
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert "This chat is with a colleague" in html
    assert "data-desk-composer" not in html


def test_a_queued_chat_says_that_answering_takes_it(operator_client, ana, soporte):
    chat = make_conversation(area=soporte)
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert "data-desk-composer" in html
    assert "Answering assigns the chat to you." in html


def targets(client: Client, chat: Any, purpose: str) -> Any:
    return client.get(
        f"/desk/c/{chat.pk}/targets/", {"for": purpose}, headers={"HX-Request": "true"}
    )


def test_supervisors_get_assign_and_take_over(supervisor, ana, juan, soporte):
    Operator.objects.create(user=supervisor)
    chat = make_conversation(area=soporte, assignee=juan)
    client = logged_in_client(supervisor)
    html = client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    assert 'data-dialog-open="desk-assign-dialog"' in html
    assert 'name="take_over"' in html
    assert f'hx-get="/desk/c/{chat.pk}/targets/?for=assign"' in html

    options = targets(client, chat, "assign").content.decode()
    assert options.strip().startswith('<option value="">Choose an operator</option>')
    assert f'value="operator:{ana.pk}"' in options
    assert f'value="operator:{juan.pk}"' not in options  # already his
    assert "area:" not in options


def test_the_transfer_dialog_offers_other_areas_and_colleagues(
    operator_client, ana, juan, soporte, ventas
):
    Area.objects.create(name="Archivo", active=False)
    chat = make_conversation(area=soporte, assignee=ana)
    html = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX).content.decode()
    # Opening the chat reads no team: the dialog loads its options as it opens.
    assert f'hx-get="/desk/c/{chat.pk}/targets/?for=transfer"' in html
    assert "operator:" not in html and "area:" not in html

    options = targets(operator_client, chat, "transfer").content.decode()
    assert f'value="area:{ventas.pk}"' in options
    assert f'value="area:{soporte.pk}"' not in options  # where it already is
    assert "Archivo" not in options
    assert "Juan (online)" in options
    assert options.index("Area queues") < options.index("Operators")


def test_opening_a_chat_reads_neither_the_team_nor_the_pause_banner(
    operator_client, ana, juan, soporte, ventas
):
    chat = make_conversation(area=soporte, assignee=ana)
    with CaptureQueriesContext(db_connection) as queries:
        answer = operator_client.get(f"/desk/c/{chat.pk}/", **HTMX)

    assert answer.status_code == 200
    read = " ".join(query["sql"].replace("`", '"') for query in queries.captured_queries)
    # The transfer dialog's areas and colleagues load as it opens; the fragment has no
    # banner for the system's pause to show in.
    for table in ("operators_area", "operators_consolesession", "system_systemstate"):
        assert f'FROM "{table}"' not in read


def test_the_dialogs_options_say_when_someone_went_away_since_the_chat_opened(
    operator_client, ana, juan, soporte
):
    chat = make_conversation(area=soporte, assignee=ana)
    operator_client.get(f"/desk/c/{chat.pk}/", **HTMX)
    Operator.objects.filter(pk=juan.pk).update(away=True)

    assert "Juan (away)" in targets(operator_client, chat, "transfer").content.decode()


def test_the_options_are_only_for_whoever_may_move_the_chat(
    operator_client, supervisor_client, ana, juan, soporte
):
    theirs = make_conversation(area=soporte, assignee=juan)
    mine = make_conversation(make_contact("Mía", "+5491155550001"), area=soporte, assignee=ana)
    closed = make_conversation(
        make_contact("Cerrada", "+5491155550002"), area=soporte, assignee=ana, status="closed"
    )

    assert targets(operator_client, theirs, "transfer").status_code == 403
    assert targets(operator_client, closed, "transfer").status_code == 403
    assert targets(operator_client, mine, "assign").status_code == 403  # supervisors assign
    assert targets(supervisor_client, theirs, "assign").status_code == 200
    refused = targets(operator_client, theirs, "transfer")
    assert "operator:" not in refused.content.decode()


@pytest.mark.parametrize("purpose", ["", "close", "transfer\x00"])
def test_options_for_an_unknown_dialog_are_a_clear_error(operator_client, ana, soporte, purpose):
    chat = make_conversation(area=soporte, assignee=ana)
    answer = targets(operator_client, chat, purpose)

    assert answer.status_code == 400
    assert b"Say which dialog" in answer.content


def test_options_for_a_chat_out_of_sight_are_not_found(operator_client, ana, ventas):
    elsewhere = make_conversation(area=ventas)

    assert targets(operator_client, elsewhere, "transfer").status_code == 404


def test_opening_my_chat_marks_it_read(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana, unread_count=2)
    operator_client.get(f"/desk/c/{chat.pk}/", **HTMX)
    chat.refresh_from_db()
    assert chat.unread_count == 0


def test_a_supervisor_looking_at_a_chat_leaves_it_unread_for_its_operator(
    supervisor_client, ana, soporte
):
    chat = make_conversation(area=soporte, assignee=ana, unread_count=2)
    supervisor_client.get(f"/desk/c/{chat.pk}/", **HTMX)
    chat.refresh_from_db()
    assert chat.unread_count == 2


def test_message_text_is_escaped_never_markup(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana, last_message_preview=XSS)
    line(chat, XSS)
    page = operator_client.get(f"/desk/c/{chat.pk}/").content.decode()
    assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    contact = chat.contact
    contact.name = "<script>alert(1)</script>"
    contact.save()
    page = operator_client.get(f"/desk/c/{chat.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page


def test_new_lines_come_after_the_last_one_shown(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana, unread_count=1)
    first = line(chat, "primero")
    event = ConversationEvent.objects.create(
        conversation=chat, kind=EventKind.ASSIGNED, operator=ana, created_at=timezone.now()
    )
    second = line(chat, "segundo")
    response = operator_client.get(
        f"/desk/c/{chat.pk}/messages/?after={first.pk}&after_event={event.pk}", **HTMX
    )
    html = response.content.decode()
    assert "segundo" in html and "primero" not in html
    assert "desk-event" not in html
    assert response["X-Desk-Last-Message"] == str(second.pk)
    assert response["X-Desk-Last-Event"] == str(event.pk)
    chat.refresh_from_db()
    assert chat.unread_count == 0  # seen in the open chat


@pytest.mark.parametrize(
    ("who", "path", "everything"),
    [
        ("operator_client", "/desk/list/?tab=queue", 65),
        ("operator_client", "/desk/list/?tab=mine", 65),
        ("supervisor_client", "/desk/list/?tab=all", 130),
        ("supervisor_client", "/desk/?tab=all", 130),
    ],
)
def test_the_list_takes_the_same_queries_for_any_page_size(
    request, who, path, everything, ana, soporte
):
    client = request.getfixturevalue(who)
    for index in range(130):
        make_conversation(
            customer(f"Cliente {index}", f"+5491140{index:06d}", dni=f"3{index:07d}"),
            area=soporte if index % 5 else None,
            assignee=ana if index % 2 else None,
            unread_count=index % 3,
        )
    headers = HTMX if "/list/" in path else {}

    def count(limit: int) -> tuple[int, int]:
        with CaptureQueriesContext(db_connection) as queries:
            response = client.get(f"{path}&limit={limit}", **headers)
        assert response.status_code == 200
        return len(queries), len(rows_of(response))

    client.get(path, **headers)  # warm the settings cache
    (few, rows), (many, all_rows) = count(50), count(200)
    assert (rows, all_rows) == (50, everything)
    assert few == many
