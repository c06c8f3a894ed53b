"""The agent console in Chromium, end to end: a customer writes from the simulator, the chat
reaches Ana's open console live, she answers, and the customer's phone shows the answer.

Screenshots of the console (desktop 1280x800, phone 390x844) are saved to `test-artifacts/`
at the repository root.
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from ispdesk.conversations.display import THREAD_LINES
from ispdesk.conversations.models import Conversation, Message, Sender
from ispdesk.conversations.tests.conftest import (
    desk_operator,
    make_contact,
    make_conversation,
    simulator_number,
)
from ispdesk.messaging.models import GatewayConnection, OutboundMessage
from ispdesk.messaging.outbox import queue_message
from ispdesk.messaging.sender import send_due_messages
from ispdesk.messaging.simulator import webhook_path
from ispdesk.operators.models import Area, ConsoleSession, Operator
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import LiveServer, live_asgi  # noqa: F401
from ispdesk.testing.sockets import wait_until

TIMEOUT_MS = 10_000
MARCELA = "+5491123456789"
ARTIFACTS = Path(settings.BASE_DIR).parent / "test-artifacts"
XSS = "<img src=x onerror=alert(1)>"
_ids = itertools.count(1)

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def soporte(transactional_db: Any) -> Area:
    return Area.objects.create(name="Soporte")


@pytest.fixture
def offline_ana(operator: Any, soporte: Area) -> Operator:
    """Ana, on a 24/7 window but with no console open: her page must bring her online."""
    return desk_operator(operator, [soporte], online=False, chat_capacity=3)


@pytest.fixture
def chromium_extra_args() -> list[str]:
    # The console's sound: let Web Audio start without a click (nothing is heard headless).
    return ["--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


def open_page(browser: Any, server: LiveServer, user: Any, path: str, **options: Any) -> Any:
    page = page_as(browser, server, user, **options)
    page.context.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}{path}")
    return page


def open_console(browser: Any, server: LiveServer, user: Any, **options: Any) -> Any:
    from playwright.sync_api import expect

    options.setdefault("viewport", {"width": 1280, "height": 800})
    page = open_page(browser, server, user, "/desk/", **options)
    expect(page.locator("body")).to_have_attribute("data-realtime-state", "connected")
    # Set on the page itself: it survives fragment swaps, not a reload.
    page.evaluate("window.notReloaded = true")
    return page


def customer_writes(server: LiveServer, text: str, name: str = "Marcela") -> None:
    """What the simulator page does: POST the message to the connection's webhook."""
    connection = GatewayConnection.objects.get(kind="simulator")
    response = httpx.post(
        f"{server.url}{webhook_path(connection)}",
        json={
            "type": "message",
            "id": f"sim-in-desk-{next(_ids)}-{time.monotonic_ns()}",
            "from": MARCELA,
            "name": name,
            "text": text,
            "timestamp": int(timezone.now().timestamp()),
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def wait_for_console_hello(operator: Operator) -> None:
    wait_until(
        lambda: ConsoleSession.objects.filter(operator=operator).exists(),
        timeout=10,
        message="the console's hello",
    )


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def deliver_everything() -> None:
    """What the sender loop does, once per poll, until the outbox is empty."""

    def done() -> bool:
        send_due_messages("desk-e2e")
        return not OutboundMessage.objects.filter(status__in=["queued", "sending"]).exists()

    wait_until(done, timeout=10, message="the outbox to empty")


def test_a_customer_writes_and_ana_answers_from_her_console_live(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,
    admin: Any,
) -> None:
    from playwright.sync_api import expect

    simulator_number()
    desk = open_console(browser, live_asgi, offline_ana.user)
    # Her console says hello over the websocket: she is online, so routing may pick her.
    wait_for_console_hello(offline_ana)
    expect(desk.locator("#desk-presence")).to_have_attribute("data-presence", "online")

    phone = open_page(
        browser,
        live_asgi,
        admin,
        "/simulator/?phone=011+15+2345-6789&name=Marcela",
        viewport={"width": 390, "height": 780},
        is_mobile=True,
        has_touch=True,
    )
    phone.wait_for_selector('[data-sim][data-state="live"]')
    phone.fill("#sim-text", "Hola, no tengo internet")
    phone.press("#sim-text", "Enter")

    # The chat reaches Ana's list without a reload, with a sound and a badge in the title.
    row = desk.locator(".desk-row", has_text="Marcela")
    expect(row).to_be_visible()
    expect(row.locator(".desk-unread")).to_have_text("1")
    expect(desk).to_have_title(re.compile(r"^\(1\) "))
    assert desk.evaluate("window.ispdeskDesk.beeps()") == 1
    assert desk.evaluate("window.notReloaded") is True
    chat = Conversation.objects.get()
    assert chat.assignee == offline_ana

    row.click()
    thread = desk.locator("#desk-thread")
    expect(thread).to_contain_text("Hola, no tengo internet")
    expect(desk).to_have_url(f"{live_asgi.url}/desk/c/{chat.pk}/")
    expect(desk.locator(f'.desk-row[data-conversation="{chat.pk}"]')).to_have_class(
        re.compile("is-selected")
    )
    # Read on opening: the badge goes.
    expect(desk).not_to_have_title(re.compile(r"^\("))
    expect(row.locator(".desk-unread")).to_have_count(0)

    desk.fill("#desk-text", "Hola Marcela, ¿reiniciaste el módem?")
    desk.press("#desk-text", "Enter")
    mine = desk.locator(".desk-out", has_text="¿reiniciaste el módem?")
    expect(mine).to_have_count(1)
    expect(desk.locator("#desk-text")).to_have_value("")
    reply = Message.objects.get(sender=Sender.OPERATOR)
    assert reply.author == offline_ana.user
    outbound_id = reply.outbound_id
    assert outbound_id is not None

    deliver_everything()
    expect(
        phone.locator(".sim-theirs", has_text="Hola Marcela, ¿reiniciaste el módem?")
    ).to_be_visible()
    # The customer's phone sends its receipts; opening the chat again shows them.
    wait_until(
        lambda: OutboundMessage.objects.get(pk=outbound_id).status == "read",
        timeout=10,
        message="the phone's read receipt",
    )
    row.click()
    expect(desk.locator(f'[data-outbound="{outbound_id}"] .desk-ticks')).to_have_attribute(
        "data-ticks", "read"
    )
    # The customer answers while the chat is open: the line is appended, no reload.
    phone.fill("#sim-text", "Sí, ya lo reinicié")
    phone.press("#sim-text", "Enter")
    expect(thread.locator(".desk-in", has_text="Sí, ya lo reinicié")).to_have_count(1)
    assert desk.evaluate("window.notReloaded") is True
    expect(desk.locator(".desk-in", has_text="Hola, no tengo internet")).to_have_count(1)
    screenshot(desk, "desk-desktop-1280x800.png")


def test_the_title_badge_and_unread_count_follow_a_second_message(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,
) -> None:
    from playwright.sync_api import expect

    simulator_number()
    desk = open_console(browser, live_asgi, offline_ana.user)
    wait_for_console_hello(offline_ana)
    base_title = desk.title()

    customer_writes(live_asgi, "Hola")
    row = desk.locator(".desk-row", has_text="Marcela")
    expect(row.locator(".desk-unread")).to_have_text("1")
    expect(desk).to_have_title(f"(1) {base_title}")

    customer_writes(live_asgi, "¿Hay alguien?")
    expect(row.locator(".desk-unread")).to_have_text("2")
    expect(desk).to_have_title(f"(2) {base_title}")
    expect(row.locator(".desk-row-preview")).to_have_text("¿Hay alguien?")
    # One sound for the new chat, not one per message.
    assert desk.evaluate("window.ispdeskDesk.beeps()") == 1
    assert desk.evaluate("window.notReloaded") is True

    # Muted (and remembered across reloads): a new chat makes no sound.
    desk.click("[data-desk-mute]")
    expect(desk.locator("[data-desk-mute]")).to_have_attribute("aria-pressed", "true")
    desk.reload()
    expect(desk.locator("[data-desk-mute]")).to_have_attribute("aria-pressed", "true")
    expect(desk.locator("body")).to_have_attribute("data-realtime-state", "connected")
    Conversation.objects.update(status="closed", live_key=None)
    customer_writes(live_asgi, "Otra consulta")
    new = Conversation.objects.exclude(status="closed").get()
    expect(desk.locator(f'.desk-row[data-conversation="{new.pk}"]')).to_be_visible()
    assert desk.evaluate("window.ispdeskDesk.beeps()") == 0


def test_a_customer_cannot_inject_markup_into_the_console(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,
) -> None:
    from playwright.sync_api import expect

    simulator_number()
    desk = open_console(browser, live_asgi, offline_ana.user)
    wait_for_console_hello(offline_ana)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    desk.on("dialog", on_dialog)

    customer_writes(live_asgi, XSS, name="<b>Mala</b>")
    row = desk.locator(".desk-row").first
    expect(row.locator(".desk-row-name")).to_have_text("<b>Mala</b>")
    # The newest line is the greeting, which repeats the name: as text as well.
    expect(row.locator(".desk-row-preview")).to_contain_text("<b>Mala</b>")
    row.click()
    bubble = desk.locator("#desk-thread .desk-in .desk-text")
    expect(bubble).to_have_text(XSS)

    # A line appended live goes through the same escaping.
    customer_writes(live_asgi, "<script>window.pwned = 1</script><b>negrita</b>")
    expect(bubble.nth(1)).to_have_text("<script>window.pwned = 1</script><b>negrita</b>")

    assert desk.locator("#desk img, #desk script, #desk-thread b, .desk-row-name b").count() == 0
    assert desk.evaluate("window.pwned") is None
    assert dialogs == []


def test_the_console_shows_one_pane_at_a_time_on_a_phone(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,
    soporte: Area,
) -> None:
    from playwright.sync_api import expect

    chat = make_conversation(
        make_contact("Marcela Gómez", MARCELA, dni="28444555"),
        area=soporte,
        assignee=offline_ana,
        last_message_preview="No tengo internet desde ayer",
        unread_count=1,
    )
    Message.objects.create(
        conversation=chat,
        sender=Sender.CUSTOMER,
        text="No tengo internet desde ayer",
        created_at=timezone.now(),
    )
    outbound = queue_message(chat.chat_id, "¿Probaste reiniciar?", connection=chat.connection)
    OutboundMessage.objects.filter(pk=outbound.pk).update(status="sent")
    Message.objects.create(
        conversation=chat,
        sender=Sender.OPERATOR,
        text="¿Probaste reiniciar?",
        outbound=outbound,
        created_at=timezone.now(),
    )
    desk = open_console(
        browser,
        live_asgi,
        offline_ana.user,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    expect(desk.locator(".desk-side")).to_be_visible()
    expect(desk.locator(".desk-main")).to_be_hidden()
    expect(desk.locator("#desk-presence")).to_have_attribute("data-presence", "online")
    screenshot(desk, "desk-phone-390x844-list.png")

    desk.locator(".desk-row", has_text="Marcela").tap()
    expect(desk.locator(".desk-main")).to_be_visible()
    expect(desk.locator(".desk-side")).to_be_hidden()
    expect(desk.locator("#desk-thread")).to_contain_text("No tengo internet desde ayer")
    expect(desk.locator("#desk-text")).to_be_visible()
    assert desk.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ticks = desk.locator(f'[data-outbound="{outbound.pk}"] .desk-ticks')
    expect(ticks).to_have_attribute("data-ticks", "sent")
    # A receipt's event redraws the ticks in place (the shape messaging publishes).
    desk.evaluate(
        """(id) => document.body.dispatchEvent(new CustomEvent("ispdesk:message:status",
             {detail: {type: "message:status", message: id, status: "read"}}))""",
        outbound.pk,
    )
    expect(ticks).to_have_attribute("data-ticks", "read")
    expect(ticks).to_have_attribute("title", "Read")
    screenshot(desk, "desk-phone-390x844-chat.png")

    desk.locator("[data-desk-back]").tap()
    expect(desk.locator(".desk-side")).to_be_visible()
    expect(desk.locator(".desk-main")).to_be_hidden()
    expect(desk).to_have_url(f"{live_asgi.url}/desk/")


def test_ana_scrolls_back_through_a_long_chat(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,
    soporte: Area,
) -> None:
    """A chat opens on its newest lines; scrolling to the top brings the earlier ones, page by
    page, without losing her place."""
    from playwright.sync_api import expect

    chat = make_conversation(
        make_contact("Marcela Gómez", MARCELA), area=soporte, assignee=offline_ana
    )
    start = timezone.now() - timedelta(days=1)
    Message.objects.bulk_create(
        Message(
            conversation=chat,
            sender=Sender.CUSTOMER,
            text=f"Mensaje número {n}",
            created_at=start + timedelta(minutes=n),
        )
        for n in range(THREAD_LINES * 2 + 10)
    )
    desk = open_console(browser, live_asgi, offline_ana.user)
    desk.locator(".desk-row", has_text="Marcela").click()
    thread = desk.locator("#desk-thread")
    expect(thread).to_contain_text(f"Mensaje número {THREAD_LINES * 2 + 9}")
    expect(desk.locator("#desk-thread .desk-msg")).to_have_count(THREAD_LINES)
    newest = desk.locator("#desk-thread .desk-msg").last
    assert newest.is_visible()  # the thread opens at its end

    thread.evaluate("list => { list.scrollTop = 0; }")
    expect(desk.locator("#desk-thread .desk-msg")).to_have_count(THREAD_LINES * 2)
    # Her place is kept: the line that was at the top is still in view, not pushed away.
    expect(
        desk.locator(".desk-msg", has_text=f"Mensaje número {THREAD_LINES + 10}")
    ).to_be_in_viewport()

    desk.locator("[data-desk-older] button").click()
    expect(desk.locator("#desk-thread .desk-msg")).to_have_count(THREAD_LINES * 2 + 10)
    expect(desk.locator("#desk-thread .desk-msg").first).to_have_text(
        re.compile("Mensaje número 0")
    )
    expect(desk.locator("[data-desk-older]")).to_have_count(0)
    assert desk.evaluate("window.notReloaded") is True


def test_ana_transfers_a_chat_to_a_colleague_chosen_from_options_loaded_as_the_dialog_opens(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,
    soporte: Area,
) -> None:
    from playwright.sync_api import expect

    juan = desk_operator("juan", [soporte], first_name="Juan")
    ventas = Area.objects.create(name="Ventas")
    chat = make_conversation(
        make_contact("Marcela Gómez", MARCELA), area=soporte, assignee=offline_ana
    )
    desk = open_console(browser, live_asgi, offline_ana.user)
    desk.locator(".desk-row", has_text="Marcela").click()
    target = desk.locator("#desk-transfer-target")
    expect(target.locator("option")).to_have_count(1)  # only the prompt until it opens

    desk.get_by_role("button", name="Transfer").first.click()
    expect(target.locator(f'option[value="area:{ventas.pk}"]')).to_have_text("Ventas")
    expect(target.locator(f'option[value="operator:{juan.pk}"]')).to_have_text("Juan (online)")
    screenshot(desk, "desk-transfer-dialog.png")
    target.select_option(f"operator:{juan.pk}")
    desk.locator("#desk-transfer-note").fill("Pidió hablar con Juan")
    desk.locator("#desk-transfer-dialog button[type=submit]").click()

    expect(desk.locator("#desk-transfer-dialog")).to_have_count(0)
    wait_until(
        lambda: Conversation.objects.get(pk=chat.pk).assignee_id == juan.pk,
        timeout=10,
        message="the chat transferred to Juan",
    )
    assert desk.evaluate("window.notReloaded") is True
