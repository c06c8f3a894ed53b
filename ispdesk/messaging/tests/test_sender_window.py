"""The Cloud API's 24-hour window: free text goes only to customers who wrote in the last
24 hours on that number; other gateways have no window."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.messaging.models import GatewayConnection, InboundMessage, Purpose
from ispdesk.messaging.sender import due_rows, send_due_messages
from ispdesk.messaging.sending import WINDOW_CLOSED, SendingPass, deliver
from ispdesk.messaging.tests.sender_support import CUSTOMER, make_connection, queue, reloaded
from ispdesk.testing.fakes.graph import FakeGraph


def cloud_connection(graph: FakeGraph) -> GatewayConnection:
    return GatewayConnection.objects.create(
        kind="meta_cloud", name="Cloud API", config=graph.config(), rate_per_second=0
    )


def wrote(connection: GatewayConnection, phone: str, at: Any, chat_id: str = "") -> None:
    InboundMessage.objects.create(
        connection=connection,
        provider_id=f"wamid.{uuid.uuid4().hex}",
        chat_id=chat_id or phone.lstrip("+"),
        phone=phone,
        text="hola",
        sent_at=at,
    )


def test_it_sends_free_text_inside_the_24_hour_window(db, graph):
    connection = cloud_connection(graph)
    [message] = queue(connection)
    now = timezone.now()
    wrote(connection, CUSTOMER, now - timedelta(hours=23, minutes=59))

    delivery = deliver(message.pk, "worker", now=now)

    message = reloaded(message)
    assert delivery.outcome == "sent"
    assert [(sent["to"], sent["text"]["body"]) for sent in graph.accepted] == [
        ("5491123456789", "mensaje 0")
    ]
    assert message.provider_id == graph.accepted[0]["id"]


def test_it_fails_free_text_outside_the_window_without_calling_meta(db, graph, script):
    connection = cloud_connection(graph)
    other = make_connection(script)
    [message] = queue(connection)
    now = timezone.now()
    wrote(connection, CUSTOMER, now - timedelta(hours=25))
    wrote(connection, "+5491199999999", now - timedelta(minutes=5))  # someone else
    wrote(other, CUSTOMER, now - timedelta(minutes=5))  # on another number

    delivery = deliver(message.pk, "worker", now=now)

    message = reloaded(message)
    assert delivery.outcome == "failed"
    assert (message.status, message.error) == ("failed", WINDOW_CLOSED)
    assert graph.requests == []


def test_the_window_applies_to_operator_alerts_too(db, graph):
    connection = cloud_connection(graph)
    [message] = queue(connection, to="+5491155554444", purpose=Purpose.OPERATOR_ALERT)

    deliver(message.pk, "worker")

    assert (reloaded(message).status, reloaded(message).error) == ("failed", WINDOW_CLOSED)
    assert graph.requests == []


def test_it_finds_the_window_by_chat_id_when_the_phone_is_unknown(db, graph):
    connection = cloud_connection(graph)
    [message] = queue(connection, to="5491123456789")
    now = timezone.now()
    wrote(connection, "", now - timedelta(hours=1), chat_id="5491123456789")

    assert deliver(message.pk, "worker", now=now).outcome == "sent"
    assert len(graph.accepted) == 1


def test_gateways_without_a_window_send_to_anyone(db, script):
    connection = make_connection(script)
    [message] = queue(connection, to="+5491155554444")

    assert deliver(message.pk, "worker").outcome == "sent"


def test_a_pass_reads_its_recipients_windows_in_one_query(db, graph):
    connection = cloud_connection(graph)
    recent = [f"+549112345000{n}" for n in range(3)]
    for phone in [*recent, "+5491123450090", "+5491123450091"]:
        queue(connection, to=phone)
    now = timezone.now()
    for phone in recent:
        wrote(connection, phone, now - timedelta(hours=2))
    wrote(connection, "+5491123450090", now - timedelta(hours=25))

    with CaptureQueriesContext(db_connection) as queries:
        result = send_due_messages("worker", now=now)

    assert dict(result.outcomes) == {"sent": 3, "failed": 2}
    assert sorted(sent["to"] for sent in graph.accepted) == [p.lstrip("+") for p in recent]
    inbound = [q["sql"] for q in queries if "messaging_inboundmessage" in q["sql"]]
    # One for the pass; the two it shows closed are looked up again: by phone (the one who
    # wrote too long ago), by phone then chat id (the one who never wrote).
    assert len(inbound) == 1 + 1 + 2, "\n".join(inbound)


def test_a_customer_who_writes_after_the_pass_read_the_windows_is_answered(db, graph):
    connection = cloud_connection(graph)
    [message] = queue(connection)
    now = timezone.now()
    wrote(connection, CUSTOMER, now - timedelta(hours=30))
    [listed] = due_rows(now, 10)
    shared = SendingPass.of([listed])
    wrote(connection, CUSTOMER, now - timedelta(seconds=1))

    assert deliver(message.pk, "worker", now=now, listed=listed, shared=shared).outcome == "sent"
    assert len(graph.accepted) == 1
