"""Messages arriving at the same moment: one contact and one conversation per customer, and
no operator ever over capacity.

On PostgreSQL and MariaDB the workers are separate processes (forked, each with its own
connection); SQLite's in-memory test database cannot be shared across processes, so there
they are threads with their own connections.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone

from ispdesk.contacts.models import Contact
from ispdesk.conversations.actions import do_close
from ispdesk.conversations.inbound import handle_inbound
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
)
from ispdesk.conversations.tests.conftest import desk_operator, simulator_number
from ispdesk.lib.phones import whatsapp_digits
from ispdesk.messaging.models import GatewayConnection, InboundMessage
from ispdesk.operators.models import Area
from ispdesk.testing.workers import run_workers

_ids = itertools.count(1)


def deliver(connection_id: int, phone: str, text: str, provider_id: str) -> None:
    """What the webhook does with one message: store it and hand it to the desk in one
    transaction; the queue drain runs on commit."""
    with transaction.atomic():
        stored = InboundMessage.objects.create(
            connection=GatewayConnection.objects.get(pk=connection_id),
            provider_id=provider_id,
            chat_id=whatsapp_digits(phone),
            phone=phone,
            name="Cliente",
            text=text,
            sent_at=timezone.now(),
        )
        handle_inbound(stored)


def _work(barrier: Any, jobs: list[tuple[int, str, str, str]]) -> None:
    try:
        barrier.wait(timeout=30)
        for job in jobs:
            deliver(*job)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_first_messages_at_once_make_one_contact_and_one_conversation(operator):
    number = simulator_number()
    soporte = Area.objects.create(name="Soporte")
    desk_operator(operator, [soporte])
    phone = "+5491155550000"
    run_workers(
        _work,
        [
            ([(number.pk, phone, "hola", "race-a")],),
            ([(number.pk, phone, "¿hay alguien?", "race-b")],),
        ],
    )
    assert Contact.objects.filter(phone=phone).count() == 1
    conversations = Conversation.objects.filter(contact__phone=phone)
    assert conversations.count() == 1
    assert conversations.get().messages.filter(sender="customer").count() == 2
    assert InboundMessage.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_fifty_chats_for_two_operators_of_capacity_three(operator):
    number = simulator_number()
    soporte = Area.objects.create(name="Soporte")
    ana = desk_operator(operator, [soporte], chat_capacity=3)
    juan = desk_operator("juan", [soporte], first_name="Juan", chat_capacity=3)
    phones = [f"+54911666{n:05d}" for n in range(50)]
    for phone in phones:
        Contact.objects.create(name=f"Cliente {phone[-3:]}", phone=phone, preferred_area=soporte)
    jobs = [(number.pk, phone, "sin internet", f"storm-{next(_ids)}") for phone in phones]
    run_workers(_work, [(jobs[0::2],), (jobs[1::2],)])

    chats = Conversation.objects.filter(area=soporte)
    assert chats.count() == 50
    assert chats.filter(status=ConversationStatus.OPEN).count() == 6
    assert chats.filter(status=ConversationStatus.PENDING, assignee__isnull=True).count() == 44
    loads = Counter(chats.filter(status="open").values_list("assignee_id", flat=True))
    assert loads == {ana.pk: 3, juan.pk: 3}
    assigned = Counter(
        ConversationEvent.objects.filter(kind=EventKind.ASSIGNED).values_list(
            "conversation_id", flat=True
        )
    )
    assert len(assigned) == 6 and set(assigned.values()) == {1}

    # Closing one hands the longest-waiting chat to whoever was freed.
    first_in_line = chats.filter(status="pending").order_by("queued_at", "pk").first()
    assert first_in_line is not None
    closing = chats.filter(assignee=ana, status="open").first()
    assert closing is not None
    do_close(ana.user, closing.pk)
    first_in_line.refresh_from_db()
    assert (first_in_line.status, first_in_line.assignee_id) == ("open", ana.pk)
    assert chats.filter(status=ConversationStatus.OPEN).count() == 6
