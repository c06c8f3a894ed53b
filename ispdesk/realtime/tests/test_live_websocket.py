"""The websocket over a real connection to the live ASGI server, as a browser holds it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from ispdesk.accounts.models import User
from ispdesk.jobs import registry
from ispdesk.jobs.models import JobSchedule
from ispdesk.jobs.registry import periodic_job
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs
from ispdesk.realtime.consumers import CLOSE_UNAUTHENTICATED
from ispdesk.testing.live_asgi import LiveServer

TIMEOUT = 10


def open_socket(server: LiveServer, user: User | None = None) -> ClientConnection:
    headers = {}
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={cookie}"
    return connect(
        server.ws_url, origin=Origin(server.url), additional_headers=headers, open_timeout=TIMEOUT
    )


def receive(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=TIMEOUT)))


def test_it_tells_an_anonymous_browser_to_log_in_with_close_code_4401(live_asgi):
    with open_socket(live_asgi) as socket, pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=TIMEOUT)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_UNAUTHENTICATED


def test_frames_go_uncompressed_even_to_a_browser_that_offers_deflate(live_asgi):
    # Small JSON frames to every console: compressing each was a tenth of the server's event
    # loop in the benchmark, and each socket's zlib state would hold hundreds of KB.
    with open_socket(live_asgi) as socket:
        assert socket.request is not None and socket.response is not None
        offered = socket.request.headers.get("Sec-WebSocket-Extensions")
        accepted = socket.response.headers.get("Sec-WebSocket-Extensions")

    assert "permessage-deflate" in (offered or "")
    assert accepted is None


def test_it_pushes_a_job_run_from_a_worker_thread_to_an_admins_browser(live_asgi, admin):
    # `ispdesk serve` runs the scheduler in a thread beside the server, as this test does.
    periodic_job("live-test", interval=timedelta(minutes=5), description="live test")(
        lambda ctx: None
    )
    try:
        ensure_schedules()
        JobSchedule.objects.exclude(name="live-test").update(enabled=False)
        JobSchedule.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
        with open_socket(live_asgi, admin) as socket:
            assert receive(socket)["type"] == "hello"

            run_due_jobs("worker")

            assert receive(socket) == {"type": "job:run", "job": "live-test", "outcome": "ok"}
            socket.send(json.dumps({"type": "ping"}))
            assert receive(socket) == {"type": "pong"}
    finally:
        registry.unregister("live-test")
