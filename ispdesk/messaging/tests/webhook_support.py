"""Connections and captured-shape payloads shared by the webhook, receiving and simulator tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.test import Client

from ispdesk.integrations.whatsapp.base import InboundMessage as MessageEvent
from ispdesk.integrations.whatsapp.base import StatusReceipt
from ispdesk.integrations.whatsapp.meta_cloud import signature_for
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "our-verify-phrase"
SENT_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MARCELA = "+5491123456789"


def simulator_connection(**fields: Any) -> GatewayConnection:
    return GatewayConnection.objects.create(
        kind="simulator", name=fields.pop("name", "Simulador"), **fields
    )


def meta_connection(**fields: Any) -> GatewayConnection:
    config = {
        "phone_number_id": "1234567890",
        "access_token": "EAAG-token",
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    }
    return GatewayConnection.objects.create(
        kind="meta_cloud", name=fields.pop("name", "Cloud API"), config=config, **fields
    )


def evolution_connection(**fields: Any) -> GatewayConnection:
    config = {
        "base_url": "http://127.0.0.1:9",
        "api_key": "evolution-global-api-key",
        "instance": "isp1",
    }
    return GatewayConnection.objects.create(
        kind="evolution", name=fields.pop("name", "Evolution"), config=config, **fields
    )


def hook_url(connection: GatewayConnection) -> str:
    return f"/hooks/whatsapp/{connection.webhook_secret}/"


def post_json(client: Client, connection: GatewayConnection, payload: Any, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(hook_url(connection), body, content_type="application/json", headers=headers)


def post_meta(client: Client, connection: GatewayConnection, payload: Any) -> Any:
    """POST a Cloud API webhook signed as Meta signs it (over the raw bytes)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return post_json(
        client,
        connection,
        body,
        **{"X-Hub-Signature-256": signature_for(body, APP_SECRET)},
    )


def meta_batch(
    messages: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    statuses: list[tuple[str, str]] = (),  # type: ignore[assignment]
    *,
    entries: int = 1,
) -> dict[str, Any]:
    """A Cloud API webhook: (wamid, wa_id, text) messages and (wamid, status) statuses,
    spread over `entries` entries as Meta batches them."""
    values: list[dict[str, Any]] = [
        {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "1234567890"},
            "contacts": [],
            "messages": [],
            "statuses": [],
        }
        for _ in range(entries)
    ]
    for number, (wamid, wa_id, text) in enumerate(messages):
        value = values[number % entries]
        value["contacts"].append({"profile": {"name": f"Cliente {number}"}, "wa_id": wa_id})
        value["messages"].append(
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(int(SENT_AT.timestamp()) + number),
                "type": "text",
                "text": {"body": text},
            }
        )
    for number, (wamid, status) in enumerate(statuses):
        values[number % entries]["statuses"].append(
            {
                "id": wamid,
                "status": status,
                "timestamp": str(int(SENT_AT.timestamp()) + number),
                "recipient_id": "5491123456789",
            }
        )
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": f"WABA-{number}", "changes": [{"field": "messages", "value": value}]}
            for number, value in enumerate(values)
        ],
    }


def evolution_upsert(
    message_id: str,
    remote_jid: str,
    text: str = "Hola",
    *,
    from_me: bool = False,
    remote_jid_alt: str | None = None,
    push_name: str = "Marcela",
) -> dict[str, Any]:
    key: dict[str, Any] = {"remoteJid": remote_jid, "fromMe": from_me, "id": message_id}
    if remote_jid_alt:
        key["remoteJidAlt"] = remote_jid_alt
        key["addressingMode"] = "lid"
    return {
        "event": "messages.upsert",
        "instance": "isp1",
        "data": {
            "key": key,
            "pushName": push_name,
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(SENT_AT.timestamp()),
            "instanceId": "b3c1-instance",
            "source": "android",
        },
        "date_time": "2026-03-02T12:00:00.000Z",
        "sender": "5491100000000@s.whatsapp.net",
        "server_url": "http://evolution:8080",
    }


def message_event(provider_id: str, **fields: Any) -> MessageEvent:
    values: dict[str, Any] = {
        "provider_id": provider_id,
        "chat_id": "5491123456789@s.whatsapp.net",
        "phone": MARCELA,
        "lid": "",
        "from_me": False,
        "name": "Marcela",
        "text": "Hola, no tengo internet",
        "timestamp": SENT_AT,
    }
    values.update(fields)
    return MessageEvent(**values)


def receipt(provider_id: str, status: str, error: str = "") -> StatusReceipt:
    return StatusReceipt(provider_id, status, SENT_AT, error)  # type: ignore[arg-type]


def sent_message(
    connection: GatewayConnection,
    provider_id: str,
    status: str = OutboundStatus.SENT,
    **fields: Any,
) -> OutboundMessage:
    """An outbox row the sender has already handed to the gateway."""
    values: dict[str, Any] = {
        "connection": connection,
        "to": MARCELA,
        "body": "Hola Marcela, ¿en qué te ayudamos?",
        "status": status,
        "provider_id": provider_id,
        "next_attempt_at": SENT_AT,
        "sent_at": SENT_AT if status != OutboundStatus.QUEUED else None,
    }
    values.update(fields)
    return OutboundMessage.objects.create(**values)
