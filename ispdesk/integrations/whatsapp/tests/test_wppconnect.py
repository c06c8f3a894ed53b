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
from ispdesk.integrations.whatsapp.wppconnect import (
    DEFAULT_SECRET,
    WppConnectConfig,
    WppConnectGateway,
)
from ispdesk.testing.fakes import WebhookSink
from ispdesk.testing.fakes.server import serving
from ispdesk.testing.fakes.wppconnect import PNG, serving_fake_wppconnect
from ispdesk.testing.sockets import free_port

FIXTURES = Path(__file__).parent / "fixtures" / "wppconnect"
RECEIVED_AT = datetime(2025, 1, 1, 12, 30, tzinfo=UTC)
CUSTOMER = "5491123456789@c.us"
SENT_ID = "true_5491123456789@c.us_3EB0000000000000000001"
HOOK = "https://desk.example.com.ar/hooks/whatsapp/Zq3kP0wLx8/"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def text_from(chat_id, provider_id, text, seconds, **fields):
    values = {
        "provider_id": provider_id,
        "chat_id": chat_id,
        "phone": "+5491123456789",
        "lid": "",
        "from_me": False,
        "name": "Juan Pérez",
        "text": text,
        "timestamp": at(seconds),
    }
    return InboundMessage(**{**values, **fields})


def receipt(status, error=""):
    return [StatusReceipt(SENT_ID, status, RECEIVED_AT, error)]


EXPECTED = {
    "onmessage_id_string.json": [
        text_from(
            CUSTOMER,
            "false_5491123456789@c.us_3EB0C431C26A1916E01B",
            "Hola, se me cortó el servicio",
            1735732800,
        )
    ],
    "onmessage_id_object.json": [
        text_from(
            "5493515551234@c.us",
            "false_5493515551234@c.us_3EB0F1E2D3C4B5A69788",
            "¿A qué hora viene el técnico?",
            1735732805,
            phone="+5493515551234",
            name="Jorge",
            quoted_id="true_5493515551234@c.us_3EB0000000000000000004",
        )
    ],
    "onmessage_lid.json": [
        text_from(
            "204617893187734@lid",
            "false_204617893187734@lid_3AD5E8C1F0B2A4968C7D",
            "Buenas, quiero dar de baja el servicio",
            1735732820,
            phone="",
            lid="204617893187734@lid",
            name="Lucía",
        )
    ],
    "onmessage_argentine_without_9.json": [
        text_from(
            "541123456789@c.us",
            "false_541123456789@c.us_3EB05F1A2B3C4D5E6F7A",
            "Ya pagué la factura",
            1735732840,
            name="Carlos",
        )
    ],
    "onmessage_group.json": [],
    "onmessage_from_me.json": [
        text_from(
            CUSTOMER,
            "true_5491123456789@c.us_3EB0D8A7B6C5D4E3F2A1B0",
            "Hola Juan, ya le reseteamos la conexión",
            1735732870,
            from_me=True,
            name="ISP Demo",
        )
    ],
    "onmessage_image.json": [
        text_from(
            CUSTOMER,
            "false_5491123456789@c.us_3A7F2C9E1B5D4A6C8E0F",
            "Así están las luces del módem",
            1735732810,
            message_type="image",
        )
    ],
    "onack_failed.json": receipt("failed", "the gateway reported ack -1"),
    "onack_pending.json": [],
    "onack_sent.json": receipt("sent"),
    "onack_delivered.json": receipt("delivered"),
    "onack_read.json": receipt("read"),
    "onack_played.json": receipt("read"),
    "qrcode.json": [
        QrCode(
            f"data:image/png;base64,{PNG}",
            "2@y8sLwQ2pX0nVb6Rc4TzKm1HfGd7Ja3Ue9Qo5Iw,ZmFrZWtleTE=,ZmFrZWtleTI=,ZmFrZWtleTM=,1",
        )
    ],
    "status_find_is_logged.json": [ConnectionState("connected", "isLogged")],
    "status_find_not_logged.json": [ConnectionState("qr", "notLogged")],
    "status_find_browser_close.json": [ConnectionState("disconnected", "browserClose")],
    "onpresencechanged.json": [],
}


def offline_gateway():
    config = WppConnectConfig(base_url="http://wpp.invalid", session="isp1", secret_key="s")
    adapter = WppConnectGateway(config)
    adapter.now = lambda: RECEIVED_AT
    return adapter


@pytest.fixture
def gateway():
    return offline_gateway()


@pytest.fixture
def wppconnect():
    """The fake server (`ispdesk.testing.fakes.wppconnect`), new for each test."""
    with serving_fake_wppconnect() as fake:
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


def test_it_reads_the_same_message_id_as_a_string_or_an_object(gateway):
    payload = json.loads((FIXTURES / "onmessage_id_string.json").read_bytes())
    payload["id"] = {"fromMe": False, "remote": CUSTOMER, "_serialized": payload["id"]}
    assert gateway.parse_webhook(json.dumps(payload).encode()) == parse(
        gateway, "onmessage_id_string.json"
    )


def test_it_takes_the_name_from_the_sender_when_there_is_no_notify_name(gateway):
    payload = json.loads((FIXTURES / "onmessage_id_string.json").read_bytes())
    del payload["notifyName"]
    payload["sender"]["pushname"] = "Juancito"
    [event] = gateway.parse_webhook(json.dumps(payload).encode())
    assert event.name == "Juancito"


def test_it_reads_self_messages_and_unread_catch_up_like_messages(gateway):
    for event in ("onselfmessage", "unreadmessages"):
        payload = json.loads((FIXTURES / "onmessage_from_me.json").read_bytes())
        payload["event"] = event
        assert gateway.parse_webhook(json.dumps(payload).encode()) == parse(
            gateway, "onmessage_from_me.json"
        )


def test_it_reports_a_closed_session_as_disconnected(gateway):
    body = b'{"event": "closesession", "session": "isp1", "message": "Session: isp1 disconnected"}'
    assert gateway.parse_webhook(body) == [
        ConnectionState("disconnected", "Session: isp1 disconnected")
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"session": "isp1"}', "no event"),
        (b'{"event": null}', "no event"),
        (b'{"event": "onmessage", "from": "549@c.us"}', "id"),
        (b'{"event": "onmessage", "id": "", "from": "549@c.us"}', "no id"),
        (b'{"event": "onmessage", "id": "x", "body": "hola"}', "no chat id"),
        (b'{"event": "onack", "id": 5, "ack": 1}', "id"),
        (b'{"event": "status-find", "status": 3}', "status"),
    ],
)
def test_it_rejects_malformed_bodies_with_400_and_a_reason(gateway, body, reason):
    with pytest.raises(WebhookRejected) as caught:
        gateway.parse_webhook(body)
    assert caught.value.status == 400
    assert reason in caught.value.reason


def test_it_accepts_and_ignores_unknown_events(gateway):
    assert gateway.parse_webhook(b'{"event": "onreactionmessage", "id": 1}') == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from([CUSTOMER, "204617893187734@lid", "120363041967849074@g.us", "chat"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["_serialized", "id", "pushname", "low"]) | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
fields = st.sampled_from(
    [
        "id",
        "body",
        "type",
        "t",
        "from",
        "to",
        "fromMe",
        "isGroupMsg",
        "notifyName",
        "sender",
        "caption",
        "mimetype",
        "quotedMsgId",
        "ack",
        "qrcode",
        "urlcode",
        "status",
        "message",
    ]
)
envelopes = st.builds(
    lambda event, rest: {**rest, "event": event},
    st.sampled_from(
        ["onmessage", "onselfmessage", "onack", "qrcode", "status-find", "closesession", "x"]
    ),
    st.dictionaries(fields, json_values, max_size=10),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, envelopes))
def test_it_answers_any_json_with_events_or_a_400(value):
    try:
        events = offline_gateway().parse_webhook(json.dumps(value).encode())
    except WebhookRejected as rejected:
        assert rejected.status == 400
    else:
        assert isinstance(events, list)


def test_it_trusts_only_the_url_secret(gateway):
    request = WebhookRequest("POST", b"{}", {}, {})
    gateway.verify_webhook(request, url_secret_ok=True)
    with pytest.raises(WebhookRejected) as caught:
        gateway.verify_webhook(request, url_secret_ok=False)
    assert caught.value.status == 403


def test_it_is_found_in_the_registry_with_its_secret_fields(wppconnect):
    gateway = registry.build("wppconnect", wppconnect.config())
    assert isinstance(gateway, WppConnectGateway)
    assert WppConnectConfig.secret_fields == ("secret_key",)
    assert gateway.default_rate_per_second == 1.0


# ---- tokens ----------------------------------------------------------------------------------


def test_it_gets_a_token_once_and_sends_it_as_a_bearer(wppconnect):
    gateway = wppconnect.gateway()
    gateway.send_text("+5491123456789", "Hola")
    gateway.send_text("+5491123456789", "¿Sigue ahí?")

    assert len(wppconnect.requests_to("/generate-token")) == 1
    [token] = wppconnect.tokens
    sends = wppconnect.requests_to("/api/isp1/send-message")
    assert [r.headers["authorization"] for r in sends] == [f"Bearer {token}"] * 2


def test_it_gets_a_new_token_once_when_the_old_one_is_refused(wppconnect):
    gateway = wppconnect.gateway()
    gateway.send_text("+5491123456789", "Hola")
    wppconnect.revoke_tokens()

    result = gateway.send_text("+5491123456789", "¿Sigue ahí?")

    assert len(wppconnect.requests_to("/generate-token")) == 2
    assert len(wppconnect.requests_to("/send-message")) == 3
    assert result.provider_id == wppconnect.accepted[1]["id"]


def test_it_gives_up_when_a_fresh_token_is_refused_too(wppconnect):
    wppconnect.fail_next("unauthorized", times=2)
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway().send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "bad_credentials")
    assert len(wppconnect.requests_to("/generate-token")) == 2
    assert wppconnect.accepted == []


def test_it_reports_a_wrong_secret_as_bad_credentials(wppconnect):
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway(secret_key="wrong").send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code, caught.value.status) == (
        True,
        "bad_credentials",
        400,
    )
    assert wppconnect.requests_to("/send-message") == []


def test_it_warns_about_the_default_secret_without_logging_it(caplog):
    caplog.set_level(logging.INFO)
    with serving_fake_wppconnect(secret_key=DEFAULT_SECRET) as fake:
        fake.gateway().send_text("+5491123456789", "Hola")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("default secret" in message for message in warnings)
    assert DEFAULT_SECRET not in caplog.text


# ---- sending ---------------------------------------------------------------------------------


def test_it_sends_text_to_an_e164_number_as_digits(wppconnect):
    result = wppconnect.gateway().send_text("+5491123456789", "Hola Juan")

    [request] = wppconnect.requests_to("/send-message")
    assert request.json == {"phone": "5491123456789", "message": "Hola Juan", "isGroup": False}
    assert result == SendResult(wppconnect.accepted[0]["id"], CUSTOMER)
    assert result.provider_id.startswith("true_5491123456789@c.us_")


def test_it_reads_a_sent_id_given_as_an_object(wppconnect):
    wppconnect.id_style = "object"
    result = wppconnect.gateway().send_text("+5491123456789", "Hola")
    assert result.provider_id == wppconnect.accepted[0]["id"]
    assert result.provider_id.startswith("true_5491123456789@c.us_3EB0")


def test_it_quotes_the_message_it_replies_to(wppconnect):
    quoted = "false_5491123456789@c.us_3EB0C431C26A1916E01B"
    wppconnect.gateway().send_text("5491123456789@c.us", "Sí", quoted_id=quoted)
    [request] = wppconnect.requests_to("/send-message")
    assert request.json["phone"] == "5491123456789"
    assert request.json["options"] == {"quotedMsg": quoted}


def test_it_replies_to_a_lid_chat_with_the_lid_as_received(wppconnect):
    result = wppconnect.gateway().send_text("204617893187734@lid", "Hola Lucía")
    [request] = wppconnect.requests_to("/send-message")
    assert request.json == {
        "phone": "204617893187734@lid",
        "message": "Hola Lucía",
        "isGroup": False,
        "isLid": True,
    }
    assert result.remote_id == "204617893187734@lid"


def test_it_keeps_the_chat_id_the_gateway_resolved(wppconnect):
    result = wppconnect.gateway().send_text("+541123456789", "Hola")
    assert wppconnect.accepted[0]["phone"] == "541123456789"
    assert result.remote_id == CUSTOMER


def test_it_sends_media_by_url(wppconnect):
    url = "https://desk.example.com.ar/media/factura-4512.pdf"
    result = wppconnect.gateway().send_media("+5491123456789", url, caption="Factura")
    [request] = wppconnect.requests_to("/send-file")
    assert request.json == {
        "phone": "5491123456789",
        "isGroup": False,
        "path": url,
        "filename": "factura-4512.pdf",
        "caption": "Factura",
        "options": {"mimetype": "application/pdf"},
    }
    assert result.provider_id == wppconnect.accepted[0]["id"]


@pytest.mark.parametrize(
    ("failure", "permanent", "code", "status"),
    [
        ("unknown_number", True, "unknown_number", 400),
        ("session_down", False, "session_down", 404),
        ("server_error", False, "server_error", 500),
        ("rate_limited", False, "rate_limited", 429),
    ],
)
def test_it_maps_each_failure_to_a_gateway_error(wppconnect, failure, permanent, code, status):
    wppconnect.fail_next(failure)
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway().send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code, caught.value.status) == (
        permanent,
        code,
        status,
    )
    assert wppconnect.accepted == []


def test_it_passes_on_how_long_the_gateway_asks_us_to_wait(wppconnect):
    wppconnect.fail_next("rate_limited", retry_after=12)
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway().send_text("+5491123456789", "Hola")
    assert caught.value.retry_after == 12.0


def test_it_reports_a_number_without_whatsapp_as_permanent(wppconnect):
    wppconnect.unknown_numbers.add("5491100000000")
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway().send_text("+5491100000000", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "unknown_number")


def test_it_reports_a_disconnected_session_as_transient(wppconnect):
    wppconnect.sessions["isp1"].status = "CLOSED"
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway().send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code, caught.value.status) == (
        False,
        "session_down",
        404,
    )


def test_a_send_left_unanswered_is_not_retried_because_it_may_have_gone_out(wppconnect):
    wppconnect.fail_next("hang")
    with pytest.raises(GatewayError) as caught:
        wppconnect.gateway(timeout=0.3).send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (True, "unknown_outcome")


def test_it_reports_an_unreachable_gateway_as_transient():
    config = {"base_url": f"http://127.0.0.1:{free_port()}", "session": "isp1", "secret_key": "s"}
    with pytest.raises(GatewayError) as caught:
        registry.build("wppconnect", config).send_text("+5491123456789", "Hola")
    assert (caught.value.permanent, caught.value.code) == (False, "unreachable")


def test_it_finds_the_phone_behind_a_lid(wppconnect):
    wppconnect.lid_phones["204617893187734@lid"] = "5491123456789"
    gateway = wppconnect.gateway()
    assert gateway.lookup_phone("204617893187734@lid") == "+5491123456789"
    assert gateway.lookup_phone("118872340965512@lid") == ""


# ---- session lifecycle -----------------------------------------------------------------------


def test_it_starts_the_session_with_our_webhook_and_shows_the_qr(wppconnect):
    gateway = wppconnect.gateway(session="isp2")

    info = gateway.connect(HOOK)

    assert wppconnect.paths() == [
        f"POST /api/isp2/{wppconnect.secret_key}/generate-token",
        "POST /api/isp2/start-session",
        "GET /api/isp2/status-session",
    ]
    [start] = wppconnect.requests_to("/start-session")
    assert start.json == {"webhook": HOOK, "waitQrCode": False}
    assert wppconnect.webhook_url("isp2") == HOOK
    assert info.state == ConnectionState("qr")
    assert info.qr == QrCode(f"data:image/png;base64,{PNG}", "2@fake-qr-isp2-1,fakekey=,fakeid=")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("CLOSED", ConnectionState("disconnected")),
        (None, ConnectionState("disconnected")),
        ("INITIALIZING", ConnectionState("connecting")),
        ("CONNECTED", ConnectionState("connected")),
        ("PHONE_NOT_CONNECTED", ConnectionState("unknown", "PHONE_NOT_CONNECTED")),
    ],
)
def test_it_reads_the_session_status(wppconnect, status, state):
    wppconnect.sessions["isp1"].status = status
    info = wppconnect.gateway().session()
    assert (info.state, info.qr) == (state, None)


def test_it_shows_connected_once_the_qr_is_scanned(wppconnect):
    gateway = wppconnect.gateway(session="isp2")
    gateway.connect(HOOK)
    wppconnect.scan_qr("isp2")
    assert gateway.session().state == ConnectionState("connected")


def test_it_restarts_by_closing_and_starting_again_with_our_webhook(wppconnect):
    gateway = wppconnect.gateway()
    gateway.connect(HOOK)
    wppconnect.start_state = "CONNECTED"  # the saved login comes back without a QR

    info = gateway.restart()

    assert wppconnect.paths()[-3:] == [
        "POST /api/isp1/close-session",
        "POST /api/isp1/start-session",
        "GET /api/isp1/status-session",
    ]
    assert wppconnect.requests_to("/start-session")[-1].json == {
        "webhook": HOOK,
        "waitQrCode": False,
    }
    assert wppconnect.webhook_url() == HOOK
    assert info.state == ConnectionState("connected")


def test_it_warns_when_restarting_without_knowing_our_webhook(wppconnect, caplog):
    wppconnect.gateway().restart()
    assert wppconnect.requests_to("/start-session")[-1].json == {"waitQrCode": False}
    assert "webhook" in caplog.text


def test_it_logs_out_and_tolerates_logging_out_twice(wppconnect):
    gateway = wppconnect.gateway()
    gateway.logout()
    gateway.logout()
    assert len(wppconnect.requests_to("/logout-session", "POST")) == 2
    assert gateway.session().state == ConnectionState("disconnected")


# ---- secrets and end to end ------------------------------------------------------------------


def test_it_never_logs_the_secret_or_the_token(wppconnect, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = wppconnect.gateway()
    gateway.connect(HOOK)
    wppconnect.scan_qr()
    gateway.send_text("+5491123456789", "Hola")
    wppconnect.fail_next("server_error")
    with pytest.raises(GatewayError) as failed:
        gateway.send_text("+5491123456789", "Hola")
    with pytest.raises(GatewayError) as refused:
        wppconnect.gateway(secret_key="wrong-secret-value").send_text("+549112345678", "x")

    assert "generate-token" in caplog.text  # the HTTP seam did log the calls
    secrets = [wppconnect.secret_key, "wrong-secret-value", *wppconnect.tokens]
    for text in (caplog.text, str(failed.value), str(refused.value)):
        for secret in secrets:
            assert secret not in text


def test_it_delivers_inbound_messages_to_the_started_sessions_webhook(wppconnect, sink):
    gateway = wppconnect.gateway(session="isp2")
    gateway.connect(sink.hook_url())
    wppconnect.session = "isp2"

    answer = wppconnect.deliver_text("204617893187734@lid", "Hola", id_style="object")

    assert answer.status_code == 200
    [delivered] = sink.wait_for_messages(1)
    [event] = gateway.parse_webhook(json.dumps(delivered).encode())
    assert (event.chat_id, event.lid, event.phone, event.text) == (
        "204617893187734@lid",
        "204617893187734@lid",
        "",
        "Hola",
    )


def test_it_delivers_acks_for_what_it_sent(wppconnect, sink):
    gateway = wppconnect.gateway()
    sent = gateway.send_text("+5491123456789", "Hola")

    wppconnect.deliver_ack(sent.provider_id, 3, to=sent.remote_id, url=sink.url)

    [delivered] = sink.wait_for_messages(1)
    [event] = gateway.parse_webhook(json.dumps(delivered).encode())
    assert (event.provider_id, event.status) == (sent.provider_id, "read")
