"""The Cloud API adapter sending and its session, against a local Graph API."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ispdesk.integrations.whatsapp.base import (
    GatewayError,
)
from ispdesk.integrations.whatsapp.tests.meta_support import (
    JUAN,
    PEDRO,
    graph_gateway,
    offline_gateway,
)
from ispdesk.testing.fakes.graph import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    FakeGraph,
    fake_graph,  # noqa: F401
)
from ispdesk.testing.sockets import free_port

# --- sending ------------------------------------------------------------------------------------


def test_it_sends_text_as_the_graph_api_expects(fake_graph: FakeGraph) -> None:  # noqa: F811
    result = graph_gateway(fake_graph).send_text("+5491123456789", "Hola Juan, ya lo vemos")
    (request,) = fake_graph.requests
    assert (request.method, request.path) == ("POST", f"/v22.0/{PHONE_NUMBER_ID}/messages")
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": JUAN,
        "type": "text",
        "text": {"body": "Hola Juan, ya lo vemos", "preview_url": False},
    }
    assert result.provider_id == fake_graph.accepted[0]["id"]
    assert result.provider_id.startswith("wamid.")
    assert result.remote_id == JUAN


def test_it_quotes_the_message_it_replies_to(fake_graph: FakeGraph) -> None:  # noqa: F811
    graph_gateway(fake_graph).send_text(f"{JUAN}@s.whatsapp.net", "Sí", quoted_id="wamid.IN0002")
    (request,) = fake_graph.requests
    assert request.json["to"] == JUAN
    assert request.json["context"] == {"message_id": "wamid.IN0002"}
    assert request.json["text"] == {"body": "Sí", "preview_url": False}


@pytest.mark.parametrize(
    ("url", "mimetype", "caption", "filename", "sent"),
    [
        (
            "https://cdn.example.com/router.jpg",
            "",
            "Así conectalo",
            "",
            {
                "type": "image",
                "image": {"link": "https://cdn.example.com/router.jpg", "caption": "Así conectalo"},
            },
        ),
        (
            "https://cdn.example.com/get?id=7",
            "application/pdf",
            "Tu factura",
            "factura.pdf",
            {
                "type": "document",
                "document": {
                    "link": "https://cdn.example.com/get?id=7",
                    "caption": "Tu factura",
                    "filename": "factura.pdf",
                },
            },
        ),
        (
            "https://cdn.example.com/manual.pdf",
            "",
            "",
            "",
            {
                "type": "document",
                "document": {
                    "link": "https://cdn.example.com/manual.pdf",
                    "filename": "manual.pdf",
                },
            },
        ),
        (
            "https://cdn.example.com/nota.ogg",
            "audio/ogg",
            "",
            "",
            {"type": "audio", "audio": {"link": "https://cdn.example.com/nota.ogg"}},
        ),
        (
            "https://cdn.example.com/tutorial.mp4",
            "",
            "Mirá este video",
            "",
            {
                "type": "video",
                "video": {
                    "link": "https://cdn.example.com/tutorial.mp4",
                    "caption": "Mirá este video",
                },
            },
        ),
        (
            # The Cloud API has no audio captions: the caption must not be lost.
            "https://cdn.example.com/nota.mp3",
            "",
            "Escuchá esto",
            "",
            {
                "type": "document",
                "document": {
                    "link": "https://cdn.example.com/nota.mp3",
                    "caption": "Escuchá esto",
                    "filename": "nota.mp3",
                },
            },
        ),
    ],
)
def test_it_sends_media_by_url_typed_by_mimetype_or_extension(
    fake_graph: FakeGraph,  # noqa: F811
    url: str,
    mimetype: str,
    caption: str,
    filename: str,
    sent: dict[str, Any],
) -> None:
    result = graph_gateway(fake_graph).send_media(
        JUAN, url, caption=caption, mimetype=mimetype, filename=filename
    )
    (request,) = fake_graph.requests
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": JUAN}
    assert request.json == {**base, **sent}
    assert result.provider_id == fake_graph.accepted[0]["id"]


def test_it_sends_a_template_for_a_closed_window(fake_graph: FakeGraph) -> None:  # noqa: F811
    components = [{"type": "body", "parameters": [{"type": "text", "text": "4512"}]}]
    graph_gateway(fake_graph).send_template(JUAN, "ticket_asignado", "es_AR", components)
    (accepted,) = fake_graph.wait_for_messages(1)
    assert accepted["to"] == JUAN
    (request,) = fake_graph.requests
    assert request.json["type"] == "template"
    assert request.json["template"] == {
        "name": "ticket_asignado",
        "language": {"code": "es_AR"},
        "components": components,
    }
    assert len(fake_graph.accepted) == 1


@pytest.mark.parametrize(
    ("failure", "permanent", "code", "retry_after", "status"),
    [
        ("window_closed", True, "window_closed", None, 400),
        ("undeliverable", True, "undeliverable", None, 400),
        ("bad_token", True, "bad_credentials", None, 401),
        ("invalid_parameter", True, "invalid_request", None, 400),
        ("rate_limited", False, "rate_limited", 1.0, 400),
        ("pair_rate_limited", False, "rate_limited", 6.0, 400),
        ("server_error", False, "server_error", None, 500),
    ],
)
def test_it_maps_each_graph_error(
    fake_graph: FakeGraph,  # noqa: F811
    failure: str,
    permanent: bool,
    code: str,
    retry_after: float | None,
    status: int,
) -> None:
    fake_graph.fail_next(failure)
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph).send_text(PEDRO, "hola")
    error = caught.value
    assert (error.permanent, error.code, error.retry_after, error.status) == (
        permanent,
        code,
        retry_after,
        status,
    )
    assert len(fake_graph.requests) == 1


def test_it_says_clearly_that_the_window_is_closed(fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next("window_closed")
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph).send_text(PEDRO, "¿Se solucionó?")
    assert "24-hour customer service window is closed" in caught.value.message
    assert "template" in caught.value.message


def test_it_waits_as_long_as_the_graph_api_asks(fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next("rate_limited", retry_after=7)
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph).send_text(PEDRO, "hola")
    assert (caught.value.permanent, caught.value.retry_after) == (False, 7.0)


def test_it_retries_once_without_the_9_when_the_number_is_not_allowed(
    fake_graph: FakeGraph,  # noqa: F811
) -> None:
    fake_graph.allowed_recipients = {"541123456789"}
    result = graph_gateway(fake_graph).send_text("+5491123456789", "hola")
    assert [r.json["to"] for r in fake_graph.requests] == ["5491123456789", "541123456789"]
    assert fake_graph.requests[0].json["text"] == fake_graph.requests[1].json["text"]
    assert result.provider_id == fake_graph.accepted[0]["id"]
    assert result.remote_id == "541123456789"


def test_it_retries_without_the_9_only_once(fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next("not_allowed", times=3)
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph).send_text(JUAN, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, "recipient_not_allowed")
    assert [r.json["to"] for r in fake_graph.requests] == [JUAN, "541123456789"]


def test_it_does_not_retry_a_not_allowed_number_that_is_not_an_argentine_mobile(
    fake_graph: FakeGraph,  # noqa: F811
) -> None:
    fake_graph.allowed_recipients = set()
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph).send_text("+14155550123", "hello")
    assert (caught.value.permanent, caught.value.code) == (True, "recipient_not_allowed")
    assert [r.json["to"] for r in fake_graph.requests] == ["14155550123"]


def test_a_send_the_graph_api_left_unanswered_is_not_retried(fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next("hang")
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph, timeout=0.3).send_text(JUAN, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, "unknown_outcome")
    assert fake_graph.accepted == []


def test_it_treats_an_unreachable_graph_api_as_transient() -> None:
    gateway = offline_gateway(base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(GatewayError) as caught:
        gateway.send_text(JUAN, "hola")
    assert (caught.value.permanent, caught.value.code) == (False, "unreachable")


@pytest.mark.parametrize(
    ("to", "text", "code"),
    [
        ("", "hola", "invalid_recipient"),
        ("juan", "hola", "invalid_recipient"),
        (JUAN, "   ", "invalid_request"),
        (JUAN, "x" * 4097, "too_long"),
    ],
)
def test_it_refuses_what_graph_would_refuse_without_calling_it(
    fake_graph: FakeGraph,  # noqa: F811
    to: str,
    text: str,
    code: str,
) -> None:
    with pytest.raises(GatewayError) as caught:
        graph_gateway(fake_graph).send_text(to, text)
    assert (caught.value.permanent, caught.value.code) == (True, code)
    assert fake_graph.requests == []


def test_it_never_logs_or_reports_the_token(
    fake_graph: FakeGraph,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = graph_gateway(fake_graph, timeout=0.3)
    errors = []
    gateway.send_text(JUAN, "hola")
    for failure in ("bad_token", "server_error", "hang", "window_closed"):
        fake_graph.fail_next(failure)
        with pytest.raises(GatewayError) as caught:
            gateway.send_text(PEDRO, "hola")
        errors.append(caught.value)
    fake_graph.fail_next("bad_token")
    session = gateway.session()
    assert all(r.headers["authorization"] == f"Bearer {ACCESS_TOKEN}" for r in fake_graph.requests)
    assert "POST" in caplog.text  # the HTTP seam did log these calls
    shown = [caplog.text, session.state.detail, *(str(e) for e in errors)]
    assert not [text for text in shown if ACCESS_TOKEN in text or APP_SECRET in text]


# --- the session --------------------------------------------------------------------------------


def test_it_is_connected_when_the_graph_api_knows_the_number(fake_graph: FakeGraph) -> None:  # noqa: F811
    gateway = graph_gateway(fake_graph)
    session = gateway.session()
    assert session.state.state == "connected"
    assert session.state.detail == "ISP Demo +54 9 11 5555-0000"
    assert session.qr is None
    (request,) = fake_graph.requests
    assert (request.method, request.path) == ("GET", f"/v22.0/{PHONE_NUMBER_ID}")
    assert request.query == {"fields": "display_phone_number,verified_name"}
    assert gateway.connect("https://desk.example.com/hooks/whatsapp/abc/") == session


def test_it_is_disconnected_with_the_reason_when_the_token_is_bad(
    fake_graph: FakeGraph,  # noqa: F811
) -> None:
    session = graph_gateway(fake_graph, access_token="EAAGexpired").session()
    assert session.state.state == "disconnected"
    assert "access token is invalid or expired" in session.state.detail
    assert session.extra["code"] == "bad_credentials"


def test_it_is_disconnected_when_the_phone_number_id_is_wrong(fake_graph: FakeGraph) -> None:  # noqa: F811
    session = graph_gateway(fake_graph, phone_number_id="1234").session()
    assert session.state.state == "disconnected"
    assert "1234" in session.state.detail


def test_it_does_not_know_the_state_while_the_graph_api_fails(fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next("server_error")
    session = graph_gateway(fake_graph).session()
    assert session.state.state == "unknown"
    assert "HTTP 500" in session.state.detail
