"""The websocket at /ws/: who may connect, which groups they join, what reaches them.

These tests drive `ispdesk.asgi.application` in-process with Channels' communicator, over the
in-memory channel layer and over Redis.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import ANY

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client

from ispdesk.accounts.models import User
from ispdesk.asgi import application
from ispdesk.realtime import events
from ispdesk.realtime.consumers import (
    BUNDLE_FRAME,
    CLOSE_UNAUTHENTICATED,
    RECENT_EVENT_IDS,
    EventsConsumer,
)
from ispdesk.realtime.events import (
    bundled_events,
    close_publisher_pools,
    publish_now,
    send_event_on_commit,
)
from ispdesk.system.audit import record_audit
from ispdesk.system.models import AuditEvent
from ispdesk.testing.websocket import WebsocketClient

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


async def open_socket(user: User | None = None) -> WebsocketClient:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketClient(application, "/ws/", headers=headers)
    connected, _subprotocol = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator


async def open_socket_for(user: User) -> WebsocketClient:
    """A connected socket whose `hello` has been read."""
    communicator = await open_socket(user)
    hello = await communicator.receive_json(timeout=TIMEOUT)
    assert hello["type"] == "hello"
    return communicator


async def next_event_type(communicator: WebsocketClient) -> str:
    event = await communicator.receive_json(timeout=TIMEOUT)
    return str(event["type"])


@pytest.fixture(params=["in-memory", "redis"])
async def channel_layer(request, settings) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    """Each delivery test runs over the in-memory layer and over a real Redis."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "ispdesk.realtime.layers.PipelinedRedisChannelLayer",
                "CONFIG": {
                    "hosts": [{"address": url, "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}],
                    "prefix": "ispdesk-test",
                },
            }
        }
    layer = get_channel_layer()
    yield layer
    await sync_to_async(close_publisher_pools)(layer)
    await layer.flush()
    if hasattr(layer, "close_pools"):
        await layer.close_pools()


async def test_it_closes_an_anonymous_socket_with_4401_without_joining_groups():
    communicator = await open_socket()

    closing = await communicator.receive_output(timeout=TIMEOUT)

    assert closing == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    assert all(not members for members in get_channel_layer().groups.values())


async def test_it_greets_a_logged_in_user_with_their_groups(operator):
    communicator = await open_socket(operator)

    hello = await communicator.receive_json(timeout=TIMEOUT)

    assert hello == {"type": "hello", "groups": [f"user.{operator.pk}", "role.operator"]}
    await communicator.disconnect(timeout=TIMEOUT)


async def test_it_closes_the_socket_of_a_user_deactivated_after_login(operator):
    cookie = await sync_to_async(session_cookie)(operator)
    await User.objects.filter(pk=operator.pk).aupdate(is_active=False)
    communicator = WebsocketClient(
        application,
        "/ws/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ],
    )
    await communicator.connect(timeout=TIMEOUT)

    closing = await communicator.receive_output(timeout=TIMEOUT)

    assert closing == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def test_it_refuses_a_socket_from_a_foreign_origin(operator):
    cookie = await sync_to_async(session_cookie)(operator)
    communicator = WebsocketClient(
        application,
        "/ws/",
        headers=[
            (b"origin", b"https://evil.example"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ],
    )

    connected, _code = await communicator.connect(timeout=TIMEOUT)

    assert not connected


async def test_it_answers_a_ping_with_a_pong_and_ignores_garbage(operator):
    communicator = await open_socket_for(operator)

    await communicator.send_text("not json")
    await communicator.send_bytes(b"\x00")
    await communicator.send_json({"type": "ping"})

    assert await communicator.receive_json(timeout=TIMEOUT) == {"type": "pong"}
    await communicator.disconnect(timeout=TIMEOUT)


def announce_inside_a_transaction(group: str) -> int:
    with transaction.atomic():
        audit = record_audit(None, "test.announced", object_type="test", object_id="1")
        send_event_on_commit([group], {"type": "test:committed", "audit_id": audit.pk})
        # Published at once: it must reach the socket before the event that waits for commit.
        publish_now([group], {"type": "test:still-in-transaction"})
    return audit.pk


async def test_it_delivers_an_event_only_after_the_transaction_commits(channel_layer, operator):
    communicator = await open_socket_for(operator)

    audit_id = await sync_to_async(announce_inside_a_transaction)(f"user.{operator.pk}")

    assert await next_event_type(communicator) == "test:still-in-transaction"
    committed = await communicator.receive_json(timeout=TIMEOUT)
    assert committed == {"type": "test:committed", "audit_id": audit_id}
    assert await AuditEvent.objects.filter(pk=audit_id).aexists()
    await communicator.disconnect(timeout=TIMEOUT)


class Rollback(Exception):
    pass


def announce_then_roll_back(group: str) -> None:
    try:
        with transaction.atomic():
            send_event_on_commit([group], {"type": "test:rolled-back"})
            raise Rollback
    except Rollback:
        pass
    publish_now([group], {"type": "test:after-rollback"})


async def test_it_drops_an_event_when_the_transaction_rolls_back(channel_layer, operator):
    communicator = await open_socket_for(operator)

    await sync_to_async(announce_then_roll_back)(f"user.{operator.pk}")

    # Events reach a socket in the order they were sent, so the rolled-back one is gone.
    assert await next_event_type(communicator) == "test:after-rollback"
    await communicator.disconnect(timeout=TIMEOUT)


async def test_it_sends_admin_events_to_admins_only(channel_layer, admin, operator):
    admin_socket = await open_socket_for(admin)
    operator_socket = await open_socket_for(operator)

    await sync_to_async(publish_now)(["role.admin"], {"type": "test:for-admins"})
    for user in (admin, operator):
        await sync_to_async(publish_now)([f"user.{user.pk}"], {"type": "test:personal"})

    assert await next_event_type(admin_socket) == "test:for-admins"
    assert await next_event_type(admin_socket) == "test:personal"
    assert await next_event_type(operator_socket) == "test:personal"
    # With two consumers on one Redis layer, the second to leave sometimes does not stop on
    # its first cancellation (channels-redis's shared receive); it is cancelled again here.
    await admin_socket.disconnect(timeout=TIMEOUT)
    await operator_socket.disconnect(timeout=0.5)


def publish_a_batch(groups: list[str]) -> None:
    with bundled_events(), transaction.atomic():
        send_event_on_commit(groups, {"type": "test:first"})
        send_event_on_commit(groups[:1], {"type": "test:second"})
        try:
            with transaction.atomic():
                send_event_on_commit(groups, {"type": "test:rolled-back"})
                raise Rollback
        except Rollback:
            pass
        send_event_on_commit(groups, {"type": "test:third"})


async def test_a_bundle_carries_a_groups_events_in_one_layer_message(channel_layer):
    channels = {name: await channel_layer.new_channel() for name in ("one", "two")}
    for name, channel in channels.items():
        await channel_layer.group_add(f"test.{name}", channel)

    await sync_to_async(publish_a_batch)(["test.one", "test.two"])

    one = await channel_layer.receive(channels["one"])
    two = await channel_layer.receive(channels["two"])
    assert one == {
        "type": "event.bundle",
        "events": [{"type": "test:first"}, {"type": "test:second"}, {"type": "test:third"}],
        "ids": [ANY, ANY, ANY],
    }
    assert two == {
        "type": "event.bundle",
        "events": [{"type": "test:first"}, {"type": "test:third"}],
        "ids": [ANY, ANY],
    }
    # An event has the same id in every group it went to, and no other event has it.
    assert two["ids"] == [one["ids"][0], one["ids"][2]]
    assert len(set(one["ids"])) == 3


async def test_a_console_gets_a_bundles_events_one_by_one_in_order(channel_layer, operator):
    communicator = await open_socket_for(operator)

    await sync_to_async(publish_a_batch)([f"user.{operator.pk}", "role.admin"])

    await sync_to_async(publish_now)([f"user.{operator.pk}"], {"type": "test:marker"})

    received = [await next_event_type(communicator) for _ in range(4)]
    # Nothing of the rolled-back savepoint, nothing twice.
    assert received == ["test:first", "test:second", "test:third", "test:marker"]
    # The bundle travelled as one frame; a lone event as itself.
    assert communicator.frames == [
        {"type": "hello", "groups": ANY},
        {
            "type": BUNDLE_FRAME,
            "events": [{"type": "test:first"}, {"type": "test:second"}, {"type": "test:third"}],
        },
        {"type": "test:marker"},
    ]
    await communicator.disconnect(timeout=TIMEOUT)


async def test_forwarding_events_takes_no_trip_to_a_database_thread(
    channel_layer, operator, monkeypatch
):
    # Channels closes stale database connections in a thread before every handler; frames
    # the page sends still get that, events forwarded to it do not need it.
    from channels import consumer

    trips: list[str] = []
    original = consumer.aclose_old_connections

    async def counted() -> None:
        trips.append("closed")
        await original()

    communicator = await open_socket_for(operator)
    monkeypatch.setattr(consumer, "aclose_old_connections", counted)
    await sync_to_async(publish_a_batch)([f"user.{operator.pk}"])
    await sync_to_async(publish_now)([f"user.{operator.pk}"], {"type": "test:marker"})

    received = [await next_event_type(communicator) for _ in range(4)]
    assert received == ["test:first", "test:second", "test:third", "test:marker"]
    assert trips == []

    await communicator.send_json({"type": "ping"})
    assert await communicator.receive_json(timeout=TIMEOUT) == {"type": "pong"}
    assert trips == ["closed"]
    await communicator.disconnect(timeout=TIMEOUT)


async def test_a_console_in_several_of_an_events_groups_gets_it_once(channel_layer, operator):
    # The assignee's console is in its area's group and its own: each event about the chat
    # goes to both, and must reach the page once.
    communicator = await open_socket_for(operator)
    own = [f"user.{operator.pk}", f"role.{operator.role}"]

    await sync_to_async(publish_now)(own, {"type": "test:lone"})
    await sync_to_async(publish_a_batch)(own)
    await sync_to_async(publish_now)(own[1:], {"type": "test:marker"})

    received = [await next_event_type(communicator) for _ in range(5)]
    assert received == ["test:lone", "test:first", "test:second", "test:third", "test:marker"]
    assert communicator.frames == [
        {"type": "hello", "groups": own},
        {"type": "test:lone"},
        {
            "type": BUNDLE_FRAME,
            "events": [{"type": "test:first"}, {"type": "test:second"}, {"type": "test:third"}],
        },
        {"type": "test:marker"},
    ]
    await communicator.disconnect(timeout=TIMEOUT)


async def test_a_bundle_larger_than_the_ids_remembered_still_reaches_a_console_once(
    channel_layer, operator
):
    communicator = await open_socket_for(operator)
    own = [f"user.{operator.pk}", f"role.{operator.role}"]
    count = RECENT_EVENT_IDS + 100

    def publish_many() -> None:
        with bundled_events():
            for n in range(count):
                publish_now(own, {"type": "test:many", "n": n})
        publish_now(own[1:], {"type": "test:marker"})

    await sync_to_async(publish_many)()

    received = [await communicator.receive_json(timeout=TIMEOUT) for _ in range(count + 1)]
    assert [event.get("n") for event in received] == [*range(count), None]
    assert received[-1]["type"] == "test:marker"
    assert len(communicator.frames) == 3  # hello, the bundle, the marker
    await communicator.disconnect(timeout=TIMEOUT)


async def test_a_bundle_partly_seen_sends_only_the_rest(channel_layer, operator):
    communicator = await open_socket_for(operator)
    mine, role = f"user.{operator.pk}", f"role.{operator.role}"

    def publish() -> None:
        with bundled_events():
            publish_now([mine], {"type": "test:mine"})
            publish_now([mine, role], {"type": "test:both"})
            publish_now([role], {"type": "test:role"})

    await sync_to_async(publish)()
    await sync_to_async(publish_now)([role], {"type": "test:marker"})

    received = [await next_event_type(communicator) for _ in range(4)]
    assert received == ["test:mine", "test:both", "test:role", "test:marker"]
    # The role group's bundle (both, role) lost its copy: its one new event went alone.
    assert communicator.frames[2:] == [{"type": "test:role"}, {"type": "test:marker"}]
    await communicator.disconnect(timeout=TIMEOUT)


def test_a_forked_process_numbers_its_events_apart_from_its_parent():
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, to the parent
        os.write(writer, str(events._event_id()).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    child_id = int(os.read(reader, 64))
    os.close(reader)
    assert child_id >> 32 != events._event_id() >> 32


def test_a_console_remembers_the_latest_event_ids_only():
    consumer = EventsConsumer()
    assert consumer._first_time(1) and not consumer._first_time(1)
    assert consumer._first_time(None) and consumer._first_time(None)  # no id: always sent
    for event_id in range(2, RECENT_EVENT_IDS + 2):
        assert consumer._first_time(event_id)
    assert len(consumer._recent_ids) == RECENT_EVENT_IDS
    assert consumer._first_time(1)  # forgotten: the oldest went first
    assert not consumer._first_time(RECENT_EVENT_IDS + 1)
