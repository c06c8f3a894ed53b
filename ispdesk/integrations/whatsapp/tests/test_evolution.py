import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import (
    ConnectionState,
    GatewayError,
    InboundMessage,
    QrCode,
    SendResult,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.integrations.whatsapp.evolution import (
    WEBHOOK_EVENTS,
    EvolutionConfig,
    EvolutionGateway,
)
from ispdesk.testing.fakes import WebhookSink
from ispdesk.testing.fakes.evolution import QR_IMAGE, serving_fake_evolution, upsert_event
from ispdesk.testing.fakes.server import serving
from ispdesk.testing.sockets import free_port

FIXTURES = Path(__file__).parent / "fixtures" / "evolution"
RECEIVED_AT = datetime(2025, 1, 1, 12, 30, tzinfo=UTC)
CUSTOMER = "5491123456789@s.whatsapp.net"
QR_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf"
    "DwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def text_from(chat_id, provider_id, text, seconds, **fields):
    values = {
        "provider_id": provider_id,
        "chat_id": chat_id,
        "phone": "+5491123456789",
        "lid": "",
        "from_me": False,
        "name": "María González",
        "text": text,
        "timestamp": at(seconds),
    }
    return InboundMessage(**{**values, **fields})


def receipt(status, error=""):
    return [StatusReceipt("3EB0000000000000000001", status, RECEIVED_AT, error)]


CONVERSATION = text_from(
    CUSTOMER, "3EB0A1B2C3D4E5F6A7B8C9", "Hola, no tengo internet desde ayer", 1735732800
)
EXPECTED = {
    "messages_upsert_conversation.json": [CONVERSATION],
    "messages_upsert_conversation_redelivered.json": [CONVERSATION],
    "messages_upsert_extended_text.json": [
        text_from(
            "5493515551234@s.whatsapp.net",
            "3EB0C431C26A1916E01B5E",
            "Sigue sin andar, ya reinicié el router",
            1735732805,
            phone="+5493515551234",
            name="Jorge",
            quoted_id="3EB0000000000000000007",
        )
    ],
    "messages_upsert_image_caption.json": [
        text_from(
            CUSTOMER,
            "3A7F2C9E1B5D4A6C8E0F",
            "Así están las luces del módem",
            1735732810,
            message_type="image",
        )
    ],
    "messages_upsert_lid_with_alt.json": [
        text_from(
            "204617893187734@lid",
            "3AD5E8C1F0B2A4968C7D",
            "Buenas, quiero dar de baja el servicio",
            1735732820,
            lid="204617893187734@lid",
            name="Lucía",
        )
    ],
    "messages_upsert_lid_sender_pn.json": [
        text_from(
            "204617893187734@lid",
            "3AD5E8C1F0B2A4968C7E",
            "¿Me escuchan?",
            1735732825,
            lid="204617893187734@lid",
            name="Lucía",
        )
    ],
    "messages_upsert_lid_without_alt.json": [
        text_from(
            "118872340965512@lid",
            "3A91B0C2D4E6F8A0B2C4",
            "Hola, ¿cuánto sale el plan de 300 megas?",
            1735732830,
            phone="",
            lid="118872340965512@lid",
            name="Ramiro",
        )
    ],
    "messages_upsert_argentine_without_9.json": [
        text_from(
            "541123456789@s.whatsapp.net",
            "3EB05F1A2B3C4D5E6F7A8B",
            "Ya pagué la factura",
            1735732840,
            name="Carlos",
        )
    ],
    "messages_upsert_group.json": [],
    "messages_upsert_status_broadcast.json": [],
    "messages_upsert_from_me.json": [
        text_from(
            CUSTOMER,
            "3EB0D8A7B6C5D4E3F2A1B0",
            "Hola María, ya le reseteamos la conexión",
            1735732870,
            from_me=True,
            name="ISP Demo",
        )
    ],
    "send_message_echo.json": [
        text_from(
            CUSTOMER,
            "3EB0000000000000000001",
            "Su reclamo quedó registrado con el número 4512",
            1735732880,
            from_me=True,
            name="",
        )
    ],
    "messages_update_server_ack.json": receipt("sent"),
    "messages_update_delivery_ack.json": receipt("delivered"),
    "messages_update_read.json": receipt("read"),
    "messages_update_played.json": receipt("read"),
    "messages_update_error.json": receipt("failed", "the gateway reported ERROR"),
    "messages_update_pending.json": [],
    "messages_update_deleted.json": [],
    "connection_update_open.json": [ConnectionState("connected")],
    "connection_update_connecting.json": [ConnectionState("connecting")],
    "connection_update_close.json": [ConnectionState("disconnected", "statusReason 401")],
    "connection_update_refused.json": [ConnectionState("disconnected", "statusReason 403")],
    "qrcode_updated.json": [
        QrCode(
            QR_PNG,
            "2@y8sLwQ2pX0nVb6Rc4TzKm1HfGd7Ja3Ue9Qo5Iw,ZmFrZWtleTE=,ZmFrZWtleTI=,ZmFrZWtleTM=",
        )
    ],
    "presence_update.json": [],
}


@pytest.fixture
def gateway():
    config = EvolutionConfig(base_url="http://evolution.invalid", api_key="k", instance="isp1")
    adapter = EvolutionGateway(config)
    adapter.now = lambda: RECEIVED_AT
    return adapter


@pytest.fixture
def evolution():
    """The fake server (`ispdesk.testing.fakes.evolution`), new for each test."""
    with serving_fake_evolution() as fake:
        yield fake


@pytest.fixture
def sink():
    """Where the fake delivers webhooks when no ispdesk server runs."""
    with serving(WebhookSink()) as server:
        yield server


def parse(gateway, name):
    return gateway.parse_webhook((FIXTURES / name).read_bytes())


# ---- webhooks --------------------------------------------------------------------------------


def test_it_has_an_expectation_for_every_fixture():
    assert sorted(EXPECTED) == sorted(path.name for path in FIXTURES.glob("*.json"))


@pytest.mark.parametrize(("name", "events"), EXPECTED.items(), ids=list(EXPECTED))
def test_it_parses_each_captured_payload_into_typed_events(gateway, name, events):
    assert parse(gateway, name) == events


def test_it_parses_a_redelivered_event_to_the_same_message_id(gateway):
    first = parse(gateway, "messages_upsert_conversation.json")
    again = parse(gateway, "messages_upsert_conversation_redelivered.json")
    assert [event.provider_id for event in again] == [event.provider_id for event in first]


def test_it_reads_upper_case_event_names_as_their_dotted_form(gateway):
    payload = json.loads((FIXTURES / "messages_upsert_conversation.json").read_bytes())
    payload["event"] = "MESSAGES_UPSERT"
    assert gateway.parse_webhook(json.dumps(payload).encode()) == [CONVERSATION]


def test_it_reads_a_long_timestamp_and_a_message_without_message_type(gateway):
    payload = json.loads((FIXTURES / "messages_upsert_conversation.json").read_bytes())
    payload["data"]["messageTimestamp"] = {"low": 1735732800, "high": 0, "unsigned": True}
    del payload["data"]["messageType"]
    assert gateway.parse_webhook(json.dumps(payload).encode()) == [CONVERSATION]


def test_it_uses_the_clock_when_a_message_has_no_timestamp(gateway):
    payload = json.loads((FIXTURES / "messages_upsert_conversation.json").read_bytes())
    del payload["data"]["messageTimestamp"]
    [event] = gateway.parse_webhook(json.dumps(payload).encode())
    assert event.timestamp == RECEIVED_AT


def test_it_ignores_protocol_messages(gateway):
    payload = upsert_event("+5491123456789", "x")
    payload["data"]["message"] = {"protocolMessage": {"type": "REVOKE", "key": {"id": "3EB0"}}}
    payload["data"]["messageType"] = "protocolMessage"
    assert gateway.parse_webhook(json.dumps(payload).encode()) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[" * 50_000, "not JSON"),
        (b"[]", "not a JSON object"),
        (b'"messages.upsert"', "not a JSON object"),
        (b"{}", "no event"),
        (b'{"event": 5}', "no event"),
        (b'{"event": "  "}', "no event"),
        (b'{"event": "messages.upsert", "data": "x"}', "not an object"),
        (
            b'{"event": "messages.upsert", "data": {"key": {"remoteJid": "549@s.whatsapp.net"}}}',
            "id",
        ),
        (b'{"event": "connection.update", "data": {"state": 5}}', "state"),
        (b'{"event": "qrcode.updated", "data": []}', "not an object"),
    ],
)
def test_it_rejects_malformed_bodies_with_400_and_a_reason(gateway, body, reason):
    with pytest.raises(WebhookRejected) as caught:
        gateway.parse_webhook(body)
    assert caught.value.status == 400
    assert reason in caught.value.reason


def test_it_accepts_and_ignores_unknown_events(gateway):
    assert gateway.parse_webhook(b'{"event": "contacts.upsert", "data": [{"id": 1}]}') == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from([CUSTOMER, "204617893187734@lid", "status@broadcast", "READ", "open"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "key",
                    "remoteJid",
                    "remoteJidAlt",
                    "senderPn",
                    "id",
                    "keyId",
                    "fromMe",
                    "message",
                    "conversation",
                    "extendedTextMessage",
                    "imageMessage",
                    "text",
                    "caption",
                    "contextInfo",
                    "stanzaId",
                    "messageType",
                    "messageTimestamp",
                    "pushName",
                    "status",
                    "state",
                    "statusReason",
                    "qrcode",
                    "base64",
                    "code",
                    "low",
                    "high",
                    "messages",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)
envelopes = st.fixed_dictionaries(
    {
        "event": st.sampled_from(
            [
                "messages.upsert",
                "MESSAGES_UPSERT",
                "send.message",
                "messages.update",
                "connection.update",
                "qrcode.updated",
                "chats.update",
            ]
        ),
        "data": json_values,
    }
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, envelopes))
def test_it_answers_any_json_with_events_or_a_400(value):
    gateway = EvolutionGateway(
        EvolutionConfig(base_url="http://evolution.invalid", api_key="k", instance="isp1")
    )
    try:
        events = gateway.parse_webhook(json.dumps(value).encode())
    except WebhookRejected as rejected:
        assert rejected.status == 400
    else:
        assert isinstance(events, list)


@given(st.binary(max_size=200))
def test_it_answers_any_bytes_with_events_or_a_400(body):
    gateway = EvolutionGateway(
        EvolutionConfig(base_url="http://evolution.invalid", api_key="k", instance="isp1")
    )
    try:
        assert isinstance(gateway.parse_webhook(body), list)
    except WebhookRejected as rejected:
        assert rejected.status == 400


def test_it_trusts_only_the_url_secret(gateway):
    request = WebhookRequest("POST", b"{}", {}, {})
    gateway.verify_webhook(request, url_secret_ok=True)
    with pytest.raises(WebhookRejected) as caught:
        gateway.verify_webhook(request, url_secret_ok=False)
    assert caught.value.status == 403


def test_it_is_found_in_the_registry_with_its_secret_fields(evolution):
    gateway = registry.build("evolution", evolution.config())
    assert isinstance(gateway, EvolutionGateway)
    assert EvolutionConfig.secret_fields == ("api_key",)
    assert gateway.default_rate_per_second == 1.0


@pytest.mark.parametrize(
    "config",
    [
        {"base_url": "evolution.local", "api_key": "k", "instance": "isp1"},
        {"base_url": "http://evolution.local", "api_key": "", "instance": "isp1"},
        {"base_url": "http://evolution.local", "api_key": "k", "instance": ""},
        {"base_url": "http://evolution.local", "api_key": "k", "instance": "i", "extra": 1},
    ],
)
def test_it_rejects_incomplete_settings(config):
    with pytest.raises(ValueError):
        registry.parse_config("evolution", config)


# ---- sending ---------------------------------------------------------------------------------


def test_it_sends_text_to_an_e164_number_as_digits(evolution):
    result = evolution.gateway().send_text("+5491123456789", "Hola María")

    [request] = evolution.requests_to("/message/sendText/isp1", "POST")
    assert request.headers["apikey"] == evolution.api_key
    assert request.json == {"number": "5491123456789", "text": "Hola María", "linkPreview": False}
    assert result == SendResult(evolution.accepted[0]["id"], CUSTOMER)


def test_it_sends_to_a_phone_chat_id_by_its_user_part(evolution):
    evolution.gateway().send_text("5491123456789:3@s.whatsapp.net", "Hola")
    assert evolution.accepted[0]["number"] == "5491123456789"


def test_it_replies_to_a_lid_chat_with_the_lid_as_received(evolution):
    result = evolution.gateway().send_text("204617893187734@lid", "Hola Lucía")
    assert evolution.accepted[0]["number"] == "204617893187734@lid"
    assert result.remote_id == "204617893187734@lid"


def test_it_keeps_the_chat_id_the_gateway_resolved(evolution):
    result = evolution.gateway().send_text("+541123456789", "Hola")
    assert evolution.accepted[0]["number"] == "541123456789"
    assert result.remote_id == CUSTOMER


def test_it_quotes_the_message_it_replies_to(evolution):
    evolution.gateway().send_text("+5491123456789", "Sí", quoted_id="3EB0A1B2C3D4E5F6A7B8C9")
    assert evolution.accepted[0]["quoted"] == {
        "key": {"id": "3EB0A1B2C3D4E5F6A7B8C9"},
        "message": {"conversation": ""},
    }


def test_it_sends_media_by_url_with_its_type_and_name(evolution):
    result = evolution.gateway().send_media(
        "+5491123456789", "https://desk.example.com.ar/media/factura-4512.pdf", caption="Factura"
    )
    [request] = evolution.requests_to("/message/sendMedia/isp1")
    assert request.json == {
        "number": "5491123456789",
        "mediatype": "document",
        "mimetype": "application/pdf",
        "media": "https://desk.example.com.ar/media/factura-4512.pdf",
        "fileName": "factura-4512.pdf",
        "caption": "Factura",
    }
    assert result.provider_id == evolution.accepted[0]["id"]


def test_it_sends_images_as_images(evolution):
    evolution.gateway().send_media(
        "+5491123456789", "https://cdn.example/x", mimetype="image/jpeg", filename="modem.jpg"
    )
    assert evolution.accepted[0]["mediatype"] == "image"
    assert evolution.accepted[0]["fileName"] == "modem.jpg"


@pytest.mark.parametrize(
    ("failure", "permanent", "code", "status"),
    [
        ("unknown_number", True, "unknown_number", 400),
        ("unauthorized", True, "bad_credentials", 401),
        ("session_down", False, "session_down", 404),
        ("connection_closed", False, "session_down", 400),
        ("server_error", False, "server_error", 500),
        ("rate_limited", False, "rate_limited", 429),
    ],
)
def test_it_maps_each_failure_to_a_gateway_error(evolution, failure, permanent, code, status):
    evolution.fail_next(failure)
    with pytest.raises(GatewayError) as caught:
        evolution.gateway().send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code, caught.value.status) == (
        permanent,
        code,
        status,
    )
    assert evolution.accepted == []


def test_it_passes_on_how_long_the_gateway_asks_us_to_wait(evolution):
    evolution.fail_next("rate_limited", retry_after=7)
    with pytest.raises(GatewayError) as caught:
        evolution.gateway().send_text("+5491123456789", "Hola")
    assert caught.value.retry_after == 7.0


def test_it_reports_a_number_without_whatsapp_as_permanent(evolution):
    evolution.unknown_numbers.add("5491100000000")
    with pytest.raises(GatewayError) as caught:
        evolution.gateway().send_text("+5491100000000", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "unknown_number")


def test_it_reports_a_wrong_api_key_as_bad_credentials(evolution):
    with pytest.raises(GatewayError) as caught:
        evolution.gateway(api_key="wrong").send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "bad_credentials")


def test_it_reports_a_missing_instance_as_a_transient_session_failure(evolution):
    with pytest.raises(GatewayError) as caught:
        evolution.gateway(instance="gone").send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (False, "session_down")


def test_it_reports_a_closed_whatsapp_session_as_transient(evolution):
    evolution.instances["isp1"].state = "close"
    with pytest.raises(GatewayError) as caught:
        evolution.gateway().send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (False, "session_down")


def test_a_send_left_unanswered_is_not_retried_because_it_may_have_gone_out(evolution):
    evolution.fail_next("hang")
    with pytest.raises(GatewayError) as caught:
        evolution.gateway(timeout=0.3).send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "unknown_outcome")


def test_it_reports_an_unreachable_gateway_as_transient():
    config = {"base_url": f"http://127.0.0.1:{free_port()}", "api_key": "k", "instance": "isp1"}
    with pytest.raises(GatewayError) as caught:
        registry.build("evolution", config).send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (False, "unreachable")


def test_it_refuses_to_send_to_a_group(evolution):
    with pytest.raises(GatewayError) as caught:
        evolution.gateway().send_text("120363041967849074@g.us", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "bad_recipient")
    assert evolution.requests == []


# ---- instance lifecycle ----------------------------------------------------------------------


def test_it_creates_the_instance_registers_the_nested_webhook_and_shows_the_qr(evolution):
    gateway = evolution.gateway(instance="isp2")
    hook = "https://desk.example.com.ar/hooks/whatsapp/Zq3kP0wLx8/"

    info = gateway.connect(hook)

    assert evolution.paths() == [
        "POST /instance/create",
        "POST /webhook/set/isp2",
        "GET /instance/connect/isp2",
        "GET /instance/connectionState/isp2",
    ]
    webhook = {
        "enabled": True,
        "url": hook,
        "byEvents": False,
        "base64": False,
        "events": list(WEBHOOK_EVENTS),
    }
    [create] = evolution.requests_to("/instance/create")
    assert create.json == {
        "instanceName": "isp2",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": True,
        "webhook": webhook,
    }
    [webhook_set] = evolution.requests_to("/webhook/set/isp2")
    assert webhook_set.json == {"webhook": webhook}
    assert evolution.webhook_url("isp2") == hook
    assert info.state == ConnectionState("qr")
    assert info.qr == QrCode(QR_IMAGE, "2@fake-qr-isp2-1,fakekey=,fakeid=")


def test_it_connects_an_existing_instance_despite_already_in_use(evolution):
    info = evolution.gateway().connect("https://desk.example.com.ar/hooks/whatsapp/s/")
    assert evolution.requests_to("/instance/create")[0] is evolution.requests[0]
    assert evolution.webhook_url() == "https://desk.example.com.ar/hooks/whatsapp/s/"
    assert info.state == ConnectionState("connected")
    assert info.qr is None


def test_it_stops_connecting_when_the_api_key_is_wrong(evolution):
    with pytest.raises(GatewayError) as caught:
        evolution.gateway(api_key="wrong").connect("https://desk.example.com.ar/h/")
    assert (caught.value.permanent, caught.value.code) == (True, "bad_credentials")
    assert evolution.paths() == ["POST /instance/create"]


def test_it_shows_the_qr_while_connecting_and_connected_once_scanned(evolution):
    gateway = evolution.gateway()
    evolution.instances["isp1"].state = "connecting"
    evolution.instances["isp1"].qr_count = 3

    waiting = gateway.session()
    evolution.scan_qr()
    connected = gateway.session()

    assert waiting.state == ConnectionState("qr")
    assert waiting.qr == QrCode(QR_IMAGE, "2@fake-qr-isp1-3,fakekey=,fakeid=")
    assert connected.state == ConnectionState("connected")
    assert connected.qr is None


def test_it_reports_a_missing_instance_as_disconnected(evolution):
    info = evolution.gateway(instance="gone").session()
    assert info.state == ConnectionState("disconnected", "the instance does not exist")


def test_it_restarts_an_open_instance(evolution):
    info = evolution.gateway().restart()
    assert evolution.paths()[0] == "POST /instance/restart/isp1"
    assert evolution.instances["isp1"].restarts == 1
    assert info.state == ConnectionState("connected")


def test_it_restarts_a_closed_instance_by_connecting_it(evolution):
    evolution.instances["isp1"].state = "close"
    info = evolution.gateway().restart()
    assert "GET /instance/connect/isp1" in evolution.paths()
    assert info.state == ConnectionState("qr")


def test_it_logs_out_and_tolerates_logging_out_twice(evolution):
    gateway = evolution.gateway()
    gateway.logout()
    gateway.logout()
    assert evolution.paths() == ["DELETE /instance/logout/isp1"] * 2
    assert evolution.instances["isp1"].state == "close"
    assert gateway.session().state == ConnectionState("disconnected")


# ---- secrets and end to end ------------------------------------------------------------------


def test_it_never_logs_the_api_key(evolution, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = evolution.gateway()
    gateway.send_text("+5491123456789", "Hola")
    gateway.connect("https://desk.example.com.ar/hooks/whatsapp/s/")
    evolution.fail_next("server_error")
    with pytest.raises(GatewayError) as failed:
        gateway.send_text("+5491123456789", "Hola")
    evolution.fail_next("hang")
    with pytest.raises(GatewayError) as timed_out:
        evolution.gateway(timeout=0.2).send_text("+5491123456789", "Hola")

    assert "sendText" in caplog.text  # the HTTP seam did log the calls
    for text in (caplog.text, str(failed.value), str(timed_out.value)):
        assert evolution.api_key not in text
        assert evolution.instances["isp1"].token not in text


def test_it_delivers_inbound_messages_to_the_registered_webhook(evolution, sink):
    gateway = evolution.gateway()
    gateway.connect(sink.hook_url())

    answer = evolution.deliver_text("+5491123456789", "Hola", message_id="3EB0FEED")

    assert answer.status_code == 200
    [delivered] = sink.wait_for_messages(1)
    [event] = gateway.parse_webhook(json.dumps(delivered).encode())
    assert (event.provider_id, event.phone, event.text) == ("3EB0FEED", "+5491123456789", "Hola")


def test_it_delivers_receipts_for_what_it_sent(evolution, sink):
    gateway = evolution.gateway()
    gateway.connect(sink.hook_url())
    sent = gateway.send_text("+5491123456789", "Hola")

    evolution.deliver_receipt(sent.provider_id, "READ", remote_jid=sent.remote_id)

    [delivered] = sink.wait_for_messages(1)
    [event] = gateway.parse_webhook(json.dumps(delivered).encode())
    assert (event.provider_id, event.status) == (sent.provider_id, "read")


def test_one_malformed_message_in_a_batch_does_not_lose_the_others():
    gateway = registry.build(
        "evolution", {"base_url": "http://127.0.0.1:1", "api_key": "k3y-12345", "instance": "isp1"}
    )
    good = {
        "key": {"remoteJid": "5491123456789@s.whatsapp.net", "fromMe": False, "id": "GOOD1"},
        "pushName": "Marcela",
        "message": {"conversation": "Hola"},
        "messageType": "conversation",
        "messageTimestamp": 1767225600,
    }
    body = json.dumps(
        {"event": "messages.upsert", "instance": "isp1", "data": [{"key": "broken"}, good]}
    ).encode()
    events = gateway.parse_webhook(body)
    assert [event.provider_id for event in events] == ["GOOD1"]


@pytest.mark.parametrize("keep_alive", [False, True])
def test_the_fake_keeps_connections_alive_only_when_asked(keep_alive):
    from http.client import HTTPConnection

    from ispdesk.testing.fakes.evolution import FakeEvolution

    with serving(FakeEvolution(), keep_alive=keep_alive) as fake:
        client = HTTPConnection(fake.host, fake.port, timeout=5)
        sockets = []
        for _ in range(2):
            client.request("GET", "/instance/fetchInstances")
            client.getresponse().read()
            sockets.append(client.sock)
        client.close()

    # Kept alive (the benchmark's gateways, like the real ones): both requests on one
    # connection; otherwise the server closes each (tests never reuse a stopped fake's).
    assert (sockets[0] is not None and sockets[0] is sockets[1]) == keep_alive
