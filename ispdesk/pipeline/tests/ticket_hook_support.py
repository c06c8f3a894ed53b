"""Shared by the ticket webhook's tests: the fixture payloads and posting to the hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.test import Client

from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.ticket_hook import hook_system

FIXTURES = Path(__file__).parent / "fixtures" / "ticket_hook"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture(name: str) -> Any:
    return json.loads(fixture_text(name))


def enabled_hook() -> ExternalSystem:
    system = hook_system()
    system.enabled = True
    system.save(update_fields=["enabled"])
    return system


def post_hook(
    client: Client, system: ExternalSystem, body: Any, *, close: bool = False, secret: str = ""
) -> Any:
    """POST `body` (bytes or str as is, anything else as JSON) to the hook."""
    path = f"/hooks/tickets/{secret or system.hook_secret}/" + ("close/" if close else "")
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return client.generic("POST", path, body, content_type="application/json")
