"""A waiting customer's place in their queue, ranked by the database (`queue_places`)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from ispdesk.conversations.models import Conversation, ConversationStatus
from ispdesk.conversations.queue import GENERAL_QUEUE, queue_places
from ispdesk.conversations.tests.conftest import make_contact, make_conversation

pytestmark = pytest.mark.django_db


def chat(index: int, **fields):  # type: ignore[no-untyped-def]
    contact = make_contact(f"Cliente {index}", f"+54911{30000000 + index:08d}")
    return make_conversation(contact, **fields)


def expected_places(area_id: int | None) -> dict[int, int]:
    """The queue's order worked out in Python: oldest first, no time last, then by id."""
    waiting = (
        Conversation.objects.filter(status=ConversationStatus.PENDING).filter(area__isnull=True)
        if area_id is None
        else Conversation.objects.filter(status=ConversationStatus.PENDING, area_id=area_id)
    )
    far = timezone.now() + timedelta(days=3650)
    ordered = sorted(waiting, key=lambda c: (c.queued_at is None, c.queued_at or far, c.pk))
    return {c.pk: place for place, c in enumerate(ordered, start=1)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_places_follow_the_order_the_queue_hands_chats_out(soporte, ventas, ana, seed):
    rng = random.Random(seed)
    now = timezone.now()
    moments = [now - timedelta(minutes=rng.choice([1, 2, 2, 5])) for _ in range(14)]
    for index, moment in enumerate(moments):
        area = rng.choice([soporte, soporte, ventas, None])
        kind = rng.choice(["waiting", "waiting", "waiting", "untimed", "open", "closed"])
        if kind == "open":
            chat(index, area=area, assignee=ana)
        elif kind == "closed":
            chat(index, area=area, status=ConversationStatus.CLOSED)
        else:
            chat(index, area=area, queued_at=None if kind == "untimed" else moment)

    for area_id in (soporte.pk, ventas.pk, GENERAL_QUEUE):
        expected = expected_places(area_id)
        everyone = list(Conversation.objects.values_list("pk", flat=True))
        asked = rng.sample(everyone, k=len(everyone) // 2)

        places = queue_places(area_id, asked)

        assert places == {pk: place for pk, place in expected.items() if pk in asked}


def test_a_chat_not_waiting_in_that_queue_has_no_place(soporte, ventas, ana):
    waiting = chat(1, area=soporte)
    elsewhere = chat(2, area=ventas)
    taken = chat(3, area=soporte, assignee=ana)

    assert queue_places(soporte.pk, [waiting.pk, elsewhere.pk, taken.pk]) == {waiting.pk: 1}
    assert queue_places(soporte.pk, []) == {}
