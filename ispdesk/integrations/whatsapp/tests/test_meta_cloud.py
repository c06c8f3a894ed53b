"""The WhatsApp Cloud API adapter, against a local Graph API and captured-shape payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import (
    InboundMessage,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.integrations.whatsapp.meta_cloud import (
    DEFAULT_API_VERSION,
    GRAPH_URL,
    MetaCloudConfig,
    MetaCloudGateway,
)
from ispdesk.integrations.whatsapp.tests.meta_support import (
    FIXTURES,
    JUAN,
    MARIA,
    NOON,
    PEDRO,
    fixture,
    graph_gateway,
    message,
    offline_gateway,
    provider_ids,
)
from ispdesk.testing.fakes.graph import (
    APP_SECRET,
    VERIFY_TOKEN,
    FakeGraph,
    fake_graph,  # noqa: F401
    meta_body,
    sign,
    status_update,
    text_message,
    webhook_payload,
)

# --- the adapter and its settings ---------------------------------------------------------------


def test_it_is_the_meta_cloud_kind_with_a_service_window_and_80_per_second() -> None:
    adapter = registry.adapter_class("meta_cloud")
    assert adapter is MetaCloudGateway
    assert adapter.has_service_window is True
    assert adapter.default_rate_per_second == 80
    config = offline_gateway().config
    assert (config.base_url, config.api_version) == (GRAPH_URL, DEFAULT_API_VERSION)
    assert set(MetaCloudConfig.secret_fields) == {"access_token", "app_secret", "verify_token"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_version": "21.0"},
        {"api_version": "v21"},
        {"phone_number_id": "+54 9 11 5555-0000"},
        {"access_token": " "},
        {"app_secret": ""},
        {"base_url": "graph.facebook.com"},
        {"webhook_secret": "extra keys are refused"},
    ],
)
def test_it_refuses_bad_settings(overrides: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        offline_gateway(**overrides)


# --- parsing webhooks ---------------------------------------------------------------------------

EXPECTED: dict[str, list[Any]] = {
    "text": [
        message(
            "wamid.HBgNNTQ5MTEyMzQ1Njc4ORUCABIYFjNFQjBBMUI2QzNFRjk4RDcwOEE1AA==",
            JUAN,
            "Juan Perez",
            "Hola, no tengo internet",
        )
    ],
    "text_reply": [
        message(
            "wamid.IN0002",
            JUAN,
            "Juan Perez",
            "Si, sigue sin andar",
            timestamp=datetime(2025, 1, 1, 12, 1, tzinfo=UTC),
            quoted_id="wamid.OUT0001",
        )
    ],
    "image_caption": [
        message(
            "wamid.IMG0001",
            MARIA,
            "Maria",
            "Foto del router con la luz roja",
            message_type="image",
        )
    ],
    "document": [message("wamid.DOC0001", MARIA, "Maria", "", message_type="document")],
    "interactive_button_reply": [
        message(
            "wamid.BTN0001",
            JUAN,
            "Juan Perez",
            "Soporte tecnico",
            message_type="interactive",
            quoted_id="wamid.OUTMENU01",
        )
    ],
    "interactive_list_reply": [
        message(
            "wamid.LIST0001",
            JUAN,
            "Juan Perez",
            "Facturacion",
            message_type="interactive",
            quoted_id="wamid.OUTLIST01",
        )
    ],
    "template_button": [
        message(
            "wamid.TPLBTN01",
            PEDRO,
            "Pedro",
            "Confirmar visita",
            message_type="button",
            quoted_id="wamid.OUTTPL01",
        )
    ],
    "location": [
        message(
            "wamid.LOC0001",
            PEDRO,
            "Pedro",
            "Casa\nSan Martin 1200, Mendoza\n-32.8894587,-68.8458386",
            message_type="location",
        )
    ],
    "reaction": [
        message(
            "wamid.REACT0001",
            JUAN,
            "Juan Perez",
            "\N{THUMBS UP SIGN}",
            message_type="reaction",
            quoted_id="wamid.OUT0001",
        )
    ],
    "unsupported": [message("wamid.UNSUP0001", JUAN, "Juan Perez", "", message_type="unsupported")],
    "status_failed": [
        StatusReceipt(
            "wamid.OUT0009",
            "failed",
            datetime(2025, 1, 1, 12, 0, 5, tzinfo=UTC),
            error="the message cannot be delivered to this number (no WhatsApp, old app "
            "version, or terms not accepted) [131026]: Message Undeliverable.",
            code="131026",
        )
    ],
    "non_messages_field": [],
    "non_ascii": [
        message(
            "wamid.UTF0001",
            MARIA,
            "María José Ñañez",
            "¿Cuándo vuelve el servicio? Ya reinicié el módem \N{LOUDLY CRYING FACE} "
            "https://ejemplo.com.ar/estado",
        )
    ],
    "batch": [
        message(
            "wamid.B2",
            MARIA,
            "Maria",
            "segundo",
            timestamp=datetime(2025, 1, 1, 12, 0, 20, tzinfo=UTC),
        ),
        message(
            "wamid.B1",
            JUAN,
            "Juan Perez",
            "primero",
            timestamp=datetime(2025, 1, 1, 12, 0, 10, tzinfo=UTC),
        ),
        message(
            "wamid.B3",
            JUAN,
            "Juan Perez",
            "",
            message_type="image",
            timestamp=datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC),
        ),
        StatusReceipt("wamid.OUT1", "read", datetime(2025, 1, 1, 12, 0, 40, tzinfo=UTC)),
        StatusReceipt("wamid.OUT1", "sent", datetime(2025, 1, 1, 12, 0, 1, tzinfo=UTC)),
        StatusReceipt("wamid.OUT1", "delivered", datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)),
        StatusReceipt("wamid.OUT2", "sent", datetime(2025, 1, 1, 12, 0, 3, tzinfo=UTC)),
        message(
            "wamid.B4",
            PEDRO,
            "Pedro",
            "tercero",
            timestamp=datetime(2025, 1, 1, 12, 0, 5, tzinfo=UTC),
        ),
        StatusReceipt(
            "wamid.OUT3",
            "failed",
            datetime(2025, 1, 1, 12, 0, 6, tzinfo=UTC),
            error="the 24-hour customer service window is closed: only an approved template can "
            "be sent until the customer writes again [131047]: Message failed to send because "
            "more than 24 hours have passed since the customer last replied to this number.",
            code="131047",
        ),
    ],
}


def test_it_has_an_expectation_for_every_fixture_file() -> None:
    assert {path.stem for path in FIXTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_it_parses_each_fixture_to_exact_events(name: str) -> None:
    assert offline_gateway().parse_webhook(fixture(name)) == EXPECTED[name]


def test_it_parses_all_1000_messages_of_one_post(fake_graph: FakeGraph) -> None:  # noqa: F811
    # Meta's documented maximum, spread over several entries as Meta may batch them.
    senders = [f"54911{n:08d}" for n in range(50)]
    items = [
        text_message(senders[n % 50], f"mensaje {n}", message_id=f"wamid.M{n}") for n in range(1000)
    ]
    payload = webhook_payload(items[:10], names={s: f"Cliente {s[-4:]}" for s in senders})
    for start in range(10, 1000, 330):
        payload["entry"] += webhook_payload(items[start : start + 330])["entry"]
    request = fake_graph.webhook_request(payload=payload)
    gateway = graph_gateway(fake_graph)
    gateway.verify_webhook(request, url_secret_ok=True)
    events = gateway.parse_webhook(request.body)
    assert provider_ids(events) == [f"wamid.M{n}" for n in range(1000)]
    assert {e.text for e in events if isinstance(e, InboundMessage)} == {
        f"mensaje {n}" for n in range(1000)
    }


def test_it_keeps_the_good_messages_when_one_is_malformed(caplog: pytest.LogCaptureFixture) -> None:
    good = text_message(JUAN, "hola", message_id="wamid.GOOD")
    odd = {"from": JUAN, "id": "wamid.ODD", "timestamp": "x", "type": "location", "location": 7}
    failed = {"id": "wamid.Z", "status": "failed", "timestamp": "1", "errors": [{"code": []}]}
    payload = webhook_payload(
        [{"from": JUAN, "type": "text"}, good, "not even an object", odd],
        [status_update("wamid.X", "delivered", recipient_id=JUAN), {"id": "wamid.Y"}, failed],
    )
    events = offline_gateway().parse_webhook(meta_body(payload))
    # Without an id a message cannot be stored; with one, an odd part costs only its text.
    assert provider_ids(events) == ["wamid.GOOD", "wamid.ODD", "wamid.X", "wamid.Z"]
    assert isinstance(events[1], InboundMessage)
    assert (events[1].message_type, events[1].text) == ("location", "")
    assert isinstance(events[3], StatusReceipt)
    assert (events[3].status, events[3].error) == (
        "failed",
        "failed without a readable reason from WhatsApp",
    )
    assert "skipping a malformed message" in caplog.text


def test_it_ignores_statuses_it_does_not_know() -> None:
    payload = webhook_payload([], [status_update("wamid.X", "deleted", recipient_id=JUAN)])
    assert offline_gateway().parse_webhook(meta_body(payload)) == []


def test_it_reads_a_54_plus_ten_digits_sender_as_the_549_mobile() -> None:
    payload = webhook_payload([text_message("541123456789", "hola")])
    (event,) = offline_gateway().parse_webhook(meta_body(payload))
    assert isinstance(event, InboundMessage)
    assert (event.chat_id, event.phone) == ("541123456789", "+5491123456789")


def test_it_returns_nothing_for_other_objects() -> None:
    body = json.dumps({"object": "instagram", "entry": [{"changes": []}]}).encode()
    assert offline_gateway().parse_webhook(body) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'"whatsapp_business_account"',
        b"null",
        b'{"entry": []}',
        b'{"object": 12, "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_it_rejects_what_is_not_a_webhook_with_400(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        offline_gateway().parse_webhook(body)
    assert caught.value.status == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)


small_json: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.just([]) | st.just({})
)


def mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine times in ten the right shape, else another JSON type: deep enough to reach every
    branch (`one_of` would flatten small_json's six branches and pick garbage most times)."""
    return st.integers(0, 9).flatmap(lambda n: small_json if n == 0 else strategy)


def shaped(
    required: dict[str, st.SearchStrategy[Any]], **optional: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {k: mostly(v) for k, v in required.items()},
        optional={k: mostly(v) for k, v in optional.items()},
    )


texts = st.text(max_size=12)
media = shaped({}, caption=texts, id=texts, mime_type=texts, filename=texts)
reply = shaped({"id": texts, "title": texts})
messages = shaped(
    {
        "from": st.from_regex(r"\A5\d{11,12}\Z") | texts,
        "id": st.text(min_size=1, max_size=30),
        "timestamp": st.integers().map(str) | st.integers(),
        "type": st.sampled_from(
            [
                "text",
                "image",
                "video",
                "audio",
                "document",
                "sticker",
                "interactive",
                "button",
                "location",
                "reaction",
                "contacts",
                "system",
                "unsupported",
                "order",
            ]
        ),
    },
    text=shaped({"body": texts}),
    image=media,
    document=media,
    audio=media,
    interactive=shaped(
        {"type": st.sampled_from(["button_reply", "list_reply", "nfm_reply"])},
        button_reply=reply,
        list_reply=reply,
        nfm_reply=shaped({}, body=texts, name=texts),
    ),
    button=shaped({}, text=texts, payload=texts),
    location=shaped({}, latitude=st.floats(), longitude=st.floats(), name=texts, address=texts),
    reaction=shaped({"message_id": texts, "emoji": texts}),
    contacts=st.lists(
        shaped(
            {"name": shaped({"formatted_name": texts})},
            phones=st.lists(shaped({"phone": texts}), max_size=2),
        ),
        max_size=2,
    ),
    system=shaped({"body": texts}),
    context=shaped({"id": texts}),
)
statuses = shaped(
    {
        "id": st.text(min_size=1, max_size=30),
        "status": st.sampled_from(["sent", "delivered", "read", "failed", "deleted"]),
        "timestamp": st.integers().map(str),
    },
    recipient_id=texts,
    errors=st.lists(
        shaped(
            {"code": st.integers() | st.integers().map(str)},
            title=texts,
            message=texts,
            error_data=shaped({"details": texts}),
        ),
        max_size=2,
    ),
)
values = shaped(
    {},
    contacts=st.lists(shaped({"wa_id": texts, "profile": shaped({"name": texts})}), max_size=3),
    messages=st.lists(messages, max_size=3),
    statuses=st.lists(statuses, max_size=3),
)
payloads = shaped(
    {
        "object": st.just("whatsapp_business_account"),
        "entry": st.lists(
            shaped(
                {
                    "changes": st.lists(
                        shaped({"field": st.just("messages"), "value": values}), max_size=2
                    )
                }
            ),
            max_size=2,
        ),
    }
)


def assert_events_or_400(body: bytes) -> None:
    try:
        events = offline_gateway().parse_webhook(body)
    except WebhookRejected as rejected:
        assert rejected.status == 400
        return
    assert all(isinstance(e, InboundMessage | StatusReceipt) for e in events)


def test_the_fuzzed_payloads_do_reach_messages_and_statuses() -> None:
    # Otherwise the fuzz tests below would only ever exercise the 400 paths.
    seen: set[type] = set()

    @settings(max_examples=60, phases=[Phase.generate], database=None, derandomize=True)
    @given(payloads)
    def parse(payload: Any) -> None:
        try:
            events = offline_gateway().parse_webhook(json.dumps(payload).encode())
        except WebhookRejected:
            return
        seen.update(type(e) for e in events)

    parse()
    assert seen == {InboundMessage, StatusReceipt}


@given(payloads | json_values)
def test_it_only_ever_answers_events_or_a_400_for_any_json(payload: Any) -> None:
    assert_events_or_400(json.dumps(payload).encode())


@given(st.binary(max_size=200))
def test_it_only_ever_answers_events_or_a_400_for_any_bytes(body: bytes) -> None:
    assert_events_or_400(body)


# --- authenticity -------------------------------------------------------------------------------


def signed(
    body: bytes, signature: str | None, header: str = "X-Hub-Signature-256"
) -> WebhookRequest:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[header] = signature
    return WebhookRequest("POST", body, headers, {})


def test_it_verifies_the_signature_over_the_raw_body_as_meta_sends_it() -> None:
    body = fixture("non_ascii")
    assert rb"\u00e1" in body and rb"\/" in body  # escaped, as Meta sends it
    gateway = offline_gateway()
    gateway.verify_webhook(signed(body, sign(body, APP_SECRET)), url_secret_ok=True)

    # The same JSON re-serialised has other bytes; a signature over it must not pass.
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    with pytest.raises(WebhookRejected):
        gateway.verify_webhook(signed(body, sign(reserialised, APP_SECRET)), url_secret_ok=True)


def test_it_accepts_the_header_in_any_case() -> None:
    body = fixture("text")
    request = signed(
        body, sign(body, APP_SECRET).upper().replace("SHA256=", "sha256="), "x-hub-signature-256"
    )
    offline_gateway().verify_webhook(request, url_secret_ok=True)


@pytest.mark.parametrize(
    ("signature", "url_secret_ok"),
    [
        (None, True),
        ("", True),
        ("sha256=", True),
        ("sha256=" + "0" * 64, True),
        (sign(b"another body", APP_SECRET), True),
        (sign(fixture("text"), "another-app-secret"), True),
        (sign(fixture("text"), APP_SECRET).removeprefix("sha256="), True),
        ("sha256=ñ" + "0" * 63, True),
        (sign(fixture("text"), APP_SECRET), False),
    ],
)
def test_it_refuses_a_webhook_without_the_right_signature(
    signature: str | None, url_secret_ok: bool
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        offline_gateway().verify_webhook(signed(fixture("text"), signature), url_secret_ok)
    assert caught.value.status == 403


def handshake(**query: str) -> WebhookRequest:
    return WebhookRequest("GET", b"", {}, query)


def test_it_answers_the_verification_handshake_with_the_challenge(
    fake_graph: FakeGraph,  # noqa: F811
) -> None:
    request = handshake(**fake_graph.verification_query("1158201444"))
    assert graph_gateway(fake_graph).verification_challenge(request) == "1158201444"
    assert fake_graph.requests == []


def test_it_refuses_the_handshake_with_another_verify_token() -> None:
    request = handshake(
        **{"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    )
    with pytest.raises(WebhookRejected) as caught:
        offline_gateway().verification_challenge(request)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "request_",
    [
        handshake(),
        handshake(**{"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN}),
        WebhookRequest(
            "POST", b"{}", {}, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}
        ),
    ],
)
def test_it_says_none_when_the_request_is_not_a_handshake(request_: WebhookRequest) -> None:
    assert offline_gateway().verification_challenge(request_) is None


def test_it_accepts_what_the_fake_posts_as_a_signed_webhook(fake_graph: FakeGraph) -> None:  # noqa: F811
    # The helper other tests use to play Meta: it must produce what Meta produces.
    response = fake_graph.post_webhook(
        f"{fake_graph.url}/hooks/whatsapp/s3cret/",
        [text_message(JUAN, "¿Hay corte en la zona?", message_id="wamid.E2E")],
        [status_update("wamid.OUT7", "read", recipient_id=JUAN)],
        names={JUAN: "Juan Pérez"},
    )
    assert response.status_code == 404  # the fake is no webhook receiver; it records the POST
    (received,) = fake_graph.requests_to("/hooks/whatsapp/s3cret/")
    request = WebhookRequest("POST", received.body, received.headers, {})
    gateway = offline_gateway()
    gateway.verify_webhook(request, url_secret_ok=True)
    assert gateway.parse_webhook(request.body) == [
        message("wamid.E2E", JUAN, "Juan Pérez", "¿Hay corte en la zona?"),
        StatusReceipt("wamid.OUT7", "read", NOON),
    ]
