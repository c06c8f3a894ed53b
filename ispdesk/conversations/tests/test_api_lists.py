"""The conversation list: its rows, filters, tabs, search, keyset pages and query count."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.contacts.models import Contact
from ispdesk.conversations.models import ConversationStatus
from ispdesk.conversations.tests.conftest import make_contact, make_conversation

LIST = "/api/conversations"


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["items"]]


def customer(n: int, name: str = "", dni: str = "") -> Contact:
    return make_contact(name or f"Cliente {n}", f"+54911{n:08d}", dni=dni)


def test_it_answers_a_row_with_what_the_console_shows(admin_client, marcela, soporte, ana):
    now = timezone.now()
    chat = make_conversation(
        marcela,
        ConversationStatus.PENDING,
        soporte,
        now=now - timedelta(minutes=3),
        last_message_preview="No tengo internet",
        unread_count=2,
    )

    row = admin_client.get(LIST).json()["items"][0]

    waited = row.pop("waiting_seconds")
    assert 180 <= waited < 240
    assert row == {
        "id": chat.pk,
        "status": "pending",
        "contact": {
            "id": marcela.pk,
            "name": "Marcela Gómez",
            "phone": "+5491123456789",
            "dni": "28444555",
        },
        "area": {"id": soporte.pk, "name": "Soporte"},
        "assignee": None,
        "last_message_at": row["last_message_at"],
        "last_message_preview": "No tengo internet",
        "unread_count": 2,
        "awaiting_human": True,
        "queued_at": row["queued_at"],
        "version": 1,
    }
    assert row["queued_at"] is not None


def test_it_counts_the_wait_of_an_open_chat_only_while_it_owes_an_answer(
    admin_client, marcela, soporte, ana
):
    now = timezone.now()
    make_conversation(marcela, area=soporte, assignee=ana, awaiting_human=True, last_inbound_at=now)
    make_conversation(customer(2), area=soporte, assignee=ana, awaiting_human=False)

    rows = admin_client.get(LIST).json()["items"]

    assert sorted(row["waiting_seconds"] is None for row in rows) == [False, True]
    assert rows[0]["assignee"] == {"id": ana.pk, "name": "Ana"}


@pytest.fixture
def desk(marcela, soporte, ventas, ana, juan, sofia) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One chat of every kind, newest message last in this order."""
    now = timezone.now()
    made: dict[str, Any] = {}
    specs = [
        ("bot", dict(status=ConversationStatus.BOT)),
        ("queued", dict(status=ConversationStatus.PENDING, area=soporte)),
        ("anas", dict(area=soporte, assignee=ana, unread_count=1)),
        ("juans", dict(area=soporte, assignee=juan)),
        ("ventas", dict(area=ventas, assignee=sofia)),
        ("closed", dict(status=ConversationStatus.CLOSED, area=soporte, assignee=ana)),
    ]
    for n, (name, fields) in enumerate(specs):
        moment = now - timedelta(minutes=len(specs) - n)
        made[name] = make_conversation(customer(n), now=moment, **fields)
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["closed", "ventas", "juans", "anas", "queued", "bot"]),
        ("status=bot", ["bot"]),
        ("status=pending", ["queued"]),
        ("status=open", ["ventas", "juans", "anas"]),
        ("status=closed", ["closed"]),
        ("status=active", ["ventas", "juans", "anas", "queued", "bot"]),
        ("unread=true", ["anas"]),
        ("tab=all", ["closed", "ventas", "juans", "anas", "queued", "bot"]),
        ("tab=queue", ["queued"]),
        ("tab=mine&status=open", []),  # the supervisor has no chats of her own
    ],
)
def test_it_filters_the_list(supervisor_client, desk, query, expected):
    assert ids(supervisor_client.get(f"{LIST}?{query}")) == [desk[name].pk for name in expected]


def test_it_filters_by_area_and_assignee(supervisor_client, desk, ventas, juan):
    assert ids(supervisor_client.get(f"{LIST}?area={ventas.pk}")) == [desk["ventas"].pk]
    assert ids(supervisor_client.get(f"{LIST}?assignee={juan.pk}")) == [desk["juans"].pk]


def test_mine_and_the_mine_tab_are_an_operators_own_chats(operator_client, desk):
    assert ids(operator_client.get(f"{LIST}?mine=true")) == [desk["closed"].pk, desk["anas"].pk]
    assert ids(operator_client.get(f"{LIST}?tab=mine")) == [desk["anas"].pk]


def test_the_queue_tab_puts_the_longest_waiting_first(operator_client, ana, soporte):
    now = timezone.now()
    late = make_conversation(customer(1), area=soporte, queued_at=now - timedelta(minutes=1))
    early = make_conversation(customer(2), area=soporte, queued_at=now - timedelta(minutes=9))
    general = make_conversation(customer(3), queued_at=now - timedelta(minutes=5))

    assert ids(operator_client.get(f"{LIST}?tab=queue")) == [early.pk, general.pk, late.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=archived", "status"),
        ("tab=others", "tab"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=diez", "limit"),
        ("area=0", "area"),
        ("area=abc", "area"),
        ("assignee=99999999999", "assignee"),
        ("unread=quizás", "unread"),
        ("search=" + "x" * 101, "search"),
        ("search=a%00b", "search"),
    ],
)
def test_it_names_the_bad_query_parameter(admin_client, query, field):
    response = admin_client.get(f"{LIST}?{query}")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]


# Search


@pytest.fixture
def customers(soporte) -> dict[str, int]:  # type: ignore[no-untyped-def]
    people = {
        "marcela": make_contact("Marcela Gómez", "+5491123456789", dni="28444555"),
        "marcos": make_contact("Marcos Díaz", "+5493515550003", dni="30111222"),
        "pedro": make_contact("Pedro Ruiz", "+5492614447788", dni="28999000"),
    }
    return {name: make_conversation(c, area=soporte).pk for name, c in people.items()}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("marc", {"marcela", "marcos"}),
        ("MARCELA", {"marcela"}),
        ("gómez", {"marcela"}),
        ("  pedro   ruiz ", {"pedro"}),
        ("28", {"marcela", "pedro"}),  # DNI prefix; too short for a phone fragment
        ("28444", {"marcela"}),
        ("30.111", {"marcos"}),
        ("555", {"marcos"}),  # in Marcos's phone; Marcela's DNI holds it but not at the start
        ("4447788", {"pedro"}),
        ("351 555", {"marcos"}),
        ("+54 9 351", {"marcos"}),
        ("9999999", set()),
        ("nadie", set()),
    ],
)
def test_it_searches_by_name_dni_prefix_or_phone_fragment(
    operator_client, ana, customers, search, expected
):
    response = operator_client.get(LIST, {"search": search})
    assert set(ids(response)) == {customers[name] for name in expected}


def test_search_never_widens_what_an_operator_sees(client_for_sofia, customers):
    assert ids(client_for_sofia.get(LIST, {"search": "marc"})) == []


@pytest.fixture
def client_for_sofia(sofia):  # type: ignore[no-untyped-def]
    from ispdesk.conftest import logged_in_client

    return logged_in_client(sofia.user)


# Keyset pages


def walk(client: Any, query: str, limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = None
    while True:
        # The test client drops a path's query string when given data: pass one dict.
        params: dict[str, Any] = {**dict(parse_qsl(query)), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get(LIST, params)
        pages.append(ids(response))
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor must move forward"


def test_pages_walk_every_row_once_even_when_times_tie(supervisor_client, soporte):
    moment = timezone.now()
    made = [
        make_conversation(customer(n), area=soporte, now=moment - timedelta(minutes=n // 3))
        for n in range(11)
    ]
    expected = [c.pk for c in sorted(made, key=lambda c: (c.last_message_at, c.pk), reverse=True)]

    pages = walk(supervisor_client, "", 4)

    assert [len(page) for page in pages] == [4, 4, 3]
    assert [pk for page in pages for pk in page] == expected


def test_the_queue_tab_pages_in_waiting_order(operator_client, ana, soporte):
    moment = timezone.now()
    made = [
        make_conversation(customer(n), area=soporte, queued_at=moment - timedelta(seconds=n // 2))
        for n in range(7)
    ]
    expected = [c.pk for c in sorted(made, key=lambda c: (c.queued_at, c.pk))]

    pages = walk(operator_client, "tab=queue", 3)

    assert [pk for page in pages for pk in page] == expected


def test_chats_queued_without_a_time_come_last_in_the_api_and_the_console(
    operator_client, ana, soporte
):
    now = timezone.now()
    undated = [make_conversation(customer(n), area=soporte, queued_at=None) for n in range(3)]
    dated = [
        make_conversation(customer(10 + n), area=soporte, queued_at=now - timedelta(minutes=n))
        for n in range(3)
    ]
    expected = [chat.pk for chat in reversed(dated)] + [chat.pk for chat in undated]

    assert [pk for page in walk(operator_client, "tab=queue", 2) for pk in page] == expected
    html = operator_client.get("/desk/list/?tab=queue", HTTP_HX_REQUEST="true").content.decode()
    assert [int(part.split('"', 1)[0]) for part in html.split('data-conversation="')[1:]] == (
        expected
    )


def test_a_page_exactly_full_has_no_next_cursor(admin_client, soporte):
    for n in range(3):
        make_conversation(customer(n), area=soporte)
    response = admin_client.get(LIST, {"limit": 3})
    assert len(ids(response)) == 3
    assert response.json()["next_cursor"] is None


def test_an_empty_list_has_no_next_cursor(admin_client):
    assert admin_client.get(LIST).json() == {"items": [], "next_cursor": None}


def test_it_limits_pages_to_fifty_by_default(admin_client, soporte):
    for n in range(51):
        make_conversation(customer(n), area=soporte)
    response = admin_client.get(LIST)
    assert len(ids(response)) == 50
    assert response.json()["next_cursor"] is not None


def encoded(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


NOON = "2026-01-01T12:00:00+00:00"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "€",
        "8J+SqQ",  # base64 of an emoji: not JSON
        encoded({}),
        encoded([1, 2]),
        encoded("recent"),
        encoded({"o": "recent"}),
        encoded({"o": "recent", "v": "mañana", "id": 1}),
        encoded({"o": "recent", "v": None, "id": 1}),  # a recent order always has a time
        encoded({"o": "recent", "v": "2026-01-01T12:00:00", "id": 1}),  # no time zone
        encoded({"o": "recent", "v": NOON, "id": "1"}),
        encoded({"o": "recent", "v": NOON, "id": True}),
        encoded({"o": "recent", "v": NOON, "id": 0}),
        encoded({"o": "recent", "v": NOON, "id": 2**70}),
        encoded({"o": "sideways", "v": NOON, "id": 1}),
    ],
)
def test_a_bad_cursor_is_refused(admin_client, soporte, cursor):
    make_conversation(customer(1), area=soporte)
    response = admin_client.get(LIST, {"cursor": cursor})
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_cursor"
    assert "cursor" in response.json()["fields"]


def test_a_cursor_of_one_order_is_refused_in_another(admin_client, soporte):
    for n in range(3):
        make_conversation(customer(n), area=soporte)
    cursor = admin_client.get(LIST, {"limit": 1}).json()["next_cursor"]
    assert admin_client.get(LIST, {"limit": 1, "cursor": cursor}).status_code == 200

    response = admin_client.get(LIST, {"tab": "queue", "cursor": cursor})

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


# Query counts


def count_queries(client: Any, query: str) -> tuple[int, int]:
    with CaptureQueriesContext(db_connection) as captured:
        response = client.get(f"{LIST}?{query}")
    return len(captured), len(ids(response))


def fill(n: int, start: int, area: Any, assignee: Any) -> None:
    for i in range(start, start + n):
        make_conversation(customer(i), area=area, assignee=assignee if i % 2 else None)


@pytest.mark.parametrize("who", ["operator_client", "supervisor_client"])
@pytest.mark.parametrize("query", ["limit=200", "tab=queue&limit=200", "search=cliente&limit=3"])
def test_the_list_takes_the_same_queries_for_5_or_60_rows(
    request, ana, soporte, who, query, django_assert_max_num_queries
):
    client = request.getfixturevalue(who)
    fill(5, 0, soporte, ana)
    small, _rows = count_queries(client, query)
    fill(55, 5, soporte, ana)
    large, _rows = count_queries(client, query)

    assert small == large
    with django_assert_max_num_queries(6):
        client.get(f"{LIST}?{query}")


@pytest.mark.parametrize(
    ("who", "query", "everything"),
    [
        ("operator_client", "", 120),
        ("operator_client", "tab=mine", 60),
        ("operator_client", "tab=queue", 60),
        ("supervisor_client", "status=active", 120),
        ("supervisor_client", "tab=queue", 60),
    ],
)
def test_the_list_takes_the_same_queries_for_any_page_size(
    request, ana, soporte, who, query, everything
):
    client = request.getfixturevalue(who)
    fill(120, 0, soporte, ana)
    few, rows = count_queries(client, f"{query}&limit=5")
    many, all_rows = count_queries(client, f"{query}&limit=200")
    assert (rows, all_rows) == (5, everything)
    assert few == many
