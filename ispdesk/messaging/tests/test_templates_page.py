"""The templates page: admins only, language tabs, live preview, save and restore."""

from __future__ import annotations

import pytest
from django.test import Client

from ispdesk.messaging.message_templates import (
    TEMPLATE_KEYS,
    install_default_templates,
    render_message,
)
from ispdesk.messaging.models import MessageTemplate
from ispdesk.system.models import AuditEvent

LIST = "/templates/"
EDIT = "/templates/welcome/es-ar/"
PREVIEW = "/templates/welcome/es-ar/preview/"
RESTORE = "/templates/welcome/es-ar/restore/"
WELCOME = {"customer": "Marcela", "company": "Fibra Sur"}


@pytest.fixture(autouse=True)
def _english_and_shipped_templates(db, settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"
    # The data migration installs them, but a transactional test elsewhere may have flushed.
    install_default_templates()


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def welcome_row() -> MessageTemplate:
    return MessageTemplate.objects.get(key="welcome", language="es-ar")


# Who may open what -------------------------------------------------------------------------

PAGES = [("get", LIST), ("get", EDIT), ("post", PREVIEW), ("post", RESTORE)]


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_anonymous_people_are_sent_to_log_in(db, method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login")


@pytest.mark.parametrize("person", ["operator", "supervisor", "outsider"])
@pytest.mark.parametrize(("method", "path"), PAGES)
def test_only_admins_may_open_the_templates_pages(request, person, method, path):
    client = request.getfixturevalue(f"{person}_client")
    before = welcome_row().body
    response = getattr(client, method)(path, {"body": "Hola"})
    assert response.status_code == 403
    assert welcome_row().body == before


def test_the_nav_shows_templates_to_admins_only(admin_client, supervisor_client):
    assert 'href="/templates/"' in html(admin_client.get("/"))
    assert 'href="/templates/"' not in html(supervisor_client.get("/"))


# The list ----------------------------------------------------------------------------------


def test_it_lists_every_key_in_the_chosen_language(admin_client):
    spanish = html(admin_client.get(LIST))
    english = html(admin_client.get(LIST + "?lang=en"))
    for key in TEMPLATE_KEYS:
        assert f'id="template-{key}"' in spanish
        assert f"/templates/{key}/en/" in english
    assert "Contanos en qué te podemos ayudar" in spanish
    assert "Tell us how we can help" in english
    assert "Tell us how we can help" not in spanish


def test_it_marks_edited_and_switched_off_messages(admin_client):
    MessageTemplate.objects.filter(key="welcome", language="es-ar").update(body="Hola {customer}")
    MessageTemplate.objects.filter(key="auto_close", language="es-ar").update(active=False)
    page = html(admin_client.get(LIST))
    assert "Edited" in page
    assert "Off: default sent" in page


def test_an_unknown_key_or_language_is_404(admin_client):
    assert admin_client.get("/templates/nope/es-ar/").status_code == 404
    assert admin_client.get("/templates/welcome/pt/").status_code == 404
    assert admin_client.post("/templates/welcome/pt/preview/", {"body": "x"}).status_code == 404


# Live preview ------------------------------------------------------------------------------


def test_the_editor_posts_drafts_to_the_preview_as_the_admin_types(admin_client):
    page = html(admin_client.get(EDIT))
    assert f'hx-post="{PREVIEW}"' in page
    assert 'hx-target="#template-preview"' in page
    assert "{customer}" in page  # the placeholders are listed


def test_the_preview_renders_the_draft_with_sample_values(admin_client):
    response = admin_client.post(PREVIEW, {"body": "Buenas {customer}, acá {company} {{ok}}"})
    assert response.status_code == 200
    assert "Buenas Marcela, acá Fibra Sur {ok}" in html(response)
    assert "data-preview-error" not in html(response)
    # A preview stores nothing.
    assert welcome_row().body == TEMPLATE_KEYS["welcome"].defaults["es-ar"]


def test_the_preview_names_an_unknown_placeholder_inline(admin_client):
    response = admin_client.post(PREVIEW, {"body": "Hola {cliente}"})
    assert response.status_code == 200
    assert "data-preview-error" in html(response)
    assert "Unknown placeholder {cliente}" in html(response)


def test_the_preview_points_at_a_bad_brace(admin_client):
    response = admin_client.post(PREVIEW, {"body": "Hola {customer"})
    assert "is never closed" in html(response)


def test_the_preview_answers_post_only(admin_client):
    assert admin_client.get(PREVIEW).status_code == 405


# Saving and restoring ----------------------------------------------------------------------


def test_an_admin_saves_a_new_text_and_it_is_what_customers_get(admin_client, admin):
    response = admin_client.post(
        EDIT, {"body": "¡Buenas, {customer}!\r\nSomos {company}.", "active": "on"}
    )
    assert response.status_code == 302
    row = welcome_row()
    assert row.body == "¡Buenas, {customer}!\nSomos {company}."
    assert render_message("welcome", WELCOME, "es-ar").text == "¡Buenas, Marcela!\nSomos Fibra Sur."
    event = AuditEvent.objects.get(action="template.changed")
    assert event.actor == admin
    assert event.after == {"body": row.body, "active": True}


def test_saving_an_unknown_placeholder_is_refused_naming_it(admin_client):
    response = admin_client.post(EDIT, {"body": "Hola {cliente}", "active": "on"})
    assert response.status_code == 422
    assert "Unknown placeholder {cliente}" in html(response)
    assert welcome_row().body == TEMPLATE_KEYS["welcome"].defaults["es-ar"]
    assert not AuditEvent.objects.exists()


def test_saving_bad_braces_is_refused(admin_client):
    response = admin_client.post(EDIT, {"body": "Hola } {customer}", "active": "on"})
    assert response.status_code == 422
    assert "closes nothing" in html(response)


def test_switching_a_message_off_sends_the_shipped_default(admin_client):
    admin_client.post(EDIT, {"body": "Texto propio {customer}"})  # no "active": unchecked
    assert welcome_row().active is False
    rendered = render_message("welcome", WELCOME, "es-ar")
    assert rendered.source == "default"
    assert "Texto propio" not in rendered.text


def test_saving_the_same_text_again_writes_no_audit_event(admin_client):
    body = welcome_row().body
    admin_client.post(EDIT, {"body": body, "active": "on"})
    assert not AuditEvent.objects.exists()


def test_restore_puts_the_shipped_text_back_and_switches_it_on(admin_client):
    MessageTemplate.objects.filter(key="welcome", language="es-ar").update(
        body="Viejo {customer}", active=False
    )
    response = admin_client.post(RESTORE)
    assert response.status_code == 302
    row = welcome_row()
    assert row.body == TEMPLATE_KEYS["welcome"].defaults["es-ar"]
    assert row.active
    assert AuditEvent.objects.filter(action="template.restored").count() == 1


def test_restore_recreates_a_deleted_row(admin_client):
    MessageTemplate.objects.filter(key="welcome", language="en").delete()
    admin_client.post("/templates/welcome/en/restore/")
    row = MessageTemplate.objects.get(key="welcome", language="en")
    assert row.body == TEMPLATE_KEYS["welcome"].defaults["en"]
