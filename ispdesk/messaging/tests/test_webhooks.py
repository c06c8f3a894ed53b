"""The webhook endpoint `/hooks/whatsapp/<secret>/`: who gets which answer, what is stored,
and that no input, however bad, makes it answer 500."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.db import OperationalError, close_old_connections, connection
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ispdesk.messaging.models import (
    GatewayConnection,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    Purpose,
)
from ispdesk.messaging.tests.webhook_support import (
    MARCELA,
    VERIFY_TOKEN,
    evolution_connection,
    evolution_upsert,
    hook_url,
    meta_batch,
    meta_connection,
    post_json,
    post_meta,
    sent_message,
    simulator_connection,
)
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401


def sim_message(message_id: str = "sim-in-1", text: str = "Hola") -> dict[str, Any]:
    return {"type": "message", "id": message_id, "from": "011 15 2345-6789", "text": text}


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def simulator(db) -> GatewayConnection:  # type: ignore[no-untyped-def]
    return simulator_connection()


@pytest.fixture
def meta(db) -> GatewayConnection:  # type: ignore[no-untyped-def]
    return meta_connection()


@pytest.fixture
def evolution(db) -> GatewayConnection:  # type: ignore[no-untyped-def]
    return evolution_connection()


# Who is answered what ----------------------------------------------------------------------


def test_it_answers_404_for_an_unknown_secret(client, simulator):
    for url in ["/hooks/whatsapp/not-a-secret/", f"/hooks/whatsapp/{'x' * 300}/"]:
        response = client.post(url, b"{}", content_type="application/json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert not InboundMessage.objects.exists()


def test_it_answers_404_for_a_disabled_connection(client, simulator):
    GatewayConnection.objects.filter(pk=simulator.pk).update(enabled=False)

    assert post_json(client, simulator, sim_message()).status_code == 404
    assert client.get(hook_url(simulator)).status_code == 404
    assert not InboundMessage.objects.exists()


def test_it_finds_the_connection_by_its_own_secret_among_several(client, simulator, meta):
    response = post_json(client, simulator, sim_message())

    assert response.status_code == 200
    assert InboundMessage.objects.get().connection == simulator


def test_it_stores_a_message_and_answers_how_many(client, simulator):
    response = post_json(client, simulator, sim_message())

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stored": 1}
    assert InboundMessage.objects.get().phone == MARCELA


def test_it_accepts_the_url_without_its_final_slash_and_with_an_event_suffix(client, simulator):
    base = hook_url(simulator).rstrip("/")
    for number, url in enumerate([base, f"{base}/messages-upsert", f"{base}/messages-upsert/"]):
        body = json.dumps(sim_message(f"sim-in-{number}"))
        assert client.post(url, body, content_type="application/json").status_code == 200
    assert InboundMessage.objects.count() == 3


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_answers_405_to_other_methods(client, simulator, method):
    response = getattr(client, method)(hook_url(simulator))

    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"


def test_it_answers_405_to_a_get_that_is_no_handshake(client, simulator, meta):
    assert client.get(hook_url(simulator)).status_code == 405
    assert client.get(hook_url(meta)).status_code == 405


def test_it_answers_metas_verification_handshake_with_the_challenge(client, meta):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }

    response = client.get(hook_url(meta), query)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


def test_it_refuses_a_handshake_with_the_wrong_token(client, meta):
    query = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}

    response = client.get(hook_url(meta), query)

    assert response.status_code == 403
    assert b"1158201444" not in response.content


def test_it_answers_403_to_a_bad_signature(client, meta, caplog):
    body = json.dumps(meta_batch([("wamid.1", "5491123456789", "Hola")])).encode()
    wrong = "sha256=" + "0" * 64

    with caplog.at_level(logging.WARNING, logger="ispdesk.webhooks"):
        forged = post_json(client, meta, body, **{"X-Hub-Signature-256": wrong})
    unsigned = post_json(client, meta, body)

    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert forged.json()["code"] == "permission_denied"
    assert not InboundMessage.objects.exists()
    assert "rejected" in caplog.text


def test_it_answers_403_to_a_body_changed_after_signing(client, meta):
    body = json.dumps(meta_batch([("wamid.1", "5491123456789", "Hola")])).encode()
    from ispdesk.integrations.whatsapp.meta_cloud import signature_for
    from ispdesk.messaging.tests.webhook_support import APP_SECRET

    signature = signature_for(body, APP_SECRET)
    tampered = body.replace(b"Hola", b"Chau")

    response = post_json(client, meta, tampered, **{"X-Hub-Signature-256": signature})

    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe", b"[]", b'{"type": "message"}', b'"text"', b"1e999"],
)
def test_it_answers_400_with_a_log_line_to_a_malformed_body(client, simulator, caplog, body):
    with caplog.at_level(logging.WARNING, logger="ispdesk.webhooks"):
        response = post_json(client, simulator, body)

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    records = [record for record in caplog.records if record.name == "ispdesk.webhooks"]
    assert any("malformed body" in record.getMessage() for record in records)


def test_it_answers_400_to_a_signed_body_that_is_not_json(client, meta, caplog):
    with caplog.at_level(logging.WARNING, logger="ispdesk.webhooks"):
        response = post_meta(client, meta, b"<xml/>")

    assert response.status_code == 400
    assert "malformed body" in caplog.text


def test_it_answers_503_when_the_connection_config_is_broken(client, db, caplog):
    broken = GatewayConnection.objects.create(kind="meta_cloud", name="Broken", config={})

    response = post_json(client, broken, {"object": "whatsapp_business_account"})

    assert response.status_code == 503
    assert "cannot build its adapter" in caplog.text


# Sizes -------------------------------------------------------------------------------------


def test_it_accepts_a_body_over_djangos_upload_limit_up_to_the_configured_size(
    client, meta, settings
):
    assert settings.WEBHOOK_MAX_BYTES > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    payload = meta_batch([("wamid.big", "5491123456789", "x" * 3_000_000)])

    response = post_meta(client, meta, payload)

    assert response.status_code == 200
    assert InboundMessage.objects.get().provider_id == "wamid.big"


def test_it_answers_413_to_a_body_over_the_configured_size(client, meta, caplog):
    payload = meta_batch([("wamid.huge", "5491123456789", "x" * 3_600_000)])

    with caplog.at_level(logging.WARNING, logger="ispdesk.webhooks"):
        response = post_meta(client, meta, payload)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not InboundMessage.objects.exists()
    assert "refused" in caplog.text


def test_the_size_limit_is_a_setting(client, simulator, settings):
    settings.WEBHOOK_MAX_BYTES = 100

    assert post_json(client, simulator, sim_message(text="x" * 200)).status_code == 413
    assert post_json(client, simulator, sim_message(text="x")).status_code == 200


def test_it_measures_a_chunked_body_without_a_length_on_the_real_server(live_asgi, settings):  # noqa: F811
    connection = simulator_connection()
    settings.WEBHOOK_MAX_BYTES = 70_000
    url = f"{live_asgi.url}{hook_url(connection)}"

    def chunks(body: bytes) -> Iterator[bytes]:
        for start in range(0, len(body), 10_000):
            yield body[start : start + 10_000]

    small = json.dumps(sim_message(text="y" * 60_000)).encode()
    large = json.dumps(sim_message("sim-in-2", text="y" * 80_000)).encode()
    headers = {"Content-Type": "application/json"}
    accepted = httpx.post(url, content=chunks(small), headers=headers, timeout=10)
    refused = httpx.post(url, content=chunks(large), headers=headers, timeout=10)

    assert accepted.request.headers.get("Transfer-Encoding") == "chunked"
    assert (accepted.status_code, refused.status_code) == (200, 413)
    assert list(InboundMessage.objects.values_list("provider_id", flat=True)) == ["sim-in-1"]


# Our own faults: 503, never 4xx ------------------------------------------------------------


def _failing(statement: str):  # type: ignore[no-untyped-def]
    """A database that fails statements starting with `statement` (all when empty)."""

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.lstrip().upper().startswith(statement):
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    return wrapper


def test_it_answers_503_when_the_database_is_down(client, simulator, caplog):
    with connection.execute_wrapper(_failing("")):
        response = post_json(client, simulator, sim_message())

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert "answering 503" in caplog.text


def test_it_answers_503_and_stores_nothing_when_a_write_fails(client, simulator):
    sent_message(simulator, "sim-out-1")
    batch = [
        {"type": "receipt", "id": "sim-out-1", "status": "read"},
        sim_message(),
    ]

    with connection.execute_wrapper(_failing("INSERT")):
        response = post_json(client, simulator, batch)

    assert response.status_code == 503
    assert not InboundMessage.objects.exists()
    # One transaction: the receipt processed before the failure is rolled back too.
    assert OutboundMessage.objects.get().status == OutboundStatus.SENT
    # The gateway's retry stores everything.
    assert post_json(client, simulator, batch).json() == {"status": "ok", "stored": 2}


# What arrives is stored, once ---------------------------------------------------------------


def test_it_stores_every_message_and_status_of_a_meta_batch(client, meta):
    for number in range(150):
        sent_message(meta, f"wamid.out.{number}")
    messages = [(f"wamid.in.{n}", f"54911{n:08d}", f"mensaje {n}") for n in range(300)]
    statuses = [(f"wamid.out.{n}", ("delivered", "read")[n % 2]) for n in range(150)]

    response = post_meta(client, meta, meta_batch(messages, statuses, entries=4))

    assert response.json() == {"status": "ok", "stored": 450}
    assert InboundMessage.objects.filter(connection=meta).count() == 300
    assert set(InboundMessage.objects.values_list("phone", flat=True)) == {
        f"+54911{n:08d}" for n in range(300)
    }
    statuses_now = OutboundMessage.objects.values_list("status", flat=True)
    assert sorted(set(statuses_now)) == ["delivered", "read"]


def test_the_same_event_delivered_three_times_is_stored_once(client, evolution):
    payload = evolution_upsert("3EB0C767D26A1D", "5491123456789@s.whatsapp.net")

    answers = [post_json(client, evolution, payload).json() for _ in range(3)]

    assert [answer["stored"] for answer in answers] == [1, 0, 0]
    assert InboundMessage.objects.count() == 1


def test_it_stores_a_from_me_echo_as_outbound(client, evolution):
    payload = evolution_upsert(
        "3EB0ECHO", "5491123456789@s.whatsapp.net", "Ya te llamo", from_me=True
    )

    assert post_json(client, evolution, payload).json()["stored"] == 1

    echo = OutboundMessage.objects.get()
    assert (echo.purpose, echo.status, echo.provider_id, echo.body) == (
        Purpose.ECHO,
        OutboundStatus.SENT,
        "3EB0ECHO",
        "Ya te llamo",
    )
    assert not InboundMessage.objects.exists()


def test_it_maps_a_lid_sender_to_the_phone_and_remembers_it(client, evolution):
    first = evolution_upsert(
        "LID1", "123456789012345@lid", remote_jid_alt="5491123456789@s.whatsapp.net"
    )
    later = evolution_upsert("LID2", "123456789012345@lid", "¿Siguen ahí?")

    post_json(client, evolution, first)
    post_json(client, evolution, later)

    rows = InboundMessage.objects.order_by("provider_id")
    assert [(row.chat_id, row.phone) for row in rows] == [
        ("123456789012345@lid", MARCELA),
        ("123456789012345@lid", MARCELA),
    ]
    assert {row.lid for row in rows} == {"123456789012345@lid"}


@pytest.mark.parametrize("jid", ["120363025246125486@g.us", "status@broadcast"])
def test_it_ignores_groups_and_broadcasts(client, evolution, jid):
    response = post_json(client, evolution, evolution_upsert("GRP1", jid))

    assert response.json() == {"status": "ok", "stored": 0}
    assert not InboundMessage.objects.exists()


# Concurrency -------------------------------------------------------------------------------


def _post_from_thread(
    url: str, body: bytes, barrier: threading.Barrier, answers: list[Any]
) -> None:
    """POST like a gateway's second delivery; on PostgreSQL and MariaDB both threads are held
    just before their INSERT so both pass the "already stored?" check first."""

    def meet_before_insert(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.lstrip().upper().startswith("INSERT") and "inboundmessage" in sql.lower():
            barrier.wait(timeout=10)
        return execute(sql, params, many, context)

    try:
        if connection.vendor == "sqlite":
            # SQLite's IMMEDIATE transactions queue writers at BEGIN: they cannot interleave.
            barrier.wait(timeout=10)
            answers.append(Client().post(url, body, content_type="application/json"))
        else:
            with connection.execute_wrapper(meet_before_insert):
                answers.append(Client().post(url, body, content_type="application/json"))
    finally:
        close_old_connections()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_same_message_posted_by_two_threads_at_once_is_stored_once():
    connection_row = simulator_connection()
    barrier = threading.Barrier(2)
    answers: list[Any] = []
    body = json.dumps(sim_message("sim-in-race")).encode()
    threads = [
        threading.Thread(
            target=_post_from_thread, args=(hook_url(connection_row), body, barrier, answers)
        )
        for _ in range(2)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [answer.status_code for answer in answers] == [200, 200]
    # Each delivery inserts with ON CONFLICT DO NOTHING: when both pass the duplicate check
    # at once, both may report the message as stored; the table holds it once.
    assert sorted(answer.json()["stored"] for answer in answers) in ([0, 1], [1, 1])
    assert InboundMessage.objects.filter(provider_id="sim-in-race").count() == 1


# Fuzzing: whatever arrives, the answer is 200, 400 or 403 — never a 500 ----------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


def _valid_payloads() -> dict[str, Any]:
    return {
        "simulator": [sim_message(), {"type": "receipt", "id": "sim-out", "status": "read"}],
        "meta_cloud": meta_batch(
            [("wamid.f", "5491123456789", "Hola")], [("wamid.out", "delivered")]
        ),
        "evolution": evolution_upsert(
            "3EB0F", "123456789012345@lid", remote_jid_alt="5491123456789@s.whatsapp.net"
        ),
        "wppconnect": {
            "event": "onmessage",
            "session": "isp1",
            "id": {"_serialized": "false_5491123456789@c.us_3EB0W", "id": "3EB0W"},
            "body": "Hola",
            "type": "chat",
            "t": 1772463600,
            "from": "5491123456789@c.us",
            "isGroupMsg": False,
            "fromMe": False,
            "notifyName": "Marcela",
        },
    }


def _connections() -> dict[str, GatewayConnection]:
    wpp = {
        "base_url": "http://127.0.0.1:9",
        "session": "isp1",
        "secret_key": "wppconnect-secret-key",
    }
    return {
        "simulator": GatewayConnection.objects.get_or_create(
            kind="simulator", defaults={"name": "Simulador"}
        )[0],
        "meta_cloud": GatewayConnection.objects.filter(kind="meta_cloud").first()
        or meta_connection(),
        "evolution": GatewayConnection.objects.filter(kind="evolution").first()
        or evolution_connection(),
        "wppconnect": GatewayConnection.objects.get_or_create(
            kind="wppconnect", defaults={"name": "WPPConnect", "config": wpp}
        )[0],
    }


def _post_any(kind: str, body: bytes) -> int:
    connection_row = _connections()[kind]
    client = Client()
    if kind == "meta_cloud":
        return int(post_meta(client, connection_row, body).status_code)
    return int(post_json(client, connection_row, body).status_code)


FUZZ = hypothesis_settings(
    max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KINDS = st.sampled_from(["simulator", "meta_cloud", "evolution", "wppconnect"])


@FUZZ
@given(kind=KINDS, body=st.binary(max_size=200))
@example(kind="evolution", body=b'{"event": "messages.upsert", "data": null}')
@example(kind="wppconnect", body=b'{"event": "onack", "id": 5}')
def test_random_bytes_never_make_it_fail(db, kind, body):
    assert _post_any(kind, body) in (200, 400)


@FUZZ
@given(kind=KINDS, value=JSON_VALUES)
def test_random_json_never_makes_it_fail(db, kind, value):
    assert _post_any(kind, json.dumps(value).encode()) in (200, 400)


@FUZZ
@given(kind=KINDS, data=st.data(), replacement=JSON_VALUES)
def test_a_valid_payload_with_any_part_replaced_never_makes_it_fail(db, kind, data, replacement):
    valid = _valid_payloads()[kind]
    path = data.draw(st.sampled_from(_paths(valid)))
    mutated = _replace(valid, path, replacement)

    assert _post_any(kind, json.dumps(mutated).encode()) in (200, 400)


def test_no_log_line_carries_a_connection_secret(client, simulator, caplog):
    GatewayConnection.objects.filter(pk=simulator.pk).update(enabled=False)
    secret = simulator.webhook_secret

    with caplog.at_level(logging.DEBUG):
        client.post(hook_url(simulator), b"{}", content_type="application/json")
        GatewayConnection.objects.filter(pk=simulator.pk).update(enabled=True)
        post_json(client, simulator, b"{not json")
        with connection.execute_wrapper(_failing("")):
            post_json(client, simulator, sim_message())

    assert [record.levelname for record in caplog.records if record.name == "django.request"] == []
    assert secret not in caplog.text
    assert "malformed body" in caplog.text


def test_a_connection_disabled_here_is_refused_at_once_despite_the_cache(client, simulator):
    assert post_json(client, simulator, sim_message()).status_code == 200  # remembered now
    simulator.enabled = False
    simulator.save()

    again = post_json(client, simulator, sim_message("sim-in-2"))

    assert again.status_code == 404
    assert InboundMessage.objects.count() == 1
