"""Connection actions: settings validated per kind, write-only secrets, one default, the
session state learned from gateways, and what the audit log and events say about it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from ispdesk.messaging.connections import (
    ConnectionChangeError,
    GatewayActionFailed,
    Probe,
    clean_config,
    do_connect,
    do_create_connection,
    do_delete_connection,
    do_logout,
    do_set_default,
    do_test_connection,
    do_update_connection,
    probe,
    public_config,
    record_session_state,
)
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.graph import fake_graph  # noqa: F401
from ispdesk.testing.sockets import free_port

EVOLUTION_KEY = "evo-api-key-NEVER-SHOWN-0001"
NEW_EVOLUTION_KEY = "evo-api-key-NEVER-SHOWN-0002"
WPP_SECRET = "wpp-secret-key-NEVER-SHOWN-03"
META_TOKEN = "meta-token-NEVER-SHOWN-0004"
META_APP_SECRET = "meta-app-secret-NEVER-SHOWN-5"
META_VERIFY = "meta-verify-NEVER-SHOWN-0006"
SECRETS = (
    EVOLUTION_KEY,
    NEW_EVOLUTION_KEY,
    WPP_SECRET,
    META_TOKEN,
    META_APP_SECRET,
    META_VERIFY,
)
# A QR as gateways hand it over: a PNG data URL.
QR_IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwAB"
    "BAEAwS2OUAAAAABJRU5ErkJggg=="
)


def closed_url() -> str:
    """An http URL where nothing listens: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def evolution_config(**overrides: Any) -> dict[str, Any]:
    return {"base_url": closed_url(), "api_key": EVOLUTION_KEY, "instance": "isp1", **overrides}


def wppconnect_config(**overrides: Any) -> dict[str, Any]:
    return {"base_url": closed_url(), "session": "isp1", "secret_key": WPP_SECRET, **overrides}


def meta_config(**overrides: Any) -> dict[str, Any]:
    return {
        "phone_number_id": "109876543210987",
        "access_token": META_TOKEN,
        "app_secret": META_APP_SECRET,
        "verify_token": META_VERIFY,
        **overrides,
    }


def make_connection(kind: str = "simulator", name: str = "", **fields: Any) -> GatewayConnection:
    """A stored connection, written directly (the actions under test are not needed to set up)."""
    config = fields.pop("config", None)
    if config is None:
        config = {"evolution": evolution_config, "meta_cloud": meta_config}.get(kind, lambda: {})()
        if kind == "wppconnect":
            config = wppconnect_config()
    return GatewayConnection.objects.create(
        kind=kind, name=name or f"{kind} line", config=config, **fields
    )


def queue_for(connection: GatewayConnection, count: int = 1, status: str = "queued") -> None:
    for number in range(count):
        OutboundMessage.objects.create(
            connection=connection,
            to=f"+54911234567{number:02d}",
            body="hola",
            status=status,
            next_attempt_at=timezone.now(),
        )


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked: {secret}"


def audit_text() -> str:
    rows = AuditEvent.objects.values("action", "object_repr", "before", "after")
    return json.dumps(list(rows), default=str)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def admins_inbox(db: Any) -> Iterator[Callable[[], list[dict]]]:
    """Every event the admins' group received so far (the in-memory layer of tests)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("role.admin", channel)

    def received() -> list[dict]:
        events = []
        queue = layer.channels.get(channel)
        while queue is not None and queue.qsize():
            events.append(async_to_sync(layer.receive)(channel)["event"])
        return events

    yield received
    async_to_sync(layer.group_discard)("role.admin", channel)


# Settings ------------------------------------------------------------------------------------


def test_it_keeps_a_stored_secret_when_an_update_leaves_it_out_blank_or_as_shown(db):
    stored = clean_config("evolution", evolution_config())
    for submitted in (
        {"instance": "isp2"},
        {"instance": "isp2", "api_key": ""},
        {"instance": "isp2", "api_key": None},
        {"instance": "isp2", "api_key": {"set": True}},
    ):
        cleaned = clean_config("evolution", submitted, stored, partial=True)
        assert cleaned["api_key"] == EVOLUTION_KEY, submitted
        assert cleaned["instance"] == "isp2"


def test_a_whole_form_replaces_plain_values_but_keeps_blank_secrets(db):
    stored = clean_config("evolution", evolution_config(instance="isp1"))
    submitted = {"base_url": stored["base_url"], "instance": "isp9", "api_key": ""}
    cleaned = clean_config("evolution", submitted, stored)
    assert cleaned == {
        "base_url": stored["base_url"],
        "api_key": EVOLUTION_KEY,
        "instance": "isp9",
    }


def test_stored_secrets_never_follow_the_connection_to_a_new_address(db):
    stored = clean_config("evolution", evolution_config())
    submitted = {"base_url": "http://elsewhere.example", "instance": "isp1", "api_key": ""}
    with pytest.raises(ConnectionChangeError) as caught:
        clean_config("evolution", submitted, stored)
    assert caught.value.code == "secrets_required"
    assert set(caught.value.fields) == {"config.api_key"}
    retyped = {**submitted, "api_key": "another-key-123"}
    assert clean_config("evolution", retyped, stored)["base_url"] == "http://elsewhere.example"


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("evolution", evolution_config(token="x"), "config.token"),
        ("evolution", {"base_url": "http://evo", "instance": "isp1"}, "config.api_key"),
        ("evolution", evolution_config(base_url="ftp://evo"), "config.base_url"),
        ("wppconnect", wppconnect_config(api_key="x"), "config.api_key"),
        ("wppconnect", {"base_url": "http://wpp:21465", "session": "s1"}, "config.secret_key"),
        ("meta_cloud", meta_config(instance="isp1"), "config.instance"),
        ("meta_cloud", meta_config(api_version="latest"), "config.api_version"),
        ("simulator", {"base_url": "http://x"}, "config.base_url"),
    ],
)
def test_it_names_the_bad_config_key(db, kind, config, field):
    with pytest.raises(ConnectionChangeError) as refused:
        clean_config(kind, config)
    assert refused.value.code == "validation_error"
    assert field in refused.value.fields
    assert_no_secret(json.dumps(refused.value.fields) + refused.value.message)


def test_it_refuses_nul_characters_that_postgresql_cannot_store(db):
    with pytest.raises(ConnectionChangeError) as refused:
        clean_config("evolution", evolution_config(instance="isp\x001"))
    assert "config.instance" in refused.value.fields


def test_the_public_config_says_only_whether_each_secret_is_set(db):
    stored = clean_config("meta_cloud", meta_config())
    shown = public_config("meta_cloud", stored)
    assert shown["access_token"] == {"set": True}
    assert shown["app_secret"] == {"set": True}
    assert shown["verify_token"] == {"set": True}
    assert shown["phone_number_id"] == "109876543210987"
    assert shown["base_url"] == "https://graph.facebook.com"
    assert_no_secret(json.dumps(shown))
    # A credential-like key an adapter forgot to declare is hidden all the same.
    assert public_config("simulator", {"password": "hunter2"}) == {"password": {"set": True}}


def test_it_refuses_an_unknown_kind_naming_the_field(admin):
    with pytest.raises(ConnectionChangeError) as refused:
        do_create_connection(admin, kind="telegram", name="Otro", config={})
    assert "kind" in refused.value.fields


def test_names_are_unique_whatever_their_case(admin):
    do_create_connection(admin, kind="simulator", name="Principal", config={})
    with pytest.raises(ConnectionChangeError) as refused:
        do_create_connection(admin, kind="simulator", name=" principal ", config={})
    assert (refused.value.code, refused.value.fields) == ("name_taken", {"name": "already taken"})


# Audit ---------------------------------------------------------------------------------------


def test_the_audit_log_records_changes_without_secret_values(admin):
    connection = do_create_connection(
        admin, kind="evolution", name="Soporte", config=evolution_config()
    )
    do_update_connection(admin, connection, {"config": {"api_key": NEW_EVOLUTION_KEY}})
    do_update_connection(admin, connection, {"config": {"instance": "isp2"}})
    created, replaced, renamed = AuditEvent.objects.filter(
        action__startswith="connection."
    ).order_by("pk")
    assert created.action == "connection.created"
    assert created.after["config"]["api_key"] == {"set": True}
    assert replaced.before["config"]["api_key"] == {"set": True}
    assert replaced.after["config"]["api_key"] == {"set": True, "replaced": True}
    assert (renamed.before["config"]["instance"], renamed.after["config"]["instance"]) == (
        "isp1",
        "isp2",
    )
    connection.refresh_from_db()
    assert connection.config["api_key"] == NEW_EVOLUTION_KEY
    assert_no_secret(audit_text())


def test_an_update_that_changes_nothing_writes_nothing(admin):
    connection = do_create_connection(
        admin, kind="evolution", name="Soporte", config=evolution_config()
    )
    before = AuditEvent.objects.count()
    do_update_connection(admin, connection, {"config": {"api_key": ""}, "name": "Soporte"})
    assert AuditEvent.objects.count() == before


# The default ---------------------------------------------------------------------------------


def test_the_first_connection_becomes_the_default_and_only_one_stays_default(admin):
    first = do_create_connection(admin, kind="simulator", name="Uno", config={})
    second = do_create_connection(admin, kind="simulator", name="Dos", config={})
    assert list(GatewayConnection.objects.filter(is_default=True)) == [first]
    do_set_default(admin, second)
    assert list(GatewayConnection.objects.filter(is_default=True)) == [second]
    third = do_create_connection(admin, kind="simulator", name="Tres", config={}, is_default=True)
    assert list(GatewayConnection.objects.filter(is_default=True)) == [third]


@pytest.mark.django_db(transaction=True)
def test_connections_made_default_at_once_leave_exactly_one_default(admin):
    rows = [make_connection(name=f"Línea {n}") for n in range(4)]
    barrier = threading.Barrier(len(rows))
    errors: list[BaseException] = []

    def make_default(connection: GatewayConnection) -> None:
        from django.db import connection as db_connection

        try:
            barrier.wait(timeout=30)
            do_set_default(admin, connection)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=make_default, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert GatewayConnection.objects.filter(is_default=True).count() == 1


# Delete --------------------------------------------------------------------------------------


def test_it_refuses_to_delete_a_connection_with_messages_waiting_unless_forced(admin):
    connection = make_connection()
    queue_for(connection, 2)
    queue_for(connection, 1, status=OutboundStatus.SENT)
    with pytest.raises(ConnectionChangeError) as refused:
        do_delete_connection(admin, connection)
    assert refused.value.code == "has_queued_messages"
    assert "2" in refused.value.message
    assert GatewayConnection.objects.filter(pk=connection.pk).exists()

    do_delete_connection(admin, connection, force=True)
    assert not GatewayConnection.objects.filter(pk=connection.pk).exists()
    event = AuditEvent.objects.get(action="connection.deleted")
    assert event.after == {"dropped_messages": 2}


def test_a_connection_whose_messages_all_left_is_deleted_without_force(admin):
    connection = make_connection()
    queue_for(connection, 1, status=OutboundStatus.DELIVERED)
    do_delete_connection(admin, connection)
    assert not GatewayConnection.objects.exists()


# The session ---------------------------------------------------------------------------------


def test_it_stores_a_qr_until_connected_and_tells_the_pages_once_per_change(
    admin, admins_inbox, django_capture_on_commit_callbacks
):
    connection = make_connection("evolution")
    with django_capture_on_commit_callbacks(execute=True):
        record_session_state(connection, Probe(ok=True, state="qr", qr=QR_IMAGE))
    connection.refresh_from_db()
    assert (connection.status, connection.last_qr) == ("qr", QR_IMAGE)
    assert connection.status_changed_at is not None
    assert admins_inbox() == [
        {"type": "session:status", "connection": connection.pk, "status": "qr", "detail": ""},
        {"type": "session:qr", "connection": connection.pk},
    ]

    with django_capture_on_commit_callbacks(execute=True):
        record_session_state(connection, Probe(ok=True, state="qr", qr=QR_IMAGE))
    assert admins_inbox() == []

    with django_capture_on_commit_callbacks(execute=True):
        record_session_state(connection, Probe(ok=True, state="connected", detail="5491155550000"))
    connection.refresh_from_db()
    assert (connection.status, connection.status_detail, connection.last_qr) == (
        "connected",
        "5491155550000",
        "",
    )
    assert admins_inbox() == [
        {
            "type": "session:status",
            "connection": connection.pk,
            "status": "connected",
            "detail": "5491155550000",
        },
        {"type": "session:qr", "connection": connection.pk},
    ]


def test_it_never_stores_a_qr_that_is_not_an_image_data_url(admin):
    connection = make_connection("evolution")
    record_session_state(connection, Probe(ok=True, state="qr", qr="javascript:alert(1)"))
    record_session_state(connection, Probe(ok=True, state="qr", qr="https://evil.example/q.png"))
    connection.refresh_from_db()
    assert connection.last_qr == ""


def test_a_refused_connection_is_a_failed_test_with_the_reason(admin):
    connection = make_connection("evolution")
    outcome = do_test_connection(admin, connection)
    assert outcome.ok is False
    assert outcome.detail
    connection.refresh_from_db()
    assert (connection.status, connection.status_detail) == ("disconnected", outcome.detail)
    event = AuditEvent.objects.get(action="connection.tested")
    assert event.after == {"ok": False, "state": "disconnected", "detail": outcome.detail}
    assert_no_secret(outcome.detail + audit_text())


def test_the_simulator_is_always_connected(admin):
    connection = make_connection("simulator")
    assert do_test_connection(admin, connection) == Probe(ok=True, state="connected")
    outcome = do_connect(admin, connection, "https://desk.example/hooks/whatsapp/x/")
    assert (outcome.ok, outcome.state) == (True, "connected")


def test_connect_and_logout_raise_with_the_reason_when_the_gateway_is_down(admin):
    connection = make_connection("wppconnect")
    with pytest.raises(GatewayActionFailed) as failed:
        do_connect(admin, connection, "https://desk.example/hooks/whatsapp/x/")
    assert failed.value.code == "gateway_error"
    with pytest.raises(GatewayActionFailed):
        do_logout(admin, connection)
    connection.refresh_from_db()
    assert connection.status == "disconnected"
    assert connection.status_detail == failed.value.message
    actions = list(
        AuditEvent.objects.filter(action__startswith="connection.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["connection.connected", "connection.logged_out"]
    assert_no_secret(failed.value.message + audit_text())


def test_the_cloud_api_check_passes_with_the_fake_graph(admin, fake_graph):  # noqa: F811
    outcome = probe("meta_cloud", clean_config("meta_cloud", fake_graph.config()))
    assert (outcome.ok, outcome.state) == (True, "connected")
    assert "5555-0000" in outcome.detail  # the number Graph knows for this phone number id


def test_the_cloud_api_check_fails_with_a_bad_token(admin, fake_graph):  # noqa: F811
    config = clean_config("meta_cloud", fake_graph.config(access_token=META_TOKEN))
    outcome = probe("meta_cloud", config)
    assert outcome.ok is False
    assert "token" in outcome.detail
    assert META_TOKEN not in outcome.detail
