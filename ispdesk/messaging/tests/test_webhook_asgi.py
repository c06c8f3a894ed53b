"""Gateways' webhook POSTs through the real ASGI application: the fast path in front of Django
(`messaging.webhook_asgi`) must answer exactly as the Django view does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from ispdesk.asgi import application
from ispdesk.integrations.whatsapp.meta_cloud import signature_for
from ispdesk.messaging.models import GatewayConnection, InboundMessage
from ispdesk.messaging.tests.webhook_support import (
    APP_SECRET,
    VERIFY_TOKEN,
    evolution_connection,
    evolution_upsert,
    hook_url,
    meta_batch,
    meta_connection,
)

pytestmark = pytest.mark.django_db(transaction=True)

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


async def _stored() -> list[str]:
    return [row async for row in InboundMessage.objects.values_list("provider_id", flat=True)]


@pytest.mark.parametrize("suffix", ["", "messages-upsert/", "messages-upsert"])
async def test_an_evolution_delivery_is_stored_on_every_path_gateways_use(client, suffix):
    connection: GatewayConnection = await sync_to_async(evolution_connection)()
    url = hook_url(connection) + suffix
    if not suffix:
        url = url.rstrip("/")  # without the final slash too
    payload = evolution_upsert("ID-A", "5493515551234@s.whatsapp.net", "hola")

    answer = await client.post(url, content=_body(payload), headers=JSON)
    again = await client.post(url, content=_body(payload), headers=JSON)

    assert (answer.status_code, answer.json()) == (200, {"status": "ok", "stored": 1})
    assert answer.headers["content-type"] == "application/json"
    assert (again.status_code, again.json()) == (200, {"status": "ok", "stored": 0})
    assert await _stored() == ["ID-A"]


async def test_a_signed_cloud_api_batch_is_stored_and_a_bad_signature_refused(client):
    connection = await sync_to_async(meta_connection)()
    body = _body(
        meta_batch([("wamid.1", "5491123456789", "hola"), ("wamid.2", "5491123456789", "?")])
    )

    forged = await client.post(
        hook_url(connection),
        content=body,
        headers={**JSON, "X-Hub-Signature-256": signature_for(body, "not-the-app-secret")},
    )
    signed = await client.post(
        hook_url(connection),
        content=body,
        headers={**JSON, "X-Hub-Signature-256": signature_for(body, APP_SECRET)},
    )

    assert forged.status_code == 403
    assert forged.json()["code"] == "permission_denied"
    assert (signed.status_code, signed.json()) == (200, {"status": "ok", "stored": 2})
    assert sorted(await _stored()) == ["wamid.1", "wamid.2"]


async def test_bad_deliveries_get_the_same_errors_as_through_django(client, settings):
    settings.WEBHOOK_MAX_BYTES = 65_536
    connection = await sync_to_async(evolution_connection)()

    unknown = await client.post("/hooks/whatsapp/not-a-secret/", content=b"{}", headers=JSON)
    garbage = await client.post(hook_url(connection), content=b"{not json", headers=JSON)
    too_big = await client.post(hook_url(connection), content=b"x" * 70_000, headers=JSON)

    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert (garbage.status_code, garbage.json()["code"]) == (400, "bad_request")
    assert (too_big.status_code, too_big.json()["code"]) == (413, "payload_too_large")
    assert await _stored() == []


async def test_a_streamed_body_over_the_limit_is_refused_without_a_declared_length(
    client, settings
):
    settings.WEBHOOK_MAX_BYTES = 65_536
    connection = await sync_to_async(evolution_connection)()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 20_000

    answer = await client.post(hook_url(connection), content=chunks(), headers=JSON)

    assert (answer.status_code, answer.json()["code"]) == (413, "payload_too_large")


async def test_the_verification_handshake_and_other_methods_still_go_through_django(client):
    connection = await sync_to_async(meta_connection)()
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}

    handshake = await client.get(hook_url(connection), params=query)
    put = await client.put(hook_url(connection), content=b"{}")

    assert (handshake.status_code, handshake.text) == (200, "1158")
    assert put.status_code == 405
    assert put.headers["Allow"] == "GET, POST"


async def test_a_host_django_would_refuse_is_refused_and_answers_carry_its_headers(client):
    connection = await sync_to_async(evolution_connection)()
    payload = _body(evolution_upsert("ID-H", "5493515551234@s.whatsapp.net", "hola"))

    forged = await client.post(
        hook_url(connection), content=payload, headers={**JSON, "Host": "evil.example"}
    )
    fine = await client.post(hook_url(connection), content=payload, headers=JSON)

    assert (forged.status_code, forged.json()["code"]) == (400, "bad_request")
    assert fine.status_code == 200
    assert fine.headers["x-content-type-options"] == "nosniff"
    assert fine.headers["referrer-policy"] == "same-origin"
    assert await _stored() == ["ID-H"]
