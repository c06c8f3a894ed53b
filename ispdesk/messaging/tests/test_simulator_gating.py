"""The simulator exists in demo and test setups; in production only when an admin enables it."""

import json

import pytest

from ispdesk.messaging.connections import do_create_connection
from ispdesk.messaging.models import InboundMessage
from ispdesk.messaging.outbox import NoConnection, default_connection
from ispdesk.messaging.simulator import simulator_connection


@pytest.fixture
def production(settings):
    settings.TESTING = False
    settings.DEMO = False
    return settings


def _simulated_message() -> bytes:
    return json.dumps(
        {"type": "message", "id": "sim-in-1", "from": "+5491123456789", "text": "hola"}
    ).encode()


def test_a_switched_off_simulator_accepts_no_webhook(db, client, production):
    connection = simulator_connection()
    response = client.post(
        f"/hooks/whatsapp/{connection.webhook_secret}/",
        _simulated_message(),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert not InboundMessage.objects.exists()


def test_a_real_connection_added_after_the_simulator_becomes_the_default(db, admin, production):
    simulator_connection()
    evolution = do_create_connection(
        admin,
        kind="evolution",
        name="Línea principal",
        config={"base_url": "http://127.0.0.1:1", "api_key": "k3y-value-x", "instance": "isp"},
    )
    assert evolution.is_default
    assert default_connection() == evolution


def test_a_switched_off_simulator_is_never_the_connection_for_alerts(db, production):
    simulator_connection()
    with pytest.raises(NoConnection):
        default_connection()
