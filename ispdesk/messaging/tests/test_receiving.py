"""Storing webhook events: once per provider id, phones normalised, @lid mapped, echoes as
outbound, receipts forward only, session state announced after commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ispdesk.asgi import application
from ispdesk.integrations.whatsapp.base import ConnectionState, QrCode, StatusReceipt
from ispdesk.messaging.inbound import register_inbound_handler, unregister_inbound_handler
from ispdesk.messaging.models import (
    STATUS_ORDER,
    GatewayConnection,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    Purpose,
)
from ispdesk.messaging.receiving import (
    clean_text,
    is_group_or_broadcast,
    next_status,
    phone_from,
    receive_events,
    sane_time,
)
from ispdesk.messaging.tests.webhook_support import (
    MARCELA,
    SENT_AT,
    message_event,
    receipt,
    sent_message,
    simulator_connection,
)
from ispdesk.testing.websocket import WebsocketClient

QR_IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
    "DwABBAEAfbLI3wAAAABJRU5ErkJggg=="
)


@pytest.fixture
def connection(db) -> GatewayConnection:  # type: ignore[no-untyped-def]
    return simulator_connection()


@pytest.fixture
def handed_off():  # type: ignore[no-untyped-def]
    """The messages the service desk would have received."""
    seen: list[InboundMessage] = []
    register_inbound_handler(seen.append)
    yield seen
    unregister_inbound_handler(seen.append)


# Pure decisions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        ("queued", "sent", "sent"),
        ("sending", "delivered", "delivered"),
        ("sent", "read", "read"),
        ("delivered", "read", "read"),
        ("read", "delivered", None),
        ("read", "sent", None),
        ("delivered", "delivered", None),
        ("sent", "failed", "failed"),
        ("sending", "failed", "failed"),
        ("delivered", "failed", None),
        ("read", "failed", None),
        ("failed", "read", None),
        ("failed", "failed", None),
        ("sent", "played", None),
    ],
)
def test_it_moves_a_status_forward_only(current, incoming, expected):
    assert next_status(current, incoming) == expected


@given(st.lists(st.sampled_from(["sent", "delivered", "read"]), min_size=1, max_size=12))
def test_any_order_of_receipts_ends_at_the_furthest_one(receipts):
    status = "sent"
    for incoming in receipts:
        status = next_status(status, incoming) or status
    assert status == max(["sent", *receipts], key=lambda name: STATUS_ORDER[name])


@pytest.mark.parametrize(
    "chat_id",
    ["120363025246125486@g.us", "status@broadcast", "1203630@newsletter", "123@G.US"],
)
def test_it_recognises_chats_that_are_not_a_person(chat_id):
    assert is_group_or_broadcast(chat_id)


def test_a_person_is_not_a_group():
    assert not is_group_or_broadcast("5491123456789@s.whatsapp.net")
    assert not is_group_or_broadcast("123456789012345@lid")


@pytest.mark.parametrize(
    ("phone", "chat_id", "expected"),
    [
        ("+5491123456789", "", MARCELA),
        ("5491123456789", "", MARCELA),
        ("", "5491123456789@s.whatsapp.net", MARCELA),
        ("", "541123456789@s.whatsapp.net", MARCELA),  # the no-9 form some gateways send
        ("", "5491123456789@c.us", MARCELA),
        ("", "5491123456789", MARCELA),
        ("", "123456789012345@lid", ""),
        ("+99912345678", "", "+99912345678"),  # unknown to our metadata, known to WhatsApp
        ("call me", "", ""),
    ],
)
def test_it_reads_the_phone_from_the_payload_or_a_phone_shaped_chat_id(phone, chat_id, expected):
    assert phone_from(phone, chat_id) == expected


def test_it_cleans_text_that_databases_refuse():
    assert clean_text("a\x00b\ud800c", 10) == "ab\ufffdc"
    assert clean_text("x" * 50, 20) == "x" * 20


def test_it_keeps_plausible_times_and_replaces_absurd_ones():
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert sane_time(now - timedelta(minutes=5), now) == now - timedelta(minutes=5)
    assert sane_time(datetime(1970, 1, 1, tzinfo=UTC), now) == now
    assert sane_time(now + timedelta(days=30), now) == now
    assert sane_time(datetime(2026, 3, 2, 14, 0), now) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


# Messages ----------------------------------------------------------------------------------


def test_it_stores_a_message_and_hands_it_off(connection, handed_off):
    received = receive_events(connection, [message_event("wamid.1")])

    message = InboundMessage.objects.get()
    assert (received.messages, received.stored) == (1, 1)
    assert message.provider_id == "wamid.1"
    assert message.phone == MARCELA
    assert message.chat_id == "5491123456789@s.whatsapp.net"  # kept as received
    assert message.sent_at == SENT_AT
    assert handed_off == [message]


def test_it_stores_the_same_message_once_however_often_it_arrives(connection, handed_off):
    answers = [receive_events(connection, [message_event("wamid.1")]) for _ in range(3)]

    assert [answer.stored for answer in answers] == [1, 0, 0]
    assert [answer.duplicates for answer in answers] == [0, 1, 1]
    assert InboundMessage.objects.count() == 1
    assert len(handed_off) == 1


def test_it_stores_a_message_repeated_within_one_delivery_once(connection, handed_off):
    received = receive_events(connection, [message_event("wamid.1"), message_event("wamid.1")])

    assert (received.messages, received.duplicates) == (1, 1)
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_customers_message_is_stored_by_one_statement(settings):
    from django.db import connection as db_connection
    from django.test.utils import CaptureQueriesContext

    settings.INBOUND_HANDLING = "background"  # the hand-over comes later, in its own batch
    number = simulator_connection()
    receive_events(number, [message_event("wamid.1")])

    with CaptureQueriesContext(db_connection) as queries:
        received = receive_events(number, [message_event("wamid.1"), message_event("wamid.2")])

    statements = [query["sql"] for query in queries]
    # On PostgreSQL the worker's hand-over loop is woken by the INSERT's own trigger
    # (`messaging.stored_wakeup`), not by a statement of ours.
    assert [sql.split()[0] for sql in statements] == ["INSERT"]
    assert (received.messages, received.duplicates) == (1, 1)
    assert sorted(InboundMessage.objects.values_list("provider_id", flat=True)) == [
        "wamid.1",
        "wamid.2",
    ]


def test_the_same_provider_id_on_two_connections_is_two_messages(connection):
    other = simulator_connection(name="Otro número")

    receive_events(connection, [message_event("wamid.1")])
    receive_events(other, [message_event("wamid.1")])

    assert InboundMessage.objects.count() == 2


def test_it_normalises_the_phone_and_keeps_the_chat_id(connection):
    receive_events(
        connection, [message_event("ABC", phone="", chat_id="541123456789@s.whatsapp.net")]
    )

    message = InboundMessage.objects.get()
    assert message.phone == MARCELA
    assert message.chat_id == "541123456789@s.whatsapp.net"


@pytest.mark.parametrize("chat_id", ["120363025246125486@g.us", "status@broadcast"])
def test_it_ignores_groups_and_broadcasts(connection, handed_off, chat_id):
    received = receive_events(connection, [message_event("G1", chat_id=chat_id, phone="")])

    assert (received.ignored, received.stored) == (1, 0)
    assert not InboundMessage.objects.exists()
    assert handed_off == []


def test_it_ignores_a_message_without_an_id(connection):
    received = receive_events(connection, [message_event("  ")])

    assert received.ignored == 1
    assert not InboundMessage.objects.exists()


def test_a_failing_handler_does_not_lose_the_message(connection, caplog):
    def broken(message: InboundMessage) -> None:
        InboundMessage.objects.filter(pk=message.pk).update(text="changed by the handler")
        raise RuntimeError("the service desk has a bug")

    register_inbound_handler(broken)
    try:
        received = receive_events(connection, [message_event("wamid.1")])
    finally:
        unregister_inbound_handler(broken)

    assert received.messages == 1
    # The handler's own writes are rolled back with it; the message stays as received.
    assert InboundMessage.objects.get().text == "Hola, no tengo internet"
    assert "inbound handler failed" in caplog.text


def test_it_stores_text_every_database_refuses_as_it_comes(connection):
    receive_events(
        connection,
        [
            message_event(
                "wamid.odd",
                name="N" * 500,
                text="nul\x00 and a lone surrogate \ud83d",
                message_type="a-type-name-far-too-long-for-the-column",
                media_url="javascript:alert(1)",
                timestamp=datetime(1, 1, 1, tzinfo=UTC),
            )
        ],
    )

    message = InboundMessage.objects.get()
    assert message.text == "nul and a lone surrogate \ufffd"
    assert len(message.name) == 200
    assert message.media_url == ""
    assert message.sent_at.year == timezone.now().year


# @lid identities ---------------------------------------------------------------------------


def test_it_maps_a_lid_to_the_phone_the_same_payload_gives(connection):
    receive_events(
        connection,
        [
            message_event(
                "L1", chat_id="123456789012345@lid", lid="123456789012345@lid", phone=MARCELA
            )
        ],
    )

    message = InboundMessage.objects.get()
    assert (message.chat_id, message.lid, message.phone) == (
        "123456789012345@lid",
        "123456789012345@lid",
        MARCELA,
    )


def test_it_fills_the_phone_of_a_lid_only_message_from_an_earlier_mapping(connection):
    receive_events(connection, [message_event("L1", chat_id="123@lid", lid="123@lid")])

    receive_events(connection, [message_event("L2", chat_id="123@lid", lid="", phone="")])

    assert InboundMessage.objects.get(provider_id="L2").phone == MARCELA
    assert InboundMessage.objects.get(provider_id="L2").lid == "123@lid"


def test_it_backfills_earlier_lid_only_messages_once_the_phone_is_known(connection):
    receive_events(connection, [message_event("L1", chat_id="777@lid", lid="", phone="")])
    assert InboundMessage.objects.get(provider_id="L1").phone == ""

    receive_events(connection, [message_event("L2", chat_id="777@lid", lid="777", phone=MARCELA)])

    assert set(InboundMessage.objects.values_list("phone", flat=True)) == {MARCELA}


def test_a_lid_without_any_mapping_keeps_an_empty_phone(connection):
    receive_events(connection, [message_event("L1", chat_id="999@lid", phone="")])

    message = InboundMessage.objects.get()
    assert (message.phone, message.lid) == ("", "999@lid")


# Echoes of messages sent from the phone ----------------------------------------------------


def test_it_stores_a_from_me_echo_as_a_sent_outbound_message(connection, handed_off):
    received = receive_events(
        connection, [message_event("3EB0ECHO", from_me=True, text="Te llamo en 5 minutos")]
    )

    echo = OutboundMessage.objects.get()
    assert received.echoes == 1
    assert (echo.purpose, echo.status, echo.provider_id) == (
        Purpose.ECHO,
        OutboundStatus.SENT,
        "3EB0ECHO",
    )
    assert (echo.to, echo.body, echo.sent_at) == (MARCELA, "Te llamo en 5 minutos", SENT_AT)
    assert not InboundMessage.objects.exists()
    assert handed_off == []  # never opens a chat


def test_it_does_not_store_the_echo_of_our_own_send(connection):
    ours = sent_message(connection, "3EB0OURS")

    received = receive_events(connection, [message_event("3EB0OURS", from_me=True)])

    assert (received.echoes, received.duplicates) == (0, 1)
    assert list(OutboundMessage.objects.all()) == [ours]


def test_it_stores_an_echo_once_however_often_it_arrives(connection):
    for _ in range(3):
        receive_events(connection, [message_event("3EB0ECHO", from_me=True)])

    assert OutboundMessage.objects.count() == 1


# Receipts ----------------------------------------------------------------------------------


def test_receipts_out_of_order_never_downgrade(connection):
    message = sent_message(connection, "wamid.out")

    receive_events(connection, [receipt("wamid.out", "read")])
    receive_events(connection, [receipt("wamid.out", "delivered")])
    receive_events(connection, [receipt("wamid.out", "sent")])
    receive_events(connection, [receipt("wamid.out", "failed", "too late")])

    message.refresh_from_db()
    assert message.status == OutboundStatus.READ
    assert message.read_at == SENT_AT
    assert message.delivered_at == SENT_AT  # a read message was delivered
    assert message.error == ""


def test_receipts_in_one_delivery_apply_in_order(connection):
    message = sent_message(connection, "wamid.out")

    received = receive_events(
        connection,
        [receipt("wamid.out", "delivered"), receipt("wamid.out", "read")],
    )

    message.refresh_from_db()
    assert (received.receipts, message.status) == (2, OutboundStatus.READ)


def test_a_failed_receipt_fails_the_message_with_the_reason(connection):
    message = sent_message(connection, "wamid.out")

    receive_events(connection, [receipt("wamid.out", "failed", "undeliverable [131026]")])
    receive_events(connection, [receipt("wamid.out", "delivered")])

    message.refresh_from_db()
    assert message.status == OutboundStatus.FAILED
    assert message.error == "undeliverable [131026]"
    assert message.failed_at == SENT_AT
    assert message.delivered_at is None


def test_receipts_for_unknown_ids_are_ignored(connection):
    sent_message(connection, "wamid.known")

    received = receive_events(connection, [receipt("wamid.unknown", "read")])

    assert (received.stale_receipts, received.stored) == (1, 0)
    assert OutboundMessage.objects.get().status == OutboundStatus.SENT


def test_a_receipt_only_touches_its_own_connections_message(connection):
    other = simulator_connection(name="Otro número")
    theirs = sent_message(other, "wamid.shared")

    receive_events(connection, [receipt("wamid.shared", "read")])

    theirs.refresh_from_db()
    assert theirs.status == OutboundStatus.SENT


def test_a_batch_of_receipts_takes_a_fixed_number_of_queries(
    connection, django_assert_max_num_queries
):
    for number in range(40):
        sent_message(connection, f"wamid.{number}")

    with django_assert_max_num_queries(8):
        received = receive_events(
            connection, [receipt(f"wamid.{number}", "delivered") for number in range(40)]
        )

    assert received.receipts == 40
    assert OutboundMessage.objects.filter(status=OutboundStatus.DELIVERED).count() == 40


# Connection state and QR -------------------------------------------------------------------


def test_it_stores_a_qr_and_then_the_connected_state(connection):
    receive_events(connection, [QrCode(QR_IMAGE, "2@abc")])

    connection.refresh_from_db()
    assert (connection.status, connection.last_qr) == ("qr", QR_IMAGE)
    first_change = connection.status_changed_at
    assert first_change is not None

    receive_events(connection, [ConnectionState("connected", "5491100000000")])

    connection.refresh_from_db()
    assert (connection.status, connection.status_detail, connection.last_qr) == (
        "connected",
        "5491100000000",
        "",
    )
    assert connection.status_changed_at >= first_change


def test_it_ignores_a_qr_that_is_not_an_image(connection):
    receive_events(connection, [QrCode("javascript:alert(1)")])

    connection.refresh_from_db()
    assert (connection.status, connection.last_qr) == ("unknown", "")


# Real-time events after commit --------------------------------------------------------------


def _session_cookie(user) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


async def _admin_socket(user) -> WebsocketClient:  # type: ignore[no-untyped-def]
    cookie = await sync_to_async(_session_cookie)(user)
    socket = WebsocketClient(
        application,
        "/ws/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ],
    )
    connected, _code = await socket.connect(timeout=5)
    assert connected
    assert (await socket.receive_json(timeout=5))["type"] == "hello"
    return socket


@pytest.mark.django_db(transaction=True)
async def test_it_announces_messages_receipts_and_session_changes_to_admins(
    admin, settings, monkeypatch
):
    # Only the messaging layer's own events: the service desk's handler is left out.
    monkeypatch.setattr("ispdesk.messaging.inbound._handlers", [])
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    connection = await sync_to_async(simulator_connection)()
    outbound = await sync_to_async(sent_message)(connection, "wamid.out")
    socket = await _admin_socket(admin)

    await sync_to_async(receive_events)(
        connection,
        [
            message_event("wamid.in"),
            receipt("wamid.out", "delivered"),
            QrCode(QR_IMAGE),
        ],
    )

    events = [await socket.receive_json(timeout=5) for _ in range(4)]
    inbound = await InboundMessage.objects.aget()
    # The delivery's own events go out as it commits; the new message's once it is handed
    # over to the desk, which happens after that.
    assert events == [
        {"type": "message:status", "message": outbound.pk, "status": "delivered"},
        {"type": "session:status", "connection": connection.pk, "status": "qr", "detail": ""},
        {"type": "session:qr", "connection": connection.pk},
        {
            "type": "message:new",
            "direction": "in",
            "connection": connection.pk,
            "message": inbound.pk,
            "phone": MARCELA,
        },
    ]
    await socket.disconnect(timeout=5)


TEXT = st.text(max_size=300)


@hypothesis_settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    provider_id=TEXT,
    chat_id=TEXT,
    phone=TEXT,
    lid=TEXT,
    name=TEXT,
    text=st.text(max_size=2000),
    message_type=TEXT,
    media_url=TEXT,
    from_me=st.booleans(),
    timestamp=st.datetimes(timezones=st.just(UTC)),
)
def test_any_text_an_adapter_passes_on_is_stored_or_ignored_never_raised(
    connection,
    provider_id,
    chat_id,
    phone,
    lid,
    name,
    text,
    message_type,
    media_url,
    from_me,
    timestamp,
):
    event = message_event(
        provider_id,
        chat_id=chat_id,
        phone=phone,
        lid=lid,
        name=name,
        text=text,
        message_type=message_type,
        media_url=media_url,
        from_me=from_me,
        timestamp=timestamp,
    )

    received = receive_events(connection, [event, receipt(provider_id, "read")])

    assert received.messages + received.echoes + received.duplicates + received.ignored == 1


def test_a_failure_keeps_the_providers_code_in_the_reason(connection):
    message = sent_message(connection, "wamid.out")

    receive_events(
        connection,
        [StatusReceipt("wamid.out", "failed", SENT_AT, "the window is closed", code="131047")],
    )

    message.refresh_from_db()
    assert message.error == "the window is closed [131047]"
