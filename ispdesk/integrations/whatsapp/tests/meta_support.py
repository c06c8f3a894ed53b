"""Shared pieces of the Cloud API adapter tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import (
    InboundEvent,
    InboundMessage,
    StatusReceipt,
)
from ispdesk.integrations.whatsapp.meta_cloud import (
    MetaCloudConfig,
    MetaCloudGateway,
)
from ispdesk.lib.http import HttpClient
from ispdesk.testing.fakes.graph import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    FakeGraph,
    fake_graph,  # noqa: F401
)

FIXTURES = Path(__file__).parent / "fixtures" / "meta"
NOON = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
JUAN = "5491123456789"
MARIA = "5493515550101"
PEDRO = "5492614443322"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def offline_gateway(**overrides: Any) -> MetaCloudGateway:
    """An adapter for parsing and verifying only: its Graph URL is never called."""
    config = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        **overrides,
    }
    gateway = registry.build("meta_cloud", config)
    assert isinstance(gateway, MetaCloudGateway)
    return gateway


def graph_gateway(fake: FakeGraph, *, timeout: float = 5.0, **overrides: Any) -> MetaCloudGateway:
    config = MetaCloudConfig.model_validate(fake.config(**overrides))
    return MetaCloudGateway(config, HttpClient(base_url=config.base_url, timeout=timeout))


def message(provider_id: str, wa_id: str, name: str, text: str, **fields: Any) -> InboundMessage:
    fields.setdefault("timestamp", NOON)
    return InboundMessage(
        provider_id=provider_id,
        chat_id=wa_id,
        phone="+" + wa_id,
        lid="",
        from_me=False,
        name=name,
        text=text,
        **fields,
    )


def provider_ids(events: list[InboundEvent]) -> list[str]:
    ids = [e.provider_id for e in events if isinstance(e, InboundMessage | StatusReceipt)]
    assert len(ids) == len(events)
    return ids
