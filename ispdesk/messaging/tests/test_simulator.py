"""The simulator gateway and its page: its webhook shape, what it publishes when ispdesk
sends, who may listen, the page and its no-JavaScript form, and the demo setup."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.test import Client
from django.utils.html import escape

from ispdesk.asgi import application
from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import (
    GatewayError,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.integrations.whatsapp.base import (
    InboundMessage as MessageEvent,
)
from ispdesk.integrations.whatsapp.simulator import SimulatorGateway, group_for
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.messaging.demo import load_messaging_demo
from ispdesk.messaging.models import (
    GatewayConnection,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
)
from ispdesk.messaging.outbox import queue_message
from ispdesk.messaging.simulator import CONNECTION_NAME
from ispdesk.messaging.tests.webhook_support import (
    MARCELA,
    hook_url,
    post_json,
    sent_message,
    simulator_connection,
)
from ispdesk.system.config import clear_config_cache, get_config
from ispdesk.system.models import SystemConfig
from ispdesk.testing.websocket import WebsocketClient

GROUP = "simulator.5491123456789"
TIMEOUT = 5


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def production(settings):  # type: ignore[no-untyped-def]
    """Neither demo nor test mode: the simulator exists only if an admin enabled it."""
    settings.TESTING = False
    settings.DEMO = False


def enable_simulator() -> None:
    SystemConfig.objects.update_or_create(key="simulator_enabled", defaults={"value": True})
    clear_config_cache()


def gateway() -> SimulatorGateway:
    adapter = registry.build("simulator", {})
    assert isinstance(adapter, SimulatorGateway)
    return adapter


# The adapter: webhook shape -----------------------------------------------------------------


def test_it_reads_a_message_in_the_simulators_shape():
    body = {
        "type": "message",
        "id": "sim-in-1",
        "from": "011 15 2345-6789",
        "name": "Marcela",
        "text": "Hola",
        "timestamp": 1772463600,
        "reply_to": "sim-7",
    }

    [event] = gateway().parse_webhook(json.dumps(body).encode())

    assert event == MessageEvent(
        provider_id="sim-in-1",
        chat_id="5491123456789",
        phone=MARCELA,
        lid="",
        from_me=False,
        name="Marcela",
        text="Hola",
        timestamp=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        quoted_id="sim-7",
    )


def test_it_reads_receipts_and_batches():
    body = [
        {"type": "receipt", "id": "sim-1", "status": "delivered"},
        {"type": "receipt", "id": "sim-2", "status": "failed", "error": "phone off"},
        {"type": "message", "id": "sim-in-2", "from": "+5491123456789", "text": "¿Hola?"},
    ]

    events = gateway().parse_webhook(json.dumps(body).encode())

    assert [type(event) for event in events] == [StatusReceipt, StatusReceipt, MessageEvent]
    assert (events[0].provider_id, events[0].status) == ("sim-1", "delivered")
    assert (events[1].status, events[1].error) == ("failed", "phone off")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"type": "message", "id": "x", "from": "+5491123456789"}',
        b'{"type": "message", "id": "", "from": "+5491123456789", "text": "a"}',
        b'{"type": "message", "id": "x", "from": "hola", "text": "a"}',
        b'{"type": "message", "id": "x", "from": "4", "text": "a"}',
        b'{"type": "receipt", "id": "x", "status": "played"}',
        b'{"type": "call", "id": "x"}',
        b'[{"type": "receipt", "id": "x", "status": "read"}, 5]',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_it_rejects_anything_else_with_400(body):
    with pytest.raises(WebhookRejected) as raised:
        gateway().parse_webhook(body)

    assert raised.value.status == 400


def test_it_uses_the_arrival_time_for_an_absurd_timestamp():
    body = {"type": "message", "id": "x", "from": MARCELA, "text": "a", "timestamp": 1e18}

    [event] = gateway().parse_webhook(json.dumps(body).encode())

    assert abs((event.timestamp - datetime.now(UTC)).total_seconds()) < 60


def test_it_accepts_a_webhook_only_with_the_url_secret():
    request = WebhookRequest("POST", b"{}", headers={}, query={})

    gateway().verify_webhook(request, url_secret_ok=True)
    with pytest.raises(WebhookRejected) as raised:
        gateway().verify_webhook(request, url_secret_ok=False)

    assert raised.value.status == 403


def test_it_sends_unlimited_and_refuses_what_no_phone_could_receive():
    assert SimulatorGateway.default_rate_per_second is None
    with pytest.raises(GatewayError) as empty:
        gateway().send_text(MARCELA, "   ")
    with pytest.raises(GatewayError) as nobody:
        gateway().send_text("no number", "Hola")

    assert empty.value.permanent and nobody.value.permanent


def test_it_names_the_group_of_a_number_in_any_form():
    assert {
        group_for(MARCELA),
        group_for("5491123456789@s.whatsapp.net"),
        group_for("011 15 2345-6789"),
    } == {GROUP}


# What ispdesk sends reaches the simulated phone --------------------------------------------


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


async def open_socket(user: Any) -> WebsocketClient:
    cookie = await sync_to_async(session_cookie)(user)
    socket = WebsocketClient(
        application,
        "/ws/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ],
    )
    connected, _code = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert (await socket.receive_json(timeout=TIMEOUT))["type"] == "hello"
    return socket


async def subscribe(socket: WebsocketClient, group: Any) -> dict[str, Any]:
    await socket.send_json({"type": "subscribe", "group": group})
    answer: dict[str, Any] = await socket.receive_json(timeout=TIMEOUT)
    return answer


async def next_of_type(socket: WebsocketClient, event_type: str) -> dict[str, Any]:
    for _ in range(10):
        event: dict[str, Any] = await socket.receive_json(timeout=TIMEOUT)
        if event["type"] == event_type:
            return event
    raise AssertionError(f"no {event_type} event")


@pytest.fixture
def in_memory_layer(settings):  # type: ignore[no-untyped-def]
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def send_like_the_sender(text: str) -> OutboundMessage:
    """Queue a message to Marcela, hand it to the simulator and store its id."""
    connection = GatewayConnection.objects.get(kind="simulator")
    message = queue_message(MARCELA, text, connection=connection)
    result = gateway().send_text(message.to, message.body)
    OutboundMessage.objects.filter(pk=message.pk).update(
        provider_id=result.provider_id, status=OutboundStatus.SENT
    )
    message.refresh_from_db()
    return message


def post_receipt(connection: GatewayConnection, provider_id: str, status: str) -> Any:
    body = {"type": "receipt", "id": provider_id, "status": status}
    return post_json(Client(), connection, body).json()


@pytest.mark.django_db(transaction=True)
async def test_a_message_sent_by_ispdesk_reaches_the_subscribed_phone(in_memory_layer, operator):
    connection = await sync_to_async(simulator_connection)()
    socket = await open_socket(operator)
    assert await subscribe(socket, GROUP) == {"type": "subscribed", "group": GROUP}

    message = await sync_to_async(send_like_the_sender)("Hola Marcela, ¿en qué te ayudamos?")

    event = await next_of_type(socket, "simulator:message")
    assert event["id"] == message.provider_id
    assert event["to"] == "5491123456789"
    assert event["text"] == "Hola Marcela, ¿en qué te ayudamos?"
    # The phone acknowledges through the webhook, as a real one would.
    answer = await sync_to_async(post_receipt)(connection, event["id"], "delivered")
    assert answer == {"status": "ok", "stored": 1}
    await message.arefresh_from_db()
    assert message.status == OutboundStatus.DELIVERED
    await socket.disconnect(timeout=TIMEOUT)


@pytest.mark.django_db(transaction=True)
async def test_another_numbers_phone_gets_nothing(in_memory_layer, operator):
    await sync_to_async(simulator_connection)()
    socket = await open_socket(operator)
    await subscribe(socket, "simulator.5493515550003")

    await sync_to_async(send_like_the_sender)("Solo para Marcela")
    await socket.send_json({"type": "ping"})

    # Events reach a socket in order: the pong comes with no simulator message before it.
    assert await socket.receive_json(timeout=TIMEOUT) == {"type": "pong"}
    await socket.disconnect(timeout=TIMEOUT)


@pytest.mark.django_db(transaction=True)
async def test_a_page_may_join_a_simulator_group_only_while_it_is_offered(
    in_memory_layer, production, operator
):
    socket = await open_socket(operator)

    denied = await subscribe(socket, GROUP)
    await sync_to_async(enable_simulator)()
    allowed = await subscribe(socket, GROUP)

    assert denied == {"type": "subscribe:denied", "group": GROUP}
    assert allowed == {"type": "subscribed", "group": GROUP}
    await socket.disconnect(timeout=TIMEOUT)
    assert not get_channel_layer().groups.get(GROUP)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "group",
    [
        "simulator.",
        "simulator.549 11",
        "simulator.abc",
        "simulator.12",
        "role.admin",
        "user.999999",
        "noc",
        "a" * 300,
    ],
)
async def test_it_refuses_groups_that_are_not_a_simulated_phone(in_memory_layer, operator, group):
    socket = await open_socket(operator)

    answer = await subscribe(socket, group)

    assert answer["type"] == "subscribe:denied"
    assert not get_channel_layer().groups.get(group)
    await socket.disconnect(timeout=TIMEOUT)


@pytest.mark.django_db(transaction=True)
async def test_it_ignores_a_subscribe_without_a_group_and_stays_connected(
    in_memory_layer, operator
):
    socket = await open_socket(operator)

    await socket.send_json({"type": "subscribe"})
    await socket.send_json({"type": "subscribe", "group": ["simulator.1"]})
    await socket.send_json({"type": "ping"})

    assert await socket.receive_json(timeout=TIMEOUT) == {"type": "pong"}
    await socket.disconnect(timeout=TIMEOUT)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_joins_a_bounded_number_of_extra_groups(in_memory_layer, operator):
    socket = await open_socket(operator)

    answers = [await subscribe(socket, f"simulator.54911000000{n:02d}") for n in range(12)]

    assert [answer["type"] for answer in answers] == ["subscribed"] * 10 + ["subscribe:denied"] * 2
    await socket.disconnect(timeout=TIMEOUT)


# The page ----------------------------------------------------------------------------------


def page(client: Client, **query: str) -> Any:
    return client.get("/simulator/", query)


def test_it_sends_anonymous_people_to_the_login_page(client, db):
    response = page(client)

    assert response.status_code == 302
    assert response["Location"].startswith("/login")


def test_it_does_not_exist_in_production_unless_enabled(operator_client, production):
    assert page(operator_client).status_code == 404
    assert (
        operator_client.post("/simulator/send/", {"phone": MARCELA, "text": "a"}).status_code == 404
    )
    assert "/simulator/" not in operator_client.get("/").content.decode()

    enable_simulator()

    assert page(operator_client).status_code == 200
    assert 'href="/simulator/"' in operator_client.get("/").content.decode()


def test_it_creates_the_simulator_connection_on_first_use(operator_client):
    page(operator_client)
    page(operator_client)

    connection = GatewayConnection.objects.get(kind="simulator")
    assert connection.name == CONNECTION_NAME
    assert connection.enabled


def test_it_shows_a_typed_argentine_number_normalised_with_the_webhook_url(operator_client):
    response = page(operator_client, phone="011 15 2345-6789", name="Marcela")

    html = response.content.decode()
    connection = GatewayConnection.objects.get(kind="simulator")
    assert "+54 9 11 2345-6789" in html
    assert f'data-phone="{MARCELA}"' in html
    assert f'data-group="{GROUP}"' in html
    assert f'data-webhook-url="{hook_url(connection)}"' in html
    assert "No messages with this number yet" in html


@pytest.mark.parametrize("typed", ["hola", "123", "4234-5678", "+54 9 11 15 2345-6789"])
def test_it_explains_why_a_number_is_not_usable(operator_client, typed):
    with pytest.raises(PhoneError) as expected:
        normalize_phone(typed, mobile=True)

    html = page(operator_client, phone=typed).content.decode()

    assert "is not a WhatsApp number" in html
    assert escape(expected.value.reason) in html
    assert "data-sim" not in html


def test_it_shows_the_history_with_that_number_only(operator_client):
    connection = simulator_connection()
    InboundMessage.objects.create(
        connection=connection,
        provider_id="sim-in-1",
        chat_id="5491123456789",
        phone=MARCELA,
        text="No tengo internet",
        sent_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
    )
    sent_message(connection, "sim-1", body="Reiniciá el módem, por favor")
    sent_message(connection, None, status=OutboundStatus.QUEUED, body="Todavía en la cola")
    sent_message(connection, "sim-2", to="+5493515550003", body="Para otra persona")

    html = page(operator_client, phone=MARCELA).content.decode()

    assert html.index("No tengo internet") < html.index("Reiniciá el módem, por favor")
    assert "Todavía en la cola" not in html  # never reached the phone
    assert "Para otra persona" not in html
    assert 'data-ack="pending"' in html  # sent, not yet acknowledged by the phone


def test_it_answers_a_resync_with_the_thread_only(operator_client):
    response = operator_client.get(
        "/simulator/", {"phone": MARCELA}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert "No messages with this number yet" in html


def test_it_offers_the_numbers_that_wrote_recently(operator_client):
    connection = simulator_connection()
    post_json(
        Client(),
        connection,
        {"type": "message", "id": "a", "from": MARCELA, "name": "Marcela", "text": "Hola"},
    )

    html = page(operator_client).content.decode()

    assert "Marcela · +54 9 11 2345-6789" in html


def test_it_says_so_when_an_admin_disabled_the_simulator_connection(operator_client):
    simulator_connection(enabled=False)

    html = page(operator_client, phone=MARCELA).content.decode()

    assert "The simulator connection is disabled" in html
    assert GatewayConnection.objects.count() == 1


def test_the_form_without_javascript_goes_through_the_webhook_code(operator_client):
    response = operator_client.post(
        "/simulator/send/", {"phone": "11 2345-6789", "name": "Marcela", "text": "Hola"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/simulator/?phone=%2B5491123456789&name=Marcela"
    message = InboundMessage.objects.get()
    assert (message.phone, message.name, message.text) == (MARCELA, "Marcela", "Hola")
    assert message.provider_id.startswith("sim-in-")


def test_the_form_without_javascript_refuses_a_bad_number(operator_client):
    response = operator_client.post(
        "/simulator/send/", {"phone": "hola", "text": "Hola"}, follow=True
    )

    assert "is not a WhatsApp number" in response.content.decode()
    assert not InboundMessage.objects.exists()


# Demo --------------------------------------------------------------------------------------


def test_the_demo_has_the_simulator_on_as_its_connection(db):
    load_messaging_demo()
    load_messaging_demo()

    connection = GatewayConnection.objects.get()
    assert (connection.kind, connection.enabled, connection.is_default) == ("simulator", True, True)
    clear_config_cache()
    assert get_config("simulator_enabled") is True
