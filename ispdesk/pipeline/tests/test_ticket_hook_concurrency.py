"""The same delivery twice at once (a sender retrying while the first attempt is still in
flight): one ticket, one `created: true`, and the close hook twice at once closes it once.

Workers write their answers to files: forked workers share no memory with the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from ispdesk.pipeline.tests.ticket_hook_support import enabled_hook, fixture, post_hook
from ispdesk.testing.workers import run_workers
from ispdesk.tickets.models import EventKind, Status, Ticket, TicketEvent


def _deliver(barrier: Any, answer_file: Path, payload: str) -> None:
    try:
        client = Client()
        system = enabled_hook()
        close = payload == "close_ticket.json"
        barrier.wait(timeout=30)
        response = post_hook(client, system, fixture(payload), close=close)
        answer_file.write_text(json.dumps([response.status_code, response.json()]))
    finally:
        connections.close_all()


def _answers(paths: list[Path]) -> list[Any]:
    return sorted((json.loads(path.read_text()) for path in paths), key=lambda answer: answer[0])


@pytest.mark.django_db(transaction=True)
def test_the_same_ticket_posted_twice_at_once_is_created_once(tmp_path):
    enabled_hook()
    files = [tmp_path / "a.json", tmp_path / "b.json"]

    run_workers(_deliver, [(path, "one_ticket.json") for path in files])

    ticket = Ticket.objects.get()
    assert ticket.external_id == "48213"
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CREATED).count() == 1
    result = {"external_id": "48213", "ticket": ticket.pk}
    assert _answers(files) == [
        [200, {"results": [{**result, "created": False}]}],
        [201, {"results": [{**result, "created": True}]}],
    ]


@pytest.mark.django_db(transaction=True)
def test_the_same_close_posted_twice_at_once_closes_once(tmp_path):
    post_hook(Client(), enabled_hook(), fixture("one_ticket.json"))
    files = [tmp_path / "a.json", tmp_path / "b.json"]

    run_workers(_deliver, [(path, "close_ticket.json") for path in files])

    ticket = Ticket.objects.get()
    assert ticket.status == Status.CLOSED
    assert TicketEvent.objects.filter(kind=EventKind.CLOSED).count() == 1
    closed = sorted(answer[1]["closed"] for answer in _answers(files))
    assert closed == [False, True]
