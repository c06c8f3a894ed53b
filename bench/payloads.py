"""Webhook bodies as the gateways send them, built with the test suite's own builders.

Evolution posts one `messages.upsert` per message and one `messages.update` per receipt; the
Cloud API batches several messages (or statuses) in one POST signed with the app secret. The
shapes come from `ispdesk.testing.fakes` (the same builders the webhook tests replay), so the
benchmark sends exactly what the tests prove the adapters read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ispdesk.testing.fakes.evolution import update_event, upsert_event
from ispdesk.testing.fakes.graph import signed_webhook, status_update, text_message, webhook_payload

EVOLUTION = "evolution"
CLOUD = "cloud"
GATEWAYS = (EVOLUTION, CLOUD)
JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": "ispdesk-bench"}
# Evolution's receipt names for the Cloud API's statuses.
EVOLUTION_RECEIPTS = {"sent": "SERVER_ACK", "delivered": "DELIVERY_ACK", "read": "READ"}
# Córdoba mobiles (+54 9 351 ...): 7 subscriber digits, each scenario its own block.
CUSTOMER_PREFIX = "549351"
CUSTOMER_BASE = 2_000_000
CUSTOMERS_PER_TAG = 200_000
MAX_TAG = 39


def customer_digits(tag: int, index: int) -> str:
    """A valid Argentine mobile number (digits, no +) for customer `index` of scenario `tag`."""
    if not 0 <= tag <= MAX_TAG or not 0 <= index < CUSTOMERS_PER_TAG:
        raise ValueError(f"customer {index} of scenario {tag} is outside the numbering plan")
    return f"{CUSTOMER_PREFIX}{CUSTOMER_BASE + tag * CUSTOMERS_PER_TAG + index:07d}"


def message_id(gateway: str, tag: int, number: int) -> str:
    """A provider id in the gateway's style, unique per scenario `tag` (its prefix)."""
    digits = f"{number:016X}" if gateway == EVOLUTION else f"{number:010d}"
    return id_prefix(gateway, tag) + digits


def id_prefix(gateway: str, tag: int) -> str:
    """What every inbound id of scenario `tag` on `gateway` starts with (the DB check's filter)."""
    return f"3A{tag:02X}" if gateway == EVOLUTION else f"wamid.BENCH{tag:02d}"


def outbound_id(gateway: str, number: int) -> str:
    """The id the bench's fake gateway gives its `number`-th accepted send (the formats of
    `FakeEvolution._send` and `FakeGraph._send`), so receipts can name real outbound rows."""
    return f"3EB0{number:018X}" if gateway == EVOLUTION else f"wamid.FAKE{number:08d}"


@dataclass(frozen=True)
class Body:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Text:
    message_id: str
    phone: str  # digits
    text: str
    name: str
    timestamp: int


def evolution_message(text: Text) -> Body:
    payload = upsert_event(
        f"+{text.phone}",
        text.text,
        message_id=text.message_id,
        name=text.name,
        timestamp=text.timestamp,
    )
    return Body(json.dumps(payload).encode(), dict(JSON_HEADERS))


def evolution_receipt(provider_id: str, status: str, phone: str) -> Body:
    payload = update_event(provider_id, EVOLUTION_RECEIPTS[status], remote_jid=f"+{phone}")
    return Body(json.dumps(payload).encode(), dict(JSON_HEADERS))


def cloud_messages(texts: Sequence[Text], app_secret: str, phone_number_id: str) -> Body:
    """One signed Cloud API POST carrying every message in `texts`."""
    messages = [
        text_message(text.phone, text.text, message_id=text.message_id, timestamp=text.timestamp)
        for text in texts
    ]
    names = {text.phone: text.name for text in texts}
    payload = webhook_payload(messages, names=names, phone_number_id=phone_number_id)
    body, headers = signed_webhook(payload, app_secret)
    return Body(body, headers)


def cloud_statuses(
    statuses: Sequence[tuple[str, str, str]], app_secret: str, phone_number_id: str
) -> Body:
    """One signed Cloud API POST of (provider id, status, recipient digits) receipts."""
    items = [
        status_update(provider_id, status, recipient_id=phone)
        for provider_id, status, phone in statuses
    ]
    payload = webhook_payload(statuses=items, phone_number_id=phone_number_id)
    body, headers = signed_webhook(payload, app_secret)
    return Body(body, headers)
