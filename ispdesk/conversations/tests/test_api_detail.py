"""One conversation: its contact, earlier chats and history; and its messages, page by page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.conftest import logged_in_client
from ispdesk.conversations.api import DETAIL_EVENTS
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Message,
    Sender,
)
from ispdesk.conversations.tests.conftest import incoming, make_contact, make_conversation
from ispdesk.messaging.models import OutboundMessage, OutboundStatus
from ispdesk.operators.tests.conftest import post


def url(chat: Conversation, suffix: str = "") -> str:
    return f"/api/conversations/{chat.pk}{suffix}"


# Detail


def test_it_shows_the_contact_in_full(operator_client, ana, marcela, soporte):
    marcela.tags = ["fibra", "moroso"]
    marcela.notes = "Llamar después de las 18."
    marcela.splynx_customer_id = 4521
    marcela.save()
    chat = make_conversation(marcela, area=soporte, assignee=ana)

    body = operator_client.get(url(chat)).json()

    assert body["contact"] == {
        "id": marcela.pk,
        "name": "Marcela Gómez",
        "phone": "+5491123456789",
        "dni": "28444555",
        "tags": ["fibra", "moroso"],
        "notes": "Llamar después de las 18.",
        "splynx_customer_id": 4521,
    }
    assert (body["id"], body["status"], body["assignee"]) == (
        chat.pk,
        "open",
        {"id": ana.pk, "name": "Ana"},
    )
    assert (body["closed_at"], body["close_reason"]) == (None, "")


def test_it_lists_earlier_chats_of_the_customer_newest_first(
    operator_client, ana, marcela, soporte
):
    now = timezone.now()
    older = [
        make_conversation(
            marcela,
            ConversationStatus.CLOSED,
            soporte,
            now=now - timedelta(days=30 - n),
            last_message_preview=f"Charla {n}",
        )
        for n in range(22)
    ]
    current = make_conversation(marcela, area=soporte, assignee=ana, now=now)
    make_conversation(make_contact("Otra", "+5491100000001"), ConversationStatus.CLOSED, soporte)

    earlier = operator_client.get(url(current)).json()["earlier"]

    assert [row["id"] for row in earlier] == [c.pk for c in reversed(older)][:20]
    assert earlier[0]["status"] == "closed"
    assert earlier[0]["last_message_preview"] == "Charla 21"
    assert earlier[0]["closed_at"] is not None
    # An earlier chat sees only what came before it.
    oldest = operator_client.get(url(older[0])).json()
    assert oldest["earlier"] == []


def test_an_operator_sees_the_earlier_chats_of_the_customer_she_serves_in_any_area(
    operator_client, ana, marcela, soporte, ventas
):
    now = timezone.now()
    mine = make_conversation(marcela, ConversationStatus.CLOSED, soporte, now=now - timedelta(1))
    sales = make_conversation(
        marcela, ConversationStatus.CLOSED, ventas, now=now - timedelta(hours=2)
    )
    current = make_conversation(marcela, area=soporte, assignee=ana, now=now)

    earlier = operator_client.get(url(current)).json()["earlier"]

    assert [row["id"] for row in earlier] == [sales.pk, mine.pk]
    # Read-only history: the Ventas chat opens, but nothing can be done to it.
    assert operator_client.get(url(sales)).status_code == 200


def test_an_operator_does_not_see_another_areas_chats_of_a_customer_she_does_not_serve(
    operator_client, ana, marcela, ventas
):
    sales = make_conversation(marcela, ConversationStatus.CLOSED, ventas)
    assert operator_client.get(url(sales)).status_code == 404
    ongoing = make_conversation(make_contact("Otra", "+5491100000001"), area=ventas)
    assert operator_client.get(url(ongoing)).status_code == 404


def test_it_shows_the_history_with_who_did_what(
    supervisor_client, supervisor, ana, juan, connection, soporte
):
    chat = incoming(connection, "+5491155554444", "Hola", name="Pedro")
    assert chat.assignee_id is not None  # the general queue drained to someone online
    post(supervisor_client, url(chat, "/transfer"), {"area_id": soporte.pk, "note": "Fibra"})

    events = supervisor_client.get(url(chat)).json()["events"]

    assert [event["kind"] for event in events] == [
        "created",
        "contact_created",
        "handoff",
        "assigned",
        "transferred",
    ]
    assigned, transferred = events[3], events[4]
    assert assigned["actor"] is None  # the queue did it
    assert assigned["operator"]["id"] == chat.assignee_id
    assert transferred["actor"] == "Silvia"
    assert transferred["area"] == {"id": soporte.pk, "name": "Soporte"}
    assert transferred["detail"] == "Fibra"
    assert transferred["kind_label"]


def test_the_detail_takes_the_same_queries_with_many_events(operator_client, ana, marcela, soporte):
    chat = make_conversation(marcela, area=soporte, assignee=ana)

    def add_events(n: int) -> int:
        ConversationEvent.objects.bulk_create(
            ConversationEvent(
                conversation=chat,
                kind=EventKind.ASSIGNED,
                operator=ana,
                area=soporte,
                actor=ana.user,
                created_at=timezone.now(),
            )
            for _ in range(n)
        )
        with CaptureQueriesContext(db_connection) as captured:
            assert operator_client.get(url(chat)).status_code == 200
        return len(captured)

    assert add_events(2) == add_events(40)


def test_the_detail_answers_the_newest_events_oldest_first(
    supervisor_client, ana, marcela, soporte
):
    chat = make_conversation(marcela, area=soporte, assignee=ana)
    start = timezone.now() - timedelta(days=30)
    ConversationEvent.objects.bulk_create(
        ConversationEvent(
            conversation=chat,
            kind=EventKind.TRANSFERRED,
            area=soporte,
            detail=f"pase {i}",
            created_at=start + timedelta(hours=i),
        )
        for i in range(DETAIL_EVENTS + 5)
    )

    events = supervisor_client.get(url(chat)).json()["events"]

    assert [event["detail"] for event in events] == [
        f"pase {i}" for i in range(5, DETAIL_EVENTS + 5)
    ]


# Messages


def lines(chat: Conversation, n: int, start: int = 0) -> list[Message]:
    now = timezone.now()
    return [
        Message.objects.create(
            conversation=chat,
            sender=Sender.CUSTOMER,
            text=f"mensaje {i}",
            created_at=now + timedelta(seconds=i),
        )
        for i in range(start, start + n)
    ]


def texts(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["text"] for row in response.json()["items"]]


@pytest.fixture
def chat(marcela, soporte, ana) -> Conversation:  # type: ignore[no-untyped-def]
    return make_conversation(marcela, area=soporte, assignee=ana)


def test_the_latest_page_comes_oldest_first(operator_client, chat):
    lines(chat, 7)
    response = operator_client.get(url(chat, "/messages"), {"limit": 3})
    assert texts(response) == ["mensaje 4", "mensaje 5", "mensaje 6"]
    assert response.json()["has_more"] is True


def test_before_pages_back_to_the_first_message(operator_client, chat):
    made = lines(chat, 7)
    first = operator_client.get(url(chat, "/messages"), {"limit": 3, "before": made[4].pk})
    assert texts(first) == ["mensaje 1", "mensaje 2", "mensaje 3"]
    assert first.json()["has_more"] is True

    last = operator_client.get(url(chat, "/messages"), {"limit": 3, "before": made[1].pk})
    assert texts(last) == ["mensaje 0"]
    assert last.json()["has_more"] is False


def test_a_page_of_exactly_every_message_has_no_more(operator_client, chat):
    lines(chat, 3)
    response = operator_client.get(url(chat, "/messages"), {"limit": 3})
    assert texts(response) == ["mensaje 0", "mensaje 1", "mensaje 2"]
    assert response.json()["has_more"] is False


def test_after_catches_up_with_newer_messages(operator_client, chat):
    made = lines(chat, 6)
    response = operator_client.get(url(chat, "/messages"), {"limit": 2, "after": made[1].pk})
    assert texts(response) == ["mensaje 2", "mensaje 3"]
    assert response.json()["has_more"] is True

    rest = operator_client.get(url(chat, "/messages"), {"after": made[3].pk})
    assert texts(rest) == ["mensaje 4", "mensaje 5"]
    assert rest.json()["has_more"] is False
    none = operator_client.get(url(chat, "/messages"), {"after": made[5].pk})
    assert none.json() == {"items": [], "has_more": False}


def test_it_never_mixes_in_another_chats_messages(operator_client, chat, soporte, ana):
    other = make_conversation(make_contact("Otro", "+5491100000001"), area=soporte, assignee=ana)
    lines(other, 2)
    lines(chat, 1, start=5)
    assert texts(operator_client.get(url(chat, "/messages"))) == ["mensaje 5"]


def test_it_shows_who_wrote_and_how_far_it_got(operator_client, operator, chat, connection):
    failed = OutboundMessage.objects.create(
        connection=connection,
        to="5491123456789",
        body="Reiniciá el módem",
        status=OutboundStatus.FAILED,
        error="number not on WhatsApp",
        next_attempt_at=timezone.now(),
    )
    Message.objects.create(
        conversation=chat,
        sender=Sender.OPERATOR,
        text="Reiniciá el módem",
        author=operator,
        outbound=failed,
        created_at=timezone.now(),
    )
    lines(chat, 1)

    rows = operator_client.get(url(chat, "/messages")).json()["items"]

    assert rows[0] == {
        "id": rows[0]["id"],
        "sender": "operator",
        "text": "Reiniciá el módem",
        "media_url": "",
        "author": "Ana",
        "created_at": rows[0]["created_at"],
        "status": "failed",
        "error": "number not on WhatsApp",
    }
    assert (rows[1]["sender"], rows[1]["author"], rows[1]["status"]) == ("customer", None, None)


def test_a_script_in_a_message_comes_back_verbatim(operator_client, chat):
    script = '<script>alert("hola")</script> & <b>negrita</b>'
    sent = post(operator_client, url(chat, "/messages"), {"text": script})
    assert sent.json()["text"] == script

    assert texts(operator_client.get(url(chat, "/messages")))[-1] == script
    preview = operator_client.get("/api/conversations").json()["items"][0]
    assert preview["last_message_preview"] == script


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"before": 0}, "before"),
        ({"before": "x"}, "before"),
        ({"after": -1}, "after"),
        ({"before": 5, "after": 2}, "before"),
    ],
)
def test_it_names_the_bad_paging_parameter(operator_client, chat, query, field):
    response = operator_client.get(url(chat, "/messages"), query)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]


def test_messages_take_the_same_queries_for_5_or_60_lines(
    operator_client, operator, chat, connection, django_assert_max_num_queries
):
    def add(n: int) -> int:
        for i in range(n):
            outbound = OutboundMessage.objects.create(
                connection=connection, to="x", body="b", next_attempt_at=timezone.now()
            )
            Message.objects.create(
                conversation=chat,
                sender=Sender.OPERATOR if i % 2 else Sender.CUSTOMER,
                text="t",
                author=operator if i % 2 else None,
                outbound=outbound if i % 2 else None,
                created_at=timezone.now(),
            )
        with CaptureQueriesContext(db_connection) as captured:
            response = operator_client.get(url(chat, "/messages"), {"limit": 200})
        assert response.status_code == 200
        return len(captured)

    assert add(5) == add(55)
    with django_assert_max_num_queries(6):
        operator_client.get(url(chat, "/messages"), {"limit": 200})


def test_an_operator_of_another_area_cannot_read_the_messages(chat, sofia):
    lines(chat, 2)
    response = logged_in_client(sofia.user).get(url(chat, "/messages"))
    assert response.status_code == 404
    assert "mensaje" not in response.content.decode()
