"""Who hears what on the websocket: the desk's groups, presence from the console's hello.

Real sockets on `ispdesk.asgi.application` (in-process, the in-memory channel layer), real
chats through `incoming(...)`. Absence is proven by order, not by waiting: a marker sent to
the person's own `user.<id>` group after the chat's events must be the next thing they get
(a layer delivers to one socket in the order events were sent), then a short bounded check
that nothing trails it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.test import Client

from ispdesk.accounts.models import User
from ispdesk.asgi import application
from ispdesk.conversations.models import Conversation, ConversationStatus
from ispdesk.conversations.tests.conftest import (
    MARCELA,
    incoming,
    make_contact,
    make_conversation,
)
from ispdesk.messaging.models import GatewayConnection
from ispdesk.operators.models import Area, ConsoleSession, Operator
from ispdesk.realtime.events import publish_now
from ispdesk.testing.websocket import WebsocketClient

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5
# How long a socket must stay silent once the marker proved nothing came before it.
QUIET_SECONDS = 0.2
# Enough frames for one chat's whole arrival (lines, queue, assignment), with room to spare.
MAX_FRAMES = 30
PEDRO = "+5491155550001"


@pytest.fixture(autouse=True)
async def in_memory_layer(settings: Any) -> AsyncIterator[Any]:
    """The in-memory layer whatever REDIS_URL says, emptied after each test."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 100}}
    }
    layer = get_channel_layer()
    yield layer
    await layer.flush()


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


async def open_socket(user: User) -> WebsocketClient:
    """A connected socket whose `hello` has been read."""
    cookie = await sync_to_async(session_cookie)(user)
    socket = WebsocketClient(
        application,
        "/ws/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ],
    )
    connected, _code = await socket.connect(timeout=TIMEOUT)
    assert connected
    hello = await socket.receive_json(timeout=TIMEOUT)
    assert hello["type"] == "hello"
    return socket


async def subscribe(socket: WebsocketClient, group: str) -> dict[str, Any]:
    await socket.send_json({"type": "subscribe", "group": group})
    answer: dict[str, Any] = await socket.receive_json(timeout=TIMEOUT)
    return answer


async def frames_until(
    socket: WebsocketClient, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Read frames until `done(frames so far)`; fails on a timeout or too many frames."""
    frames: list[dict[str, Any]] = []
    while not done(frames):
        assert len(frames) < MAX_FRAMES, f"gave up after {frames}"
        frames.append(await socket.receive_json(timeout=TIMEOUT))
    return frames


def types_for(frames: list[dict[str, Any]], conversation_id: int) -> set[str]:
    return {str(f["type"]) for f in frames if f.get("conversation") == conversation_id}


async def frames_before_marker(socket: WebsocketClient, user: User) -> list[dict[str, Any]]:
    """Everything that reached `socket` from events sent before now: a marker is sent to the
    user's own group and frames are read up to it; then nothing may trail it."""
    marker = {"type": "test:marker", "for": user.pk}
    await sync_to_async(publish_now)([f"user.{user.pk}"], marker)
    frames = await frames_until(socket, lambda frames: bool(frames) and frames[-1] == marker)
    assert await socket.receive_nothing(timeout=QUIET_SECONDS)
    return frames[:-1]


async def assert_hears_nothing_more(socket: WebsocketClient, user: User) -> None:
    assert await frames_before_marker(socket, user) == []


def members_of(group: str) -> set[str]:
    groups: dict[str, Any] = get_channel_layer().groups  # type: ignore[union-attr]
    return set(groups.get(group, {}))


def chat_in(area: Area, phone: str, name: str) -> Conversation:
    return make_conversation(make_contact(name, phone), area=area)


def customer_of(area: Area, phone: str, name: str) -> None:
    make_contact(name, phone, preferred_area=area)


def soporte_customer_writes(connection: GatewayConnection, soporte: Area) -> Conversation:
    """Marcela prefers Soporte, so with no bot flow her first message goes to its queue."""
    customer_of(soporte, MARCELA, "Marcela Gómez")
    return incoming(connection, MARCELA, "hola, no tengo internet", name="Marcela")


# Joining groups ---------------------------------------------------------------------------


async def test_sofia_of_ventas_may_not_join_soporte_or_its_chats(
    sofia: Operator, soporte: Area, ventas: Area, connection: GatewayConnection
) -> None:
    chat = await sync_to_async(chat_in)(soporte, MARCELA, "Marcela Gómez")
    socket = await open_socket(sofia.user)

    for group in (f"area.{soporte.pk}", f"conversation.{chat.pk}"):
        assert await subscribe(socket, group) == {"type": "subscribe:denied", "group": group}
        assert members_of(group) == set()
    # Her own area is open to her: the refusals above are about Soporte, not about her.
    own = f"area.{ventas.pk}"
    assert await subscribe(socket, own) == {"type": "subscribed", "group": own}
    assert len(members_of(own)) == 1
    await socket.disconnect(timeout=TIMEOUT)


async def test_ana_of_soporte_may_join_soporte_and_its_chats_but_not_ventas(
    ana: Operator, soporte: Area, ventas: Area, connection: GatewayConnection
) -> None:
    chat = await sync_to_async(chat_in)(soporte, MARCELA, "Marcela Gómez")
    socket = await open_socket(ana.user)

    for group in (f"area.{soporte.pk}", f"conversation.{chat.pk}"):
        assert await subscribe(socket, group) == {"type": "subscribed", "group": group}
        assert len(members_of(group)) == 1
    denied = f"area.{ventas.pk}"
    assert await subscribe(socket, denied) == {"type": "subscribe:denied", "group": denied}
    await socket.disconnect(timeout=TIMEOUT)


async def test_only_an_operator_may_join_the_general_queue(omar: User, ana: Operator) -> None:
    omar_socket = await open_socket(omar)
    ana_socket = await open_socket(ana.user)

    assert await subscribe(omar_socket, "area.general") == {
        "type": "subscribe:denied",
        "group": "area.general",
    }
    assert await subscribe(ana_socket, "area.general") == {
        "type": "subscribed",
        "group": "area.general",
    }
    assert len(members_of("area.general")) == 1
    await omar_socket.disconnect(timeout=TIMEOUT)
    await ana_socket.disconnect(timeout=TIMEOUT)


async def test_a_missing_chat_is_refused_like_a_forbidden_one(ana: Operator) -> None:
    socket = await open_socket(ana.user)

    for group in ("conversation.999999", "area.999999", "conversation.abc"):
        assert await subscribe(socket, group) == {"type": "subscribe:denied", "group": group}
    await socket.disconnect(timeout=TIMEOUT)


# What reaches whom ------------------------------------------------------------------------


async def test_a_soporte_message_reaches_ana_and_nothing_of_it_reaches_sofia(
    ana: Operator, sofia: Operator, soporte: Area, ventas: Area, connection: GatewayConnection
) -> None:
    ana_socket = await open_socket(ana.user)
    sofia_socket = await open_socket(sofia.user)
    # What their consoles join on opening: their own areas.
    assert (await subscribe(ana_socket, f"area.{soporte.pk}"))["type"] == "subscribed"
    assert (await subscribe(sofia_socket, f"area.{ventas.pk}"))["type"] == "subscribed"

    chat = await sync_to_async(soporte_customer_writes)(connection, soporte)

    assert chat.area_id == soporte.pk
    assert chat.assignee_id == ana.pk  # the only Soporte operator online
    heard = await frames_until(
        ana_socket,
        lambda frames: {"message:new", "conversation:incoming"} <= types_for(frames, chat.pk),
    )
    incoming_event = next(f for f in heard if f["type"] == "conversation:incoming")
    assert incoming_event["area"] == soporte.pk
    # Contacts are the whole team's (any operator may look one up), so a new WhatsApp id on
    # Marcela's card is announced to `role.operator`; nothing about the chat itself is.
    heard_by_sofia = await frames_before_marker(sofia_socket, sofia.user)
    assert [f for f in heard_by_sofia if f["type"] != "contact:update"] == []
    assert all(set(f) == {"type", "contact"} for f in heard_by_sofia)
    await ana_socket.disconnect(timeout=TIMEOUT)
    await sofia_socket.disconnect(timeout=TIMEOUT)


async def test_sofia_hears_a_soporte_chat_only_once_it_is_transferred_to_ventas(
    ana: Operator, sofia: Operator, soporte: Area, ventas: Area, connection: GatewayConnection
) -> None:
    chat = await sync_to_async(soporte_customer_writes)(connection, soporte)
    sofia_socket = await open_socket(sofia.user)
    assert (await subscribe(sofia_socket, f"area.{ventas.pk}"))["type"] == "subscribed"

    def transfer() -> None:
        from ispdesk.conversations.actions import do_transfer

        do_transfer(ana.user, chat.pk, area_id=ventas.pk, note="Quiere cambiar de plan")

    await sync_to_async(transfer)()

    # Sofía is offline, so the chat waits in Ventas' queue, which she does hear.
    heard = await frames_until(
        sofia_socket,
        lambda frames: any(t.startswith("conversation:") for t in types_for(frames, chat.pk)),
    )
    assert heard[-1]["area"] == ventas.pk
    assert heard[-1]["status"] == ConversationStatus.PENDING
    await sofia_socket.disconnect(timeout=TIMEOUT)


async def test_supervisors_hear_every_area_through_their_role_group(
    supervisor: User, ana: Operator, soporte: Area, ventas: Area, connection: GatewayConnection
) -> None:
    socket = await open_socket(supervisor)  # no subscriptions: `role.supervisor` only

    def two_customers_write() -> tuple[Conversation, Conversation]:
        customer_of(ventas, PEDRO, "Pedro Ruiz")
        soporte_chat = soporte_customer_writes(connection, soporte)
        return soporte_chat, incoming(connection, PEDRO, "quiero fibra", name="Pedro")

    soporte_chat, ventas_chat = await sync_to_async(two_customers_write)()

    heard = await frames_until(
        socket,
        lambda frames: (
            {"message:new", "conversation:incoming"} <= types_for(frames, soporte_chat.pk)
            and {"message:new", "conversation:incoming"} <= types_for(frames, ventas_chat.pk)
        ),
    )
    areas = {f["area"] for f in heard if str(f["type"]).startswith("conversation:")}
    assert areas == {soporte.pk, ventas.pk}
    await socket.disconnect(timeout=TIMEOUT)


# Presence ---------------------------------------------------------------------------------


async def test_the_console_hello_brings_an_operator_online_and_closing_it_offline(
    supervisor: User, sofia: Operator
) -> None:
    watcher = await open_socket(supervisor)
    console = await open_socket(sofia.user)
    assert not await ConsoleSession.objects.filter(operator=sofia).aexists()

    await console.send_json({"type": "console:hello"})

    replies = await frames_until(
        console, lambda frames: bool(frames) and frames[-1]["type"] == "presence"
    )
    assert replies[-1] == {"type": "presence", "presence": "online"}
    assert await ConsoleSession.objects.filter(operator=sofia).acount() == 1
    assert await watcher.receive_json(timeout=TIMEOUT) == {
        "type": "presence:update",
        "operator": sofia.pk,
        "presence": "online",
    }

    await console.disconnect(timeout=TIMEOUT)

    assert await watcher.receive_json(timeout=TIMEOUT) == {
        "type": "presence:update",
        "operator": sofia.pk,
        "presence": "offline",
    }
    assert not await ConsoleSession.objects.filter(operator=sofia).aexists()
    await watcher.disconnect(timeout=TIMEOUT)


async def test_a_second_console_keeps_the_operator_online_when_the_first_closes(
    supervisor: User, sofia: Operator
) -> None:
    watcher = await open_socket(supervisor)
    first = await open_socket(sofia.user)
    second = await open_socket(sofia.user)
    for console in (first, second):
        await console.send_json({"type": "console:hello"})
        await frames_until(
            console, lambda frames: bool(frames) and frames[-1]["type"] == "presence"
        )
    assert (await watcher.receive_json(timeout=TIMEOUT))["presence"] == "online"

    await first.disconnect(timeout=TIMEOUT)

    assert await ConsoleSession.objects.filter(operator=sofia).acount() == 1
    # No "offline" for the supervisors: the marker is the next thing they hear.
    await assert_hears_nothing_more(watcher, supervisor)
    await second.disconnect(timeout=TIMEOUT)
    assert (await watcher.receive_json(timeout=TIMEOUT))["presence"] == "offline"
    await watcher.disconnect(timeout=TIMEOUT)


async def test_a_console_hello_without_an_operator_profile_stays_offline(
    omar: User, supervisor: User
) -> None:
    watcher = await open_socket(supervisor)
    socket = await open_socket(omar)

    await socket.send_json({"type": "console:hello"})

    assert await socket.receive_json(timeout=TIMEOUT) == {"type": "presence", "presence": "offline"}
    assert not await ConsoleSession.objects.aexists()
    await assert_hears_nothing_more(watcher, supervisor)
    await socket.disconnect(timeout=TIMEOUT)
    await watcher.disconnect(timeout=TIMEOUT)
