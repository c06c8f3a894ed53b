"""Fixtures of the messaging tests: the scripted gateway and a local Cloud API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ispdesk.messaging.tests.scripted_gateway import Script, scripted_kind
from ispdesk.testing.fakes.graph import FakeGraph, serving_fake_graph


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Script]:
    """The scripted gateway (kind `scripted`) and its script, for this test."""
    yield from scripted_kind(monkeypatch)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    """A local Graph API (WhatsApp Cloud API)."""
    with serving_fake_graph() as fake:
        yield fake
