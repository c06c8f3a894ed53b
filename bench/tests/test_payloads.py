import json

import pytest

from bench import payloads
from bench.floor import item_ids, signature_ok
from bench.payloads import Text
from ispdesk.integrations.whatsapp.base import (
    InboundMessage,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.integrations.whatsapp.evolution import EvolutionConfig, EvolutionGateway
from ispdesk.integrations.whatsapp.meta_cloud import MetaCloudConfig, MetaCloudGateway
from ispdesk.lib.phones import normalize_phone

APP_SECRET = "app-secret-for-the-bench-tests"
PHONE_NUMBER_ID = "109876543210987"


def cloud_gateway() -> MetaCloudGateway:
    config = MetaCloudConfig(
        api_version="v22.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token="token",
        app_secret=APP_SECRET,
        verify_token="v",
    )
    return MetaCloudGateway(config)


def evolution_gateway() -> EvolutionGateway:
    return EvolutionGateway(
        EvolutionConfig(base_url="http://127.0.0.1:9", api_key="k", instance="isp1")
    )


def text(number: int, body: str = "hola") -> Text:
    return Text(
        message_id=payloads.message_id("cloud", 4, number),
        phone=payloads.customer_digits(4, number),
        text=body,
        name=f"Cliente {number}",
        timestamp=1_800_000_000,
    )


@pytest.mark.parametrize(("tag", "index"), [(0, 0), (0, 199_999), (39, 0), (39, 199_999)])
def test_customer_numbers_are_valid_argentine_mobiles(tag, index):
    digits = payloads.customer_digits(tag, index)
    assert normalize_phone(f"+{digits}", mobile=True) == f"+{digits}"


def test_it_refuses_a_customer_outside_the_plan():
    with pytest.raises(ValueError, match="outside the numbering plan"):
        payloads.customer_digits(40, 0)


def test_an_evolution_upsert_is_read_by_the_adapter():
    message = Text(
        "3A01000000000000002A", payloads.customer_digits(1, 7), "se me cortó", "Ana", 1_800_000_000
    )
    body = payloads.evolution_message(message).body
    [event] = evolution_gateway().parse_webhook(body)
    assert isinstance(event, InboundMessage)
    assert (event.provider_id, event.phone, event.text, event.from_me) == (
        "3A01000000000000002A",
        f"+{message.phone}",
        "se me cortó",
        False,
    )
    assert item_ids(json.loads(body)) == ["3A01000000000000002A"]


def test_an_evolution_receipt_is_a_receipt_not_a_message():
    body = payloads.evolution_receipt(
        payloads.outbound_id("evolution", 12), "read", "5493512000001"
    ).body
    [event] = evolution_gateway().parse_webhook(body)
    assert isinstance(event, StatusReceipt)
    assert (event.provider_id, event.status) == ("3EB000000000000000000C", "read")
    assert item_ids(json.loads(body)) == ["READ:3EB000000000000000000C"]


def test_a_cloud_batch_is_signed_as_meta_signs_and_read_whole():
    posted = payloads.cloud_messages(
        [text(1), text(2, "anda lento"), text(3)], APP_SECRET, PHONE_NUMBER_ID
    )
    request = WebhookRequest("POST", posted.body, posted.headers, {})
    gateway = cloud_gateway()
    gateway.verify_webhook(request, url_secret_ok=True)  # raises when the signature is wrong
    events = gateway.parse_webhook(posted.body)
    assert [e.provider_id for e in events] == [text(n).message_id for n in (1, 2, 3)]
    assert events[1].text == "anda lento" and events[1].name == "Cliente 2"
    assert signature_ok(posted.body, posted.headers["X-Hub-Signature-256"], APP_SECRET)
    assert item_ids(json.loads(posted.body)) == [text(n).message_id for n in (1, 2, 3)]


def test_a_tampered_cloud_body_fails_both_checks():
    posted = payloads.cloud_messages([text(1)], APP_SECRET, PHONE_NUMBER_ID)
    tampered = posted.body.replace(b"hola", b"chau")
    request = WebhookRequest("POST", tampered, posted.headers, {})
    with pytest.raises(WebhookRejected):
        cloud_gateway().verify_webhook(request, url_secret_ok=True)
    assert not signature_ok(tampered, posted.headers["X-Hub-Signature-256"], APP_SECRET)


def test_cloud_statuses_are_receipts():
    posted = payloads.cloud_statuses(
        [
            (payloads.outbound_id("cloud", 3), "delivered", "5493512000001"),
            ("wamid.X", "read", "5493512000002"),
        ],
        APP_SECRET,
        PHONE_NUMBER_ID,
    )
    events = cloud_gateway().parse_webhook(posted.body)
    assert [(e.provider_id, e.status) for e in events] == [
        ("wamid.FAKE00000003", "delivered"),
        ("wamid.X", "read"),
    ]
    assert item_ids(json.loads(posted.body)) == ["delivered:wamid.FAKE00000003", "read:wamid.X"]
