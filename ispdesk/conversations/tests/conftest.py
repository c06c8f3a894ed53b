"""The service desk's test people, a simulated WhatsApp number and ways to make chats.

- Areas `soporte` and `ventas`.
- `ana` (the `operator` fixture's user): Soporte, online in the console, on a 24/7
  assignment window, room for 3 chats.
- `juan`: Soporte, online, on a 24/7 window (default capacity, 5).
- `sofia`: Ventas only, on a 24/7 window but offline (no console open): the operator of
  another area, who must see nothing of Soporte and is never routed a chat by accident.
- `omar` (the `outsider` fixture's user): logged in, but no Operator profile.
- `connection`: the simulator number customers write to; `marcela`: a known customer.

Helpers: `make_conversation(...)` writes a Conversation row directly (no bot, no routing);
`incoming(connection, phone, text)` takes the webhook's real path (stored InboundMessage,
`handle_inbound` in a transaction, then what the commit triggers: the queue drain and events).
"""

from __future__ import annotations

import itertools
from datetime import datetime, time
from typing import Any

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from ispdesk.accounts.models import User
from ispdesk.contacts.models import Contact
from ispdesk.conversations.inbound import handle_inbound
from ispdesk.conversations.models import Conversation, ConversationStatus, Message
from ispdesk.lib.phones import normalize_phone, whatsapp_digits
from ispdesk.messaging.models import (
    ConnectionStatus,
    GatewayConnection,
    GatewayKind,
    InboundMessage,
)
from ispdesk.messaging.simulator import CONNECTION_NAME, simulator_available
from ispdesk.operators.models import Area, ConsoleSession, Operator, Schedule, ScheduleKind
from ispdesk.operators.tests.conftest import make_operator

MARCELA = "+5491123456789"
_channels = itertools.count(1)
_provider_ids = itertools.count(1)


def always_on(operator: Operator, kind: str = ScheduleKind.ASSIGNMENT) -> None:
    """Windows of 24 hours on every weekday (end == start is a whole day)."""
    Schedule.objects.bulk_create(
        Schedule(operator=operator, kind=kind, weekday=day, start=time(0), end=time(0))
        for day in range(7)
    )


def go_online(operator: Operator, now: datetime | None = None) -> ConsoleSession:
    """An open console, as the websocket's `console:hello` records it."""
    now = now or timezone.now()
    return ConsoleSession.objects.create(
        operator=operator,
        channel_name=f"test-console-{operator.pk}-{next(_channels)}",
        connected_at=now,
        last_seen_at=now,
    )


def desk_operator(
    user_or_name: User | str,
    areas: list[Area],
    *,
    online: bool = True,
    first_name: str = "",
    **fields: Any,
) -> Operator:
    """An operator (for an existing user, or a new one by username) in `areas`, on a 24/7
    assignment window, online unless told otherwise."""
    if isinstance(user_or_name, User):
        operator = Operator.objects.create(user=user_or_name, **fields)
    else:
        operator = make_operator(user_or_name, first_name, **fields)
    operator.areas.set(areas)
    always_on(operator)
    if online:
        go_online(operator)
    return operator


def make_contact(
    name: str = "Marcela Gómez", phone: str | None = MARCELA, **fields: Any
) -> Contact:
    return Contact.objects.create(name=name, phone=phone, **fields)


def simulator_number() -> GatewayConnection:
    """The simulator connection (created once per test)."""
    assert simulator_available(), "tests run with settings.TESTING, which offers the simulator"
    found = GatewayConnection.objects.filter(kind=GatewayKind.SIMULATOR, enabled=True).first()
    if found is not None:
        return found
    return GatewayConnection.objects.create(
        kind=GatewayKind.SIMULATOR,
        name=CONNECTION_NAME,
        config={},
        status=ConnectionStatus.CONNECTED,
    )


def make_conversation(
    contact: Contact | None = None,
    status: str | None = None,
    area: Area | None = None,
    assignee: Operator | None = None,
    *,
    connection: GatewayConnection | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> Conversation:
    """A Conversation row written directly. The status defaults to `open` with an assignee
    and `pending` without; pending chats get `queued_at`; closed ones no `live_key`, so a
    contact may have many closed chats and one live one. Extra fields go to the row."""
    now = now or timezone.now()
    contact = contact or make_contact()
    connection = connection or simulator_number()
    if status is None:
        status = ConversationStatus.OPEN if assignee is not None else ConversationStatus.PENDING
    closed = status == ConversationStatus.CLOSED
    values: dict[str, Any] = {
        "contact": contact,
        "connection": connection,
        "chat_id": whatsapp_digits(contact.phone) if contact.phone else f"{contact.pk}@lid",
        "status": status,
        "area": area,
        "assignee": assignee,
        "live_key": None if closed else f"{contact.pk}:{connection.pk}",
        "queued_at": now if status == ConversationStatus.PENDING else None,
        "assigned_at": now if assignee is not None else None,
        "closed_at": now if closed else None,
        "awaiting_human": status == ConversationStatus.PENDING,
        "last_message_at": now,
        "created_at": now,
    }
    values.update(fields)
    return Conversation.objects.create(**values)


def incoming(
    connection: GatewayConnection,
    phone: str,
    text: str,
    name: str = "",
    *,
    commit: bool = True,
) -> Conversation:
    """A customer writes: the message is stored and handed to the desk inside a transaction,
    as the webhook does. With `commit` (the default) what runs after commit runs too (queue
    drain, real-time events); pass `commit=False` inside your own
    `django_capture_on_commit_callbacks`, which would otherwise run them a second time.
    Returns the conversation the message landed in, as stored now."""
    e164 = normalize_phone(phone, mobile=True)
    stored = InboundMessage(
        connection=connection,
        provider_id=f"test-in-{next(_provider_ids)}",
        chat_id=whatsapp_digits(e164),
        phone=e164,
        name=name,
        text=text,
        sent_at=timezone.now(),
    )
    if commit:
        with TestCase.captureOnCommitCallbacks(execute=True):
            _store_and_handle(stored)
    else:
        _store_and_handle(stored)
    line = Message.objects.select_related("conversation").get(inbound=stored)
    return Conversation.objects.get(pk=line.conversation_id)


def _store_and_handle(stored: InboundMessage) -> None:
    with transaction.atomic():
        stored.save()
        handle_inbound(stored)


@pytest.fixture
def soporte(db: Any) -> Area:
    return Area.objects.create(name="Soporte")


@pytest.fixture
def ventas(db: Any) -> Area:
    return Area.objects.create(name="Ventas")


@pytest.fixture
def ana(operator: User, soporte: Area) -> Operator:
    return desk_operator(operator, [soporte], chat_capacity=3)


@pytest.fixture
def juan(db: Any, soporte: Area) -> Operator:
    return desk_operator("juan", [soporte], first_name="Juan")


@pytest.fixture
def sofia(db: Any, ventas: Area) -> Operator:
    return desk_operator("sofia", [ventas], first_name="Sofía", online=False)


@pytest.fixture
def omar(outsider: User) -> User:
    return outsider


@pytest.fixture
def connection(db: Any) -> GatewayConnection:
    return simulator_number()


@pytest.fixture
def marcela(db: Any) -> Contact:
    return make_contact("Marcela Gómez", MARCELA, dni="28444555")


# The name the brief gives the helper; `make_conversation` reads better beside a local
# variable called `conversation`.
conversation = make_conversation
