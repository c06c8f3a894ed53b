"""The bot flow pages: the list, the builder, and deleting (admins only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area
from ispdesk.system.models import AuditEvent


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def soporte(db: Any) -> Area:
    return Area.objects.create(name="Soporte")


@pytest.fixture
def flow(soporte: Area) -> Flow:
    return Flow.objects.create(
        name="Principal",
        definition=sample_definition(soporte.pk),
        triggers=["hola", "buenas"],
        is_default=True,
        fallback_area=soporte,
        version=3,
    )


def script_data(html: str, element_id: str) -> Any:
    start = html.index(f'id="{element_id}"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_the_list_shows_each_flow(admin_client: Client, flow: Flow, soporte: Area) -> None:
    Flow.objects.create(name="Apagado", definition={}, active=False)
    response = admin_client.get("/flows/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Apagado") < html.index("Principal")
    row = html[html.index(f'data-flow="{flow.pk}"') :]
    row = row[: row.index("</tr>")]
    for text in ("Default", "8 nodes, version 3", "hola", "buenas", "Soporte", "Active"):
        assert text in row
    assert f'href="/flows/{flow.pk}/"' in row
    assert f'action="/flows/{flow.pk}/delete/"' in row


def test_the_list_says_when_there_are_no_flows(admin_client: Client) -> None:
    assert "No flows yet" in admin_client.get("/flows/").content.decode()


def test_the_list_takes_a_fixed_number_of_queries(
    admin_client: Client, soporte: Area, django_assert_max_num_queries: Any
) -> None:
    Flow.objects.bulk_create(
        Flow(name=f"Flujo {index}", definition={}, fallback_area=soporte) for index in range(15)
    )
    with django_assert_max_num_queries(8):
        assert admin_client.get("/flows/").status_code == 200


def test_the_builder_carries_the_flow_and_the_areas(
    admin_client: Client, flow: Flow, soporte: Area
) -> None:
    Area.objects.create(name="Archivada", active=False)
    response = admin_client.get(f"/flows/{flow.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert script_data(html, "flow-data") == {
        "id": flow.pk,
        "version": 3,
        "definition": sample_definition(soporte.pk),
    }
    assert [area["name"] for area in script_data(html, "flow-areas")] == ["Archivada", "Soporte"]
    config = script_data(html, "flow-config")
    assert (config["apiUrl"], config["simulateUrl"]) == ("/api/flows", "/api/flows/simulate")
    assert config["strings"]["closed"] == "Conversation closed"
    assert 'value="Principal"' in html
    assert 'value="hola, buenas"' in html
    assert "ispdesk/flows.js" in html


def test_a_new_flow_starts_from_a_greeting_menu(admin_client: Client, soporte: Area) -> None:
    response = admin_client.get("/flows/new/")
    assert response.status_code == 200
    data = script_data(response.content.decode(), "flow-data")
    assert data["id"] is None
    (root,) = data["definition"]["nodes"]
    assert (data["definition"]["root"], root["type"], root["children"]) == ("inicio", "menu", [])


def test_the_builder_escapes_what_admins_wrote(admin_client: Client, soporte: Area) -> None:
    definition = sample_definition(soporte.pk)
    definition["nodes"][0]["text"] = "</script><script>alert(1)</script>"
    flow = Flow.objects.create(name="<b>Raro</b>", definition=definition)
    html = admin_client.get(f"/flows/{flow.pk}/").content.decode()
    assert "<script>alert(1)" not in html
    assert "<b>Raro</b>" not in html
    assert script_data(html, "flow-data")["definition"]["nodes"][0]["text"].startswith("</script>")


def test_an_admin_deletes_a_flow(admin_client: Client, admin: Any, flow: Flow) -> None:
    response = admin_client.post(f"/flows/{flow.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/flows/", 302)]
    assert "The flow Principal was deleted." in response.content.decode()
    assert not Flow.objects.exists()
    assert AuditEvent.objects.get(action="flow.deleted").actor == admin


def test_deleting_needs_a_post(admin_client: Client, flow: Flow) -> None:
    assert admin_client.get(f"/flows/{flow.pk}/delete/").status_code == 405
    assert Flow.objects.exists()


def test_unknown_flows_are_not_found(admin_client: Client) -> None:
    assert admin_client.get("/flows/999/").status_code == 404
    assert admin_client.post("/flows/999/delete/").status_code == 404


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client", "outsider_client"])
def test_only_admins_open_the_flow_pages(
    who: str, request: pytest.FixtureRequest, flow: Flow
) -> None:
    client = request.getfixturevalue(who)
    for path in ("/flows/", "/flows/new/", f"/flows/{flow.pk}/"):
        assert client.get(path).status_code == 403
    assert client.post(f"/flows/{flow.pk}/delete/").status_code == 403
    assert Flow.objects.exists()


def test_anonymous_people_go_to_the_login_page(client: Client, flow: Flow) -> None:
    response = client.get(f"/flows/{flow.pk}/")
    assert response.status_code == 302
    assert "/login" in response["Location"]
