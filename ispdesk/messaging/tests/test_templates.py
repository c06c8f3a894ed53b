"""Message templates: the strict parser, validation, choosing the body, the shipped defaults."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.messaging.message_templates import (
    FALLBACK_LANGUAGE,
    LANGUAGE_CODES,
    TEMPLATE_KEYS,
    TemplateError,
    UnknownTemplate,
    install_default_templates,
    parse_body,
    placeholders_in,
    preview,
    render_body,
    render_message,
    template_language,
    validate_body,
)
from ispdesk.messaging.models import MessageTemplate

ASSIGNED = {
    "operator": "Ana",
    "ticket": "7",
    "subject": "Sin servicio",
    "customer": "Raúl Díaz",
    "link": "https://desk.example/tickets/7/",
}


@pytest.fixture
def shipped(db):  # type: ignore[no-untyped-def]
    """The rows the data migration installs (a transactional test elsewhere may flush them)."""
    install_default_templates()


def store(key: str, language: str, body: str, active: bool = True) -> MessageTemplate:
    row, _created = MessageTemplate.objects.update_or_create(
        key=key, language=language, defaults={"body": body, "active": active}
    )
    return row


# Parsing and validation (pure) -----------------------------------------------------------------


def test_it_reads_placeholders_and_doubled_braces():
    assert parse_body("Hola {operator}, {{ok}}") == [
        ("Hola ", ""),
        ("", "operator"),
        (", {ok}", ""),
    ]
    assert placeholders_in("{a} {b} {a}") == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("Hola {operator", "never closed"),
        ("Hola operator}", "closes nothing"),
        ("Hola {op{erator}", "never closed"),
        ("Hola {}", "not a placeholder"),
        ("Hola {operator.__class__}", "not a placeholder"),
        ("Hola {operator[0]}", "not a placeholder"),
        ("Hola {0}", "not a placeholder"),
        ("Hola {operator!r}", "not a placeholder"),
        ("Hola {operator:>20}", "not a placeholder"),
        ("Hola { operator }", "not a placeholder"),
    ],
)
def test_it_rejects_bad_braces_saying_what_is_wrong(settings, body, words):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(TemplateError) as caught:
        validate_body("ticket_assigned", body)
    assert words in caught.value.message


def test_it_names_the_character_where_an_unclosed_brace_starts(settings):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(TemplateError) as caught:
        validate_body("ticket_assigned", "Hola {operator} {ticket")
    assert "character 17" in caught.value.message


def test_it_rejects_an_unknown_placeholder_naming_it_and_the_allowed_ones(settings):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(TemplateError) as caught:
        validate_body("ticket_assigned", "Hola {operator}, mirá {cliente}")
    assert caught.value.placeholder == "cliente"
    assert "{cliente}" in caught.value.message
    assert "{customer}" in caught.value.message


def test_a_placeholder_of_another_key_is_unknown_here():
    with pytest.raises(TemplateError) as caught:
        validate_body("welcome", "Hola {customer}, {tickets}")
    assert caught.value.placeholder == "tickets"


@pytest.mark.parametrize("body", ["", "   \n", "a\x00b", "x" * 3001])
def test_it_rejects_empty_nul_and_overlong_bodies(body):
    with pytest.raises(TemplateError):
        validate_body("welcome", body)


def test_an_unknown_key_is_an_error_of_its_own():
    with pytest.raises(UnknownTemplate):
        validate_body("no_such_key", "hola")


def test_it_fills_values_and_never_evaluates_them():
    assert render_body("{a} y {b}", {"a": "{b}", "b": 2}) == "{b} y 2"


def test_a_missing_value_is_an_error_naming_the_placeholder():
    with pytest.raises(TemplateError) as caught:
        render_body("Hola {operator}", {})
    assert caught.value.placeholder == "operator"


@given(st.text(max_size=200))
def test_any_text_with_its_braces_doubled_renders_back_to_itself(text):
    escaped = text.replace("{", "{{").replace("}", "}}")
    assert render_body(escaped, {}) == text


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("es-ar", "es-ar"),
        ("es_AR", "es-ar"),
        ("es", "es-ar"),
        ("es-MX", "es-ar"),
        ("en", "en"),
        ("en-US", "en"),
        ("pt-BR", FALLBACK_LANGUAGE),
        ("", FALLBACK_LANGUAGE),
        (None, FALLBACK_LANGUAGE),
    ],
)
def test_it_maps_language_codes_to_a_template_language(code, expected):
    assert template_language(code) == expected


# The shipped defaults ------------------------------------------------------------------------


def test_every_key_ships_both_languages_and_each_default_is_valid():
    assert set(TEMPLATE_KEYS) == {
        "ticket_assigned",
        "overdue_alert",
        "pre_alert",
        "shift_summary",
        "auto_unassign",
        "welcome",
        "after_hours",
        "auto_close",
        "queue_position",
        "chat_assigned",
    }
    for key, spec in TEMPLATE_KEYS.items():
        assert set(spec.defaults) == set(LANGUAGE_CODES), key
        for language, body in spec.defaults.items():
            validate_body(key, body)
            assert preview(key, body, language)
        # Both languages say the same things.
        used = {language: set(placeholders_in(body)) for language, body in spec.defaults.items()}
        assert used["es-ar"] == used["en"], key


def test_the_spanish_defaults_speak_with_voseo():
    spanish = " ".join(spec.defaults["es-ar"] for spec in TEMPLATE_KEYS.values())
    for word in ("podés", "necesitás", "Contanos", "Dejanos", "escribinos", "Revisalos"):
        assert word in spanish, word
    for tuteo in ("puedes", "necesitas", "Cuéntanos", "Déjanos", "escríbenos", "tienes"):
        assert tuteo not in spanish, tuteo


# Choosing the body -------------------------------------------------------------------------


def test_it_renders_the_active_row_in_the_wanted_language(shipped):
    store("ticket_assigned", "en", "Yours: #{ticket}")
    rendered = render_message("ticket_assigned", ASSIGNED, "en")
    assert rendered.text == "Yours: #7"
    assert (rendered.language, rendered.source) == ("en", "stored")


def test_a_language_without_a_row_falls_back_to_the_spanish_row(shipped):
    MessageTemplate.objects.filter(key="ticket_assigned", language="en").delete()
    store("ticket_assigned", "es-ar", "Tuyo: #{ticket}")
    rendered = render_message("ticket_assigned", ASSIGNED, "en")
    assert rendered.text == "Tuyo: #7"
    assert rendered.language == "es-ar"


def test_an_unknown_language_is_served_the_spanish_row(shipped):
    store("ticket_assigned", "es-ar", "Tuyo: #{ticket}")
    assert render_message("ticket_assigned", ASSIGNED, "pt-BR").text == "Tuyo: #7"


def test_inactive_rows_give_way_to_the_shipped_default(shipped):
    store("ticket_assigned", "en", "Custom english #{ticket}", active=False)
    store("ticket_assigned", "es-ar", "Custom español #{ticket}", active=False)
    rendered = render_message("ticket_assigned", ASSIGNED, "en")
    assert rendered.source == "default"
    assert rendered.text.startswith("Hi Ana 👋 Ticket #7 is now yours: Sin servicio")
    assert "https://desk.example/tickets/7/" in rendered.text


@pytest.mark.django_db
def test_with_no_rows_at_all_it_sends_the_shipped_default_in_the_language():
    MessageTemplate.objects.all().delete()
    spanish = render_message("ticket_assigned", ASSIGNED, "es-ar")
    assert spanish.text.startswith("Hola Ana 👋 Te asignamos el ticket #7")
    assert spanish.source == "default"


def test_a_broken_stored_body_falls_back_to_the_default_instead_of_failing(shipped, caplog):
    # Written behind the page's back (the page refuses it).
    store("welcome", "es-ar", "Hola {cliente")
    rendered = render_message("welcome", {"customer": "Marcela", "company": "Fibra Sur"})
    assert rendered.source == "default"
    assert "Marcela" in rendered.text
    assert "cannot be rendered" in caplog.text


@pytest.mark.django_db
def test_it_refuses_values_the_key_does_not_declare():
    with pytest.raises(TemplateError):
        render_message("welcome", {"customer": "M", "company": "F", "ticket": "1"})


# Installing the defaults ---------------------------------------------------------------------


def shipped_pairs() -> set[tuple[str, str]]:
    return {(key, language) for key, spec in TEMPLATE_KEYS.items() for language in spec.defaults}


def test_installed_rows_carry_the_shipped_text_and_an_english_description(shipped):
    assert set(MessageTemplate.objects.values_list("key", "language")) == shipped_pairs()
    row = MessageTemplate.objects.get(key="welcome", language="en")
    assert row.body == TEMPLATE_KEYS["welcome"].defaults["en"]
    assert row.active
    assert row.description == "To a customer who starts a conversation."


def test_installing_again_only_adds_what_is_missing_and_keeps_edits(shipped):
    store("welcome", "es-ar", "¡Buenas, {customer}!")
    MessageTemplate.objects.filter(key="auto_close").delete()
    assert install_default_templates() == 2
    assert install_default_templates() == 0
    assert set(MessageTemplate.objects.values_list("key", "language")) == shipped_pairs()
    assert MessageTemplate.objects.get(key="welcome", language="es-ar").body == (
        "¡Buenas, {customer}!"
    )


MIGRATION = ("messaging", "0002_message_template_defaults")


@pytest.mark.django_db
def test_the_data_migration_installs_every_default_with_its_historical_model():
    loader = MigrationLoader(connection)
    assert MIGRATION in loader.graph.nodes
    historical = loader.project_state(MIGRATION, at_end=False).apps
    module = importlib.import_module(f"ispdesk.messaging.migrations.{MIGRATION[1]}")
    (operation,) = module.Migration.operations
    assert operation.reversible  # reversing keeps rows: a no-op

    class Editor:
        connection = connection

    MessageTemplate.objects.all().delete()
    operation.code(historical, Editor())
    assert set(MessageTemplate.objects.values_list("key", "language")) == shipped_pairs()
    MessageTemplate.objects.filter(key="welcome", language="es-ar").update(body="Mío {customer}")
    operation.code(historical, Editor())
    assert MessageTemplate.objects.count() == len(shipped_pairs())
    assert MessageTemplate.objects.get(key="welcome", language="es-ar").body == "Mío {customer}"
