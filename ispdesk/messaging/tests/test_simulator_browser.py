"""The simulator page in Chromium, on a phone-sized screen: the customer writes, ispdesk
stores it through the webhook, ispdesk answers and the answer appears live, then the
phone's receipts come back."""

from __future__ import annotations

import pytest

from ispdesk.integrations.whatsapp import registry
from ispdesk.messaging.models import GatewayConnection, InboundMessage, OutboundMessage
from ispdesk.messaging.outbox import queue_message
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401
from ispdesk.testing.sockets import wait_until

MARCELA = "+5491123456789"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def reply_from_ispdesk(text: str) -> OutboundMessage:
    """What the sender loop does: queue, hand to the gateway, store the provider id."""
    connection = GatewayConnection.objects.get(kind="simulator")
    message = queue_message(MARCELA, text, connection=connection)
    result = registry.build("simulator", {}).send_text(message.to, message.body)
    OutboundMessage.objects.filter(pk=message.pk).update(
        provider_id=result.provider_id, status="sent"
    )
    return message


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_it_chats_as_a_customer_through_the_webhook_live(live_asgi, operator, browser):  # noqa: F811
    page = page_as(
        browser,
        live_asgi,
        operator,
        viewport={"width": 390, "height": 780},
        is_mobile=True,
        has_touch=True,
    )
    page.goto(f"{live_asgi.url}/simulator/")
    page.fill("#sim-phone", "011 15 2345-6789")
    page.fill("#sim-name", "Marcela")
    page.click("text=Open chat")
    page.wait_for_selector('[data-sim][data-state="live"]', timeout=10_000)
    assert "+54 9 11 2345-6789" in page.inner_text(".sim-head")

    page.fill("#sim-text", "Hola, no tengo internet")
    page.press("#sim-text", "Enter")

    page.wait_for_selector('.sim-mine .sim-ticks[data-status="delivered"]', timeout=10_000)
    stored = InboundMessage.objects.get()
    assert (stored.phone, stored.name, stored.text) == (
        MARCELA,
        "Marcela",
        "Hola, no tengo internet",
    )
    assert page.input_value("#sim-text") == ""

    reply = reply_from_ispdesk("Hola Marcela, ¿reiniciaste el módem?")

    bubble = page.wait_for_selector(
        ".sim-theirs >> text=Hola Marcela, ¿reiniciaste el módem?", timeout=10_000
    )
    assert bubble is not None
    # The visible page answers like a phone: delivered, then read.
    wait_until(
        lambda: OutboundMessage.objects.get(pk=reply.pk).status == "read",
        timeout=10,
        message="the read receipt from the page",
    )
    reply.refresh_from_db()
    assert reply.delivered_at is not None and reply.read_at is not None
    # Usable on a phone: nothing wider than the screen, the composer in view.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("#sim-text").is_visible()
    assert page.locator(".sim-bubble").count() == 2
