"""A queue drain never waits for a chat another transaction holds (a hand-over batch locks
chats in its messages' order, the drain in the queue's: waiting could deadlock)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ispdesk.conversations.models import Conversation, ConversationStatus
from ispdesk.conversations.queue import drain
from ispdesk.conversations.tests.conftest import make_contact, make_conversation

TIMEOUT = 10


@pytest.mark.django_db(transaction=True)
def test_a_drain_passes_over_a_waiting_chat_another_transaction_holds(ana, soporte):
    now = timezone.now()
    oldest = make_conversation(make_contact("Marcela", "+5493515550001"), area=soporte, now=now)
    newer = make_conversation(
        make_contact("Pedro", "+5493515550002"), area=soporte, now=now + timedelta(seconds=1)
    )
    rows_locked = connection.vendor != "sqlite"  # SQLite serialises writers: no row locks
    held, release = threading.Event(), threading.Event()

    def hold_the_oldest() -> None:
        try:
            if rows_locked:
                with transaction.atomic():
                    Conversation.objects.select_for_update().get(pk=oldest.pk)
                    held.set()
                    release.wait(TIMEOUT)  # without the fix, the drain waits this long
        finally:
            held.set()
            connection.close()

    holder = threading.Thread(target=hold_the_oldest)
    holder.start()
    try:
        held.wait(TIMEOUT)
        assigned = drain(soporte.pk)
    finally:
        release.set()
        holder.join(TIMEOUT)

    oldest.refresh_from_db()
    newer.refresh_from_db()
    assert newer.status == ConversationStatus.OPEN and newer.assignee == ana
    if rows_locked:
        # Passed over, not waited for: it is served by the next drain.
        assert assigned == 1
        assert oldest.status == ConversationStatus.PENDING and oldest.assignee is None
        assert drain(soporte.pk) == 1
        oldest.refresh_from_db()
    assert oldest.assignee == ana
