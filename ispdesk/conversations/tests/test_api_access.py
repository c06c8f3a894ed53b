"""Who may call each conversations endpoint on a Soporte chat, as an (endpoint, person) table.

The chat waits unassigned in Soporte's queue. Admin, supervisor and Ana (Soporte) see it;
Sofía (Ventas) and Omar (no operator profile) get 404 as if it did not exist; nobody
anonymous gets past 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from ispdesk.conftest import logged_in_client
from ispdesk.conversations.models import Conversation, ConversationStatus
from ispdesk.conversations.tests.conftest import make_contact, make_conversation
from ispdesk.operators.tests.conftest import post

PEOPLE = ("admin", "supervisor", "ana", "sofia", "omar", "anonymous")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    # The answer per person; anyone not named gets 404 (or 401 when anonymous).
    answers: dict[str, int]
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client: Client, chat: Conversation, ventas_id: int) -> Any:
        path = self.path.format(chat=chat.pk)
        if self.method == "GET":
            return client.get(path)
        body = self.body
        if body is not None and body.get("area_id") == "ventas":
            body = {**body, "area_id": ventas_id}
        return post(client, path, body)

    def expected(self, person: str) -> int:
        if person == "anonymous":
            return 401
        return self.answers.get(person, 404)


SEEN = {"admin": 200, "supervisor": 200, "ana": 200}
ENDPOINTS = [
    Endpoint("GET", "/api/conversations/{chat}", SEEN),
    Endpoint("GET", "/api/conversations/{chat}/messages", SEEN),
    Endpoint(
        "POST",
        "/api/conversations/{chat}/messages",
        {"admin": 201, "supervisor": 201, "ana": 201},
        {"text": "Hola, ¿en qué te ayudo?"},
    ),
    Endpoint("POST", "/api/conversations/{chat}/read", SEEN),
    Endpoint("POST", "/api/conversations/{chat}/transfer", SEEN, {"area_id": "ventas"}),
    Endpoint(
        "POST",
        "/api/conversations/{chat}/assign",
        {"admin": 200, "supervisor": 200, "ana": 403},
        {"username": "juan"},
    ),
    Endpoint("POST", "/api/conversations/{chat}/close", SEEN, {"goodbye": "¡Saludos!"}),
]


@pytest.fixture
def people(admin, supervisor, ana, juan, sofia, omar) -> dict[str, Client]:  # type: ignore[no-untyped-def]
    return {
        "admin": logged_in_client(admin),
        "supervisor": logged_in_client(supervisor),
        "ana": logged_in_client(ana.user),
        "sofia": logged_in_client(sofia.user),
        "omar": logged_in_client(omar),
        "anonymous": Client(),
    }


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_who_may_call_each_endpoint(people, marcela, soporte, ventas, endpoint, person):
    chat = make_conversation(marcela, area=soporte)

    response = endpoint.call(people[person], chat, ventas.pk)

    assert response.status_code == endpoint.expected(person), response.content
    if response.status_code == 404:
        assert response.json()["code"] == "not_found"
    elif response.status_code == 401:
        assert response.json()["code"] == "not_authenticated"
    elif response.status_code == 403:
        assert response.json()["code"] == "forbidden"
    if response.status_code >= 400:
        unchanged = Conversation.objects.get(pk=chat.pk)
        assert (unchanged.status, unchanged.area_id, unchanged.version) == (
            ConversationStatus.PENDING,
            soporte.pk,
            1,
        )
        assert not unchanged.messages.exists()


@pytest.mark.parametrize(
    ("person", "expected", "code"),
    [
        ("ana", 200, None),
        ("sofia", 200, None),  # offline with no console: still an operator
        ("admin", 409, "not_an_operator"),
        ("supervisor", 409, "not_an_operator"),
        ("omar", 409, "not_an_operator"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_who_may_set_their_presence(people, person, expected, code):
    response = post(people[person], "/api/conversations/presence", {"away": True})
    assert response.status_code == expected, response.content
    if code is not None:
        assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("person", "visible"),
    [
        ("admin", {"soporte", "ventas", "general"}),
        ("supervisor", {"soporte", "ventas", "general"}),
        ("ana", {"soporte", "general"}),
        ("sofia", {"ventas", "general"}),
        ("omar", set()),
    ],
)
def test_each_person_lists_only_the_chats_they_may_see(people, soporte, ventas, person, visible):
    chats = {
        "soporte": make_conversation(make_contact("Uno", "+5491100000001"), area=soporte),
        "ventas": make_conversation(make_contact("Dos", "+5491100000002"), area=ventas),
        "general": make_conversation(make_contact("Tres", "+5491100000003")),
    }

    response = people[person].get("/api/conversations")

    assert response.status_code == 200
    listed = {row["id"] for row in response.json()["items"]}
    assert listed == {chats[name].pk for name in visible}


def test_an_operator_sees_a_chat_of_another_area_once_it_is_hers(people, ana, sofia, ventas):
    chat = make_conversation(make_contact(), area=ventas, assignee=ana)
    other = make_conversation(make_contact("Otro", "+5491100000009"), area=ventas, assignee=sofia)

    assert people["ana"].get(f"/api/conversations/{chat.pk}").status_code == 200
    assert people["ana"].get(f"/api/conversations/{other.pk}").status_code == 404
    listed = [row["id"] for row in people["ana"].get("/api/conversations").json()["items"]]
    assert listed == [chat.pk]


def test_an_unknown_or_malformed_id_is_a_json_404(people, marcela, soporte):
    make_conversation(marcela, area=soporte)
    for path in ("/api/conversations/999999", "/api/conversations/abc", "/api/conversations/0"):
        response = people["admin"].get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
