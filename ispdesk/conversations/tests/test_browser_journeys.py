"""Three customer journeys through the desk, end to end in Chromium.

The customer plays their phone on the simulator page; operators have the console open
(their page's `console:hello` is what makes them online); the outbox is sent by the same
function the sender loop runs (`deliver_everything`), so what the phone shows went through
the simulator gateway. One screenshot per journey goes to `test-artifacts/`.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.models import Conversation, ConversationStatus, Flow, Message, Sender
from ispdesk.conversations.tests.conftest import (
    desk_operator,
    make_contact,
    make_conversation,
    simulator_number,
)

# Fixtures (`_english`, `_expect_timeout`, `chromium_extra_args`, `offline_ana`, `soporte`) and
# helpers of the console's e2e.
from ispdesk.conversations.tests.test_browser_desk import (  # noqa: F401
    _english,
    _expect_timeout,
    chromium_extra_args,
    deliver_everything,
    offline_ana,
    open_console,
    open_page,
    screenshot,
    soporte,
    wait_for_console_hello,
)
from ispdesk.messaging.models import OutboundMessage
from ispdesk.operators.models import Area, AreaHours, Operator
from ispdesk.testing.live_asgi import LiveServer, live_asgi  # noqa: F401

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)

SIMULATOR = "/simulator/?phone=011+15+2345-6789&name=Marcela"
COURTESY = "Soporte está cerrado ahora. Te respondemos apenas abramos."


@pytest.fixture
def juan(soporte: Area) -> Operator:  # noqa: F811
    """Juan, in Soporte on a 24/7 window, offline until his console opens."""
    return desk_operator("juan", [soporte], online=False, first_name="Juan")


@pytest.fixture
def menu(soporte: Area) -> Flow:  # noqa: F811
    """The reference menu as the default flow: option 1 hands the chat to Soporte."""
    return Flow.objects.create(
        name="Bienvenida", is_default=True, definition=sample_definition(soporte.pk)
    )


def open_phone(chromium: Any, server: LiveServer, user: Any) -> Any:
    from playwright.sync_api import expect

    phone = open_page(
        chromium,
        server,
        user,
        SIMULATOR,
        viewport={"width": 390, "height": 780},
        is_mobile=True,
        has_touch=True,
    )
    expect(phone.locator("[data-sim]")).to_have_attribute("data-state", "live")
    return phone


def customer_says(phone: Any, text: str) -> None:
    """Type and send from the phone; return once ispdesk has stored and handled it (the
    webhook answered, so the bot's replies are in the outbox) and the outbox is sent."""
    from playwright.sync_api import expect

    delivered = phone.locator('.sim-mine .sim-ticks[data-status="delivered"]')
    before = delivered.count()
    phone.fill("#sim-text", text)
    phone.press("#sim-text", "Enter")
    expect(delivered).to_have_count(before + 1)
    deliver_everything()


def phone_shows_everything_sent(phone: Any, conversation: Conversation) -> None:
    """Every line ispdesk sent to the chat is on the phone, and nothing else of ours."""
    from playwright.sync_api import expect

    sent = Message.objects.filter(conversation=conversation, outbound__isnull=False).count()
    assert sent == OutboundMessage.objects.filter(status__in=["sent", "delivered", "read"]).count()
    expect(phone.locator(".sim-theirs")).to_have_count(sent)


def choose_tab(desk: Any, tab: str) -> None:
    from playwright.sync_api import expect

    desk.locator(".desk-tab", has=desk.locator(f'input[value="{tab}"]')).click()
    expect(desk.locator(f'#desk-list ol[data-tab="{tab}"]')).to_be_visible()


def test_the_menu_walk_hands_the_chat_to_the_least_loaded_operator_live(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,  # noqa: F811
    juan: Operator,
    soporte: Area,  # noqa: F811
    menu: Flow,
    admin: Any,
) -> None:
    from playwright.sync_api import expect

    simulator_number()
    for n, phone_number in enumerate(("+5491155550001", "+5491155550002"), start=1):
        make_conversation(
            make_contact(f"Cliente {n} de Juan", phone_number), area=soporte, assignee=juan
        )
    ana_desk = open_console(browser, live_asgi, offline_ana.user)
    juan_desk = open_console(browser, live_asgi, juan.user)
    wait_for_console_hello(offline_ana)
    wait_for_console_hello(juan)
    expect(juan_desk.locator(".desk-row")).to_have_count(2)
    expect(ana_desk.locator(".desk-row")).to_have_count(0)

    phone = open_phone(browser, live_asgi, admin)
    customer_says(phone, "hola")

    # The bot answers first, with the menu; nobody is given the chat yet.
    expect(phone.locator(".sim-theirs", has_text="1. Soporte técnico")).to_be_visible()
    chat = Conversation.objects.get(contact__phone="+5491123456789")
    assert chat.status == ConversationStatus.BOT

    customer_says(phone, "1")

    # Both are online in Soporte; Ana has 0 chats and Juan 2, so she gets it, live.
    row = ana_desk.locator(f'.desk-row[data-conversation="{chat.pk}"]')
    expect(row).to_be_visible()
    expect(row.locator(".desk-row-name")).to_have_text("Marcela")
    chat.refresh_from_db()
    assert (chat.status, chat.area, chat.assignee) == (
        ConversationStatus.OPEN,
        soporte,
        offline_ana,
    )
    expect(phone.locator(".sim-theirs", has_text="Te paso con Soporte.")).to_be_visible()
    phone_shows_everything_sent(phone, chat)
    # Juan's own list, fetched again: his two chats, not Marcela's.
    choose_tab(juan_desk, "queue")
    choose_tab(juan_desk, "mine")
    expect(juan_desk.locator(".desk-row")).to_have_count(2)
    expect(juan_desk.locator(f'.desk-row[data-conversation="{chat.pk}"]')).to_have_count(0)

    row.click()
    expect(ana_desk.locator("#desk-thread")).to_contain_text("Te paso con Soporte.")
    ana_desk.fill("#desk-text", "Hola Marcela, soy Ana. ¿Qué luces tiene el módem?")
    ana_desk.press("#desk-text", "Enter")
    expect(ana_desk.locator(".desk-out", has_text="¿Qué luces tiene el módem?")).to_have_count(1)
    deliver_everything()

    expect(
        phone.locator(".sim-theirs", has_text="Hola Marcela, soy Ana. ¿Qué luces tiene el módem?")
    ).to_be_visible()
    assert ana_desk.evaluate("window.notReloaded") is True
    assert juan_desk.evaluate("window.notReloaded") is True
    screenshot(ana_desk, "desk-menu-walk.png")
    screenshot(phone, "desk-menu-walk-phone.png")


def closed_now_courtesy_later(area: Area) -> AreaHours:
    """Working hours three days from today, so never now, with their courtesy message."""
    weekday = (timezone.localdate().weekday() + 3) % 7
    return AreaHours.objects.create(
        area=area, weekday=weekday, start=time(10), end=time(11), courtesy_message=COURTESY
    )


def test_after_hours_the_customer_hears_the_courtesy_once_and_waits_in_the_queue(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,  # noqa: F811
    soporte: Area,  # noqa: F811
    menu: Flow,
    admin: Any,
) -> None:
    from playwright.sync_api import expect

    simulator_number()
    closed_now_courtesy_later(soporte)
    desk = open_console(browser, live_asgi, offline_ana.user)
    wait_for_console_hello(offline_ana)
    choose_tab(desk, "queue")
    expect(desk.locator(".desk-rows-empty")).to_be_visible()

    phone = open_phone(browser, live_asgi, admin)
    customer_says(phone, "hola")
    customer_says(phone, "1")

    courtesy = phone.locator(".sim-theirs", has_text=COURTESY)
    expect(courtesy).to_have_count(1)
    # Ana is online with room, but Soporte is closed: the chat waits in its queue, live.
    chat = Conversation.objects.get()
    row = desk.locator(f'.desk-row[data-conversation="{chat.pk}"]')
    expect(row).to_be_visible()
    expect(row.locator(".desk-row-wait")).to_have_text(re.compile(r"^Waiting \d+\xa0minutes?$"))
    expect(row.locator(".desk-row-wait time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT")
    )

    customer_says(phone, "¿hola?")
    customer_says(phone, "¿alguien?")

    chat.refresh_from_db()
    assert (chat.status, chat.area, chat.assignee) == (ConversationStatus.PENDING, soporte, None)
    phone_shows_everything_sent(phone, chat)
    expect(courtesy).to_have_count(1)
    assert Message.objects.filter(conversation=chat, text=COURTESY).count() == 1
    expect(row.locator(".desk-row-preview")).to_have_text("¿alguien?")
    expect(desk.locator(".desk-row")).to_have_count(1)
    assert desk.evaluate("window.notReloaded") is True
    screenshot(desk, "desk-after-hours.png")
    screenshot(phone, "desk-after-hours-phone.png")


def test_an_idle_answered_chat_closes_itself_and_leaves_the_console_live(
    live_asgi: LiveServer,  # noqa: F811
    browser: Any,
    offline_ana: Operator,  # noqa: F811
    admin: Any,
) -> None:
    from playwright.sync_api import expect

    from ispdesk.conversations.actions import do_auto_close

    simulator_number()
    desk = open_console(browser, live_asgi, offline_ana.user)
    wait_for_console_hello(offline_ana)
    phone = open_phone(browser, live_asgi, admin)
    # No bot flow: straight to a person, and Ana is the only one online.
    customer_says(phone, "Hola, ya volvió internet")
    chat = Conversation.objects.get()
    row = desk.locator(f'.desk-row[data-conversation="{chat.pk}"]')
    row.click()
    desk.fill("#desk-text", "¡Genial! Cualquier cosa nos escribís.")
    desk.press("#desk-text", "Enter")
    expect(desk.locator(".desk-out", has_text="Cualquier cosa nos escribís.")).to_have_count(1)
    deliver_everything()
    # Answered, then silent for longer than the auto-close time (120 minutes by default).
    Conversation.objects.filter(pk=chat.pk).update(
        last_message_at=timezone.now() - timedelta(minutes=121)
    )

    assert do_auto_close() == 1

    expect(row).to_have_count(0)
    expect(desk.locator(".desk-rows-empty")).to_be_visible()
    expect(desk.locator("#desk-chat [data-chat]")).to_have_attribute("data-status", "closed")
    chat.refresh_from_db()
    assert (chat.status, chat.close_reason) == (ConversationStatus.CLOSED, "auto")
    goodbye = Message.objects.filter(conversation=chat, sender=Sender.SYSTEM).latest("pk")
    deliver_everything()
    expect(phone.locator(".sim-theirs").last).to_have_text(
        re.compile(re.escape(goodbye.text.split("\n")[0]))
    )
    phone_shows_everything_sent(phone, chat)
    assert desk.evaluate("window.notReloaded") is True
    screenshot(desk, "desk-auto-close.png")
    screenshot(phone, "desk-auto-close-phone.png")
