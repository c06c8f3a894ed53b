"""Message templates: what each key may say, the shipped defaults, strict rendering, saving.

A body is text with named placeholders, `{operator}`, as in `str.format_map`, but read by a
strict parser of our own: a placeholder is a bare name the key declares (no attribute access,
indexes, conversions or format specs, so a stored body can never reach into an object), and
`{{`/`}}` stand for literal braces. Rendering picks the active row in the wanted language, then
the active `es-ar` row, then the shipped default in the wanted language, then the shipped
`es-ar` default. A stored body that no longer parses (edited outside ispdesk) falls back to the
shipped default with a log line rather than failing a send.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ispdesk.lib.memo import remembered
from ispdesk.messaging.models import MessageTemplate
from ispdesk.system.audit import record_audit

logger = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "es-ar"
LANGUAGES: tuple[tuple[str, str | Promise], ...] = (
    ("es-ar", gettext_lazy("Spanish")),
    ("en", gettext_lazy("English")),
)
LANGUAGE_CODES = tuple(code for code, _name in LANGUAGES)
# WhatsApp accepts 4,096 characters of text; leave room for the values placed in the body.
MAX_BODY_LENGTH = 3000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

OPERATOR = "operator"
CUSTOMER = "customer"


@dataclass(frozen=True)
class TemplateKey:
    key: str
    audience: str  # OPERATOR or CUSTOMER
    description: str | Promise
    # name → what it holds; the only names a body of this key may use.
    placeholders: dict[str, str | Promise]
    # language → shipped body.
    defaults: dict[str, str]
    # language → example values for the page's preview.
    samples: dict[str, dict[str, str]] = field(default_factory=dict)

    def default_body(self, language: str) -> str:
        return self.defaults.get(language) or self.defaults[FALLBACK_LANGUAGE]

    def sample_values(self, language: str) -> dict[str, str]:
        return dict(self.samples.get(language) or self.samples[FALLBACK_LANGUAGE])

    @property
    def stored_description(self) -> str:
        """The description as stored in a row: in English, whatever language is active."""
        with translation.override(None):
            return str(self.description)[:200]


_TICKET_LIST = gettext_lazy("one line per ticket: number, subject and how long it has waited")
_OPERATOR_NAME = gettext_lazy("the operator's first name")
_CUSTOMER_NAME = gettext_lazy("the customer's name")
_COMPANY = gettext_lazy("the ISP's name (the company name setting)")
_COUNT = gettext_lazy("how many tickets the list has")

_SAMPLE_LIST_ES = (
    "• #1042 Sin servicio desde anoche (2 h 15 min)\n• #1047 Lentitud por la tarde (1 h 5 min)"
)
_SAMPLE_LIST_EN = (
    "• #1042 No service since last night (2 h 15 min)\n• #1047 Slow in the evening (1 h 5 min)"
)
# Preview values of the templates that carry a list of tickets.
_LIST_SAMPLES = {
    "es-ar": {"operator": "Ana", "count": "2", "tickets": _SAMPLE_LIST_ES},
    "en": {"operator": "Ana", "count": "2", "tickets": _SAMPLE_LIST_EN},
}

TEMPLATE_KEYS: dict[str, TemplateKey] = {
    spec.key: spec
    for spec in (
        TemplateKey(
            "ticket_assigned",
            OPERATOR,
            gettext_lazy("To an operator when a ticket is assigned to them."),
            {
                "operator": _OPERATOR_NAME,
                "ticket": gettext_lazy("the ticket number"),
                "subject": gettext_lazy("the ticket's subject"),
                "customer": _CUSTOMER_NAME,
                "link": gettext_lazy("the address of the ticket in ispdesk"),
            },
            {
                "es-ar": (
                    "Hola {operator} 👋 Te asignamos el ticket #{ticket}: {subject}\n"
                    "Cliente: {customer}\n{link}"
                ),
                "en": (
                    "Hi {operator} 👋 Ticket #{ticket} is now yours: {subject}\n"
                    "Customer: {customer}\n{link}"
                ),
            },
            {
                "es-ar": {
                    "operator": "Ana",
                    "ticket": "1042",
                    "subject": "Sin servicio desde anoche",
                    "customer": "Marcela Gómez",
                    "link": "https://ispdesk.example.com/tickets/1042/",
                },
                "en": {
                    "operator": "Ana",
                    "ticket": "1042",
                    "subject": "No service since last night",
                    "customer": "Marcela Gómez",
                    "link": "https://ispdesk.example.com/tickets/1042/",
                },
            },
        ),
        TemplateKey(
            "overdue_alert",
            OPERATOR,
            gettext_lazy("To an operator: their tickets that are overdue, in one message."),
            {"operator": _OPERATOR_NAME, "count": _COUNT, "tickets": _TICKET_LIST},
            {
                "es-ar": (
                    "⏰ {operator}, estos tickets están vencidos y esperan respuesta ({count}):\n"
                    "{tickets}\nRevisalos apenas puedas, porfa. ¡Gracias!"
                ),
                "en": (
                    "⏰ {operator}, these tickets are overdue and waiting for a reply ({count}):\n"
                    "{tickets}\nPlease take a look as soon as you can. Thanks!"
                ),
            },
            _LIST_SAMPLES,
        ),
        TemplateKey(
            "pre_alert",
            OPERATOR,
            gettext_lazy("To an operator: their tickets that are about to become overdue."),
            {"operator": _OPERATOR_NAME, "count": _COUNT, "tickets": _TICKET_LIST},
            {
                "es-ar": (
                    "👀 {operator}, estos tickets están por vencer ({count}):\n{tickets}\n"
                    "Si podés, respondelos antes así no se atrasan."
                ),
                "en": (
                    "👀 {operator}, these tickets are about to become overdue ({count}):\n"
                    "{tickets}\nIf you can, reply before they fall behind."
                ),
            },
            _LIST_SAMPLES,
        ),
        TemplateKey(
            "shift_summary",
            OPERATOR,
            gettext_lazy("To an operator at the end of their shift: how their tickets stand."),
            {
                "operator": _OPERATOR_NAME,
                "open": gettext_lazy("their open tickets"),
                "closed_today": gettext_lazy("their tickets closed today"),
                "overdue": gettext_lazy("their overdue tickets"),
            },
            {
                "es-ar": (
                    "📋 Resumen de tu turno, {operator}:\n• Abiertos: {open}\n"
                    "• Cerrados hoy: {closed_today}\n• Vencidos: {overdue}\n"
                    "¡Gracias por el laburo de hoy!"
                ),
                "en": (
                    "📋 Your shift summary, {operator}:\n• Open: {open}\n"
                    "• Closed today: {closed_today}\n• Overdue: {overdue}\n"
                    "Thanks for today's work!"
                ),
            },
            {
                "es-ar": {"operator": "Ana", "open": "4", "closed_today": "9", "overdue": "1"},
                "en": {"operator": "Ana", "open": "4", "closed_today": "9", "overdue": "1"},
            },
        ),
        TemplateKey(
            "auto_unassign",
            OPERATOR,
            gettext_lazy(
                "To an operator: the tickets unassigned from them when their shift ended."
            ),
            {"operator": _OPERATOR_NAME, "count": _COUNT, "tickets": _TICKET_LIST},
            {
                "es-ar": (
                    "🔄 {operator}, terminó tu turno. Estos tickets quedaron sin asignar para "
                    "que los tome el próximo turno ({count}):\n{tickets}\n¡Buen descanso!"
                ),
                "en": (
                    "🔄 {operator}, your shift is over. These tickets were unassigned so the "
                    "next shift can pick them up ({count}):\n{tickets}\nHave a good rest!"
                ),
            },
            _LIST_SAMPLES,
        ),
        TemplateKey(
            "welcome",
            CUSTOMER,
            gettext_lazy("To a customer who starts a conversation."),
            {"customer": _CUSTOMER_NAME, "company": _COMPANY},
            {
                "es-ar": (
                    "¡Hola {customer}! 👋 Gracias por escribir a {company}. "
                    "Contanos en qué te podemos ayudar."
                ),
                "en": "Hi {customer}! 👋 Thanks for writing to {company}. Tell us how we can help.",
            },
            {
                "es-ar": {"customer": "Marcela", "company": "Fibra Sur"},
                "en": {"customer": "Marcela", "company": "Fibra Sur"},
            },
        ),
        TemplateKey(
            "after_hours",
            CUSTOMER,
            gettext_lazy("To a customer who writes outside working hours."),
            {
                "customer": _CUSTOMER_NAME,
                "company": _COMPANY,
                "next_opening": gettext_lazy("when the team is back, in words"),
            },
            {
                "es-ar": (
                    "¡Hola {customer}! Ahora estamos fuera de horario 🌙 Dejanos tu consulta y "
                    "te respondemos {next_opening}. ¡Gracias por la paciencia!"
                ),
                "en": (
                    "Hi {customer}! We're closed right now 🌙 Leave us your message and we'll "
                    "reply {next_opening}. Thanks for your patience!"
                ),
            },
            {
                "es-ar": {
                    "customer": "Marcela",
                    "company": "Fibra Sur",
                    "next_opening": "mañana a las 08:00",
                },
                "en": {
                    "customer": "Marcela",
                    "company": "Fibra Sur",
                    "next_opening": "tomorrow at 08:00",
                },
            },
        ),
        TemplateKey(
            "queue_position",
            CUSTOMER,
            gettext_lazy("To a customer waiting for an operator: their place in the queue."),
            {
                "customer": _CUSTOMER_NAME,
                "position": gettext_lazy("their place in the queue (1 = next)"),
                "area": gettext_lazy("the area they are waiting for"),
            },
            {
                "es-ar": (
                    "{customer}, ya te pasamos con {area}. Sos el número {position} en la fila; "
                    "en cuanto se libere alguien te atiende. ¡Gracias por esperar!"
                ),
                "en": (
                    "{customer}, you're now waiting for {area}. You're number {position} in "
                    "line; someone will be with you as soon as they're free. Thanks for waiting!"
                ),
            },
            {
                "es-ar": {"customer": "Marcela", "position": "3", "area": "Soporte técnico"},
                "en": {"customer": "Marcela", "position": "3", "area": "Technical support"},
            },
        ),
        TemplateKey(
            "chat_assigned",
            CUSTOMER,
            gettext_lazy("To a customer when an operator takes their conversation."),
            {"customer": _CUSTOMER_NAME, "operator": _OPERATOR_NAME},
            {
                "es-ar": "{customer}, te atiende {operator}. 🙂",
                "en": "{customer}, {operator} is here to help you. 🙂",
            },
            {
                "es-ar": {"customer": "Marcela", "operator": "Ana"},
                "en": {"customer": "Marcela", "operator": "Ana"},
            },
        ),
        TemplateKey(
            "auto_close",
            CUSTOMER,
            gettext_lazy("To a customer when an idle conversation closes itself."),
            {"customer": _CUSTOMER_NAME, "company": _COMPANY},
            {
                "es-ar": (
                    "{customer}, cerramos esta conversación porque no tuvimos novedades. "
                    "Si necesitás algo más, escribinos cuando quieras. "
                    "¡Saludos del equipo de {company}!"
                ),
                "en": (
                    "{customer}, we closed this conversation as we hadn't heard back. "
                    "If you need anything else, write to us anytime. "
                    "Best wishes from the {company} team!"
                ),
            },
            {
                "es-ar": {"customer": "Marcela", "company": "Fibra Sur"},
                "en": {"customer": "Marcela", "company": "Fibra Sur"},
            },
        ),
    )
}


class TemplateError(ValueError):
    """A body that cannot be used; `message` says why for a person, naming the placeholder."""

    def __init__(self, message: str, placeholder: str = "") -> None:
        self.message = message
        self.placeholder = placeholder
        super().__init__(message)


class UnknownTemplate(LookupError):
    pass


def template_key(key: str) -> TemplateKey:
    try:
        return TEMPLATE_KEYS[key]
    except KeyError:
        raise UnknownTemplate(key) from None


def template_language(code: str | None) -> str:
    """One of LANGUAGE_CODES for a language code as people and browsers write it."""
    text = (code or "").strip().lower().replace("_", "-")
    if text in LANGUAGE_CODES:
        return text
    base = text.split("-", 1)[0]
    for known in LANGUAGE_CODES:
        if known.split("-", 1)[0] == base:
            return known
    return FALLBACK_LANGUAGE


# Parsing and rendering (pure) ------------------------------------------------------------------

# A parsed body: literal text, or ("", name) for a placeholder.
Part = tuple[str, str]


def parse_body(body: str) -> list[Part]:
    """Split a body into literal text and placeholders, or raise TemplateError."""
    parts: list[Part] = []
    literal: list[str] = []
    index, length = 0, len(body)
    while index < length:
        char = body[index]
        if char == "{" and body.startswith("{{", index):
            literal.append("{")
            index += 2
        elif char == "}" and body.startswith("}}", index):
            literal.append("}")
            index += 2
        elif char == "}":
            raise TemplateError(
                _(
                    "A '}' at character %(position)s closes nothing; write '}}' for a brace "
                    "in the text."
                )
                % {"position": index + 1}
            )
        elif char == "{":
            close = body.find("}", index + 1)
            opened_again = body.find("{", index + 1)
            if close == -1 or (opened_again != -1 and opened_again < close):
                raise TemplateError(
                    _(
                        "The '{' at character %(position)s is never closed; write '{{' for a "
                        "brace in the text."
                    )
                    % {"position": index + 1}
                )
            name = body[index + 1 : close]
            if not _NAME.match(name):
                raise TemplateError(
                    _(
                        "{%(name)s} is not a placeholder: use a plain name such as {operator} "
                        "(no spaces, dots, indexes or formats)."
                    )
                    % {"name": name},
                    placeholder=name,
                )
            if literal:
                parts.append(("".join(literal), ""))
                literal = []
            parts.append(("", name))
            index = close + 1
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append(("".join(literal), ""))
    return parts


def placeholders_in(body: str) -> list[str]:
    """The placeholder names a body uses, in order of first use."""
    seen: dict[str, None] = {}
    for _text, name in parse_body(body):
        if name:
            seen.setdefault(name, None)
    return list(seen)


def validate_body(key: str, body: str) -> None:
    """Raise TemplateError when `body` cannot be stored for `key`."""
    spec = template_key(key)
    if not body.strip():
        raise TemplateError(_("The message is empty."))
    if "\x00" in body:
        raise TemplateError(_("The message contains a NUL character."))
    if len(body) > MAX_BODY_LENGTH:
        raise TemplateError(
            _("The message is %(length)s characters long; at most %(max)s fit.")
            % {"length": len(body), "max": MAX_BODY_LENGTH}
        )
    unknown = [name for name in placeholders_in(body) if name not in spec.placeholders]
    if unknown:
        allowed = ", ".join(f"{{{name}}}" for name in spec.placeholders)
        raise TemplateError(
            _("Unknown placeholder {%(name)s}. This message may use: %(allowed)s.")
            % {"name": unknown[0], "allowed": allowed},
            placeholder=unknown[0],
        )


@functools.lru_cache(maxsize=256)
def _parsed(body: str) -> tuple[Part, ...]:
    # A few bodies are rendered over and over (each queue position, each greeting).
    return tuple(parse_body(body))


def render_body(body: str, values: Mapping[str, Any]) -> str:
    """Fill the placeholders of `body`; a placeholder without a value is a TemplateError."""
    out: list[str] = []
    for text, name in _parsed(body):
        if not name:
            out.append(text)
        elif name in values:
            out.append(str(values[name]))
        else:
            raise TemplateError(
                _("No value for the placeholder {%(name)s}.") % {"name": name}, placeholder=name
            )
    return "".join(out)


# Choosing the body and rendering it --------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    text: str
    key: str
    language: str
    # "stored" (a row written by an admin or installed) or "default" (the shipped text).
    source: str


def _check_values(spec: TemplateKey, values: Mapping[str, Any]) -> None:
    undeclared = sorted(set(values) - set(spec.placeholders))
    if undeclared:
        raise TemplateError(
            f"{spec.key} declares no placeholder {undeclared[0]!r}", placeholder=undeclared[0]
        )


def render_message(key: str, values: Mapping[str, Any], language: str | None = None) -> Rendered:
    """The message for `key` in `language` (see the module's docstring for the order).

    `values` must hold every placeholder the key declares that the chosen body uses, and
    nothing the key does not declare (a caller's typo should fail in tests, not in a send).
    """
    spec = template_key(key)
    _check_values(spec, values)
    wanted = template_language(language)
    order = [wanted] if wanted == FALLBACK_LANGUAGE else [wanted, FALLBACK_LANGUAGE]
    rows = remembered(
        ("message_templates", key, tuple(order)),
        lambda: {
            row.language: row
            for row in MessageTemplate.objects.filter(key=key, language__in=order, active=True)
        },
    )
    for code in order:
        row = rows.get(code)
        if row is None:
            continue
        try:
            return Rendered(render_body(row.body, values), key, code, "stored")
        except TemplateError as exc:
            logger.warning("template %s (%s) cannot be rendered: %s", key, code, exc.message)
    code = wanted if wanted in spec.defaults else FALLBACK_LANGUAGE
    return Rendered(render_body(spec.default_body(code), values), key, code, "default")


def preview(key: str, body: str, language: str) -> str:
    """A draft body rendered with the key's sample values; raises TemplateError."""
    validate_body(key, body)
    return render_body(body, template_key(key).sample_values(template_language(language)))


# Installing the shipped defaults -----------------------------------------------------------


def install_default_templates(
    template_model: type[models.Model] | None = None, using: str = "default"
) -> int:
    """Create every shipped (key, language) that has no row yet; return how many were made.

    Rows that exist are left alone, whatever their body, so an admin's edits survive. The
    data migration passes its historical model; `ispdesk demo` and tests call it bare.
    """
    template_model = template_model or MessageTemplate
    manager = template_model._default_manager.db_manager(using)
    existing = set(manager.values_list("key", "language"))
    missing = [
        template_model(
            key=spec.key,
            language=language,
            body=body,
            description=spec.stored_description,
            active=True,
        )
        for spec in TEMPLATE_KEYS.values()
        for language, body in spec.defaults.items()
        if (spec.key, language) not in existing
    ]
    # ignore_conflicts: two processes installing at once must not fail each other.
    manager.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


# Actions -----------------------------------------------------------------------------------


def _snapshot(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"body": row.body, "active": row.active}


def do_save_template(
    actor: Any,
    key: str,
    language: str,
    *,
    body: str,
    active: bool,
    action: str = "template.changed",
) -> MessageTemplate:
    """Validate and store one template; raise TemplateError naming what is wrong."""
    spec = template_key(key)
    if language not in LANGUAGE_CODES:
        raise UnknownTemplate(f"{key}/{language}")
    body = body.replace("\r\n", "\n")
    validate_body(key, body)
    with transaction.atomic():
        row = MessageTemplate.objects.select_for_update().filter(key=key, language=language).first()
        before = _snapshot(row)
        if row is None:
            row = MessageTemplate(key=key, language=language)
        if before == {"body": body, "active": active}:
            return row
        row.body = body
        row.active = active
        row.description = spec.stored_description
        row.save()
        record_audit(actor, action, row, before=before, after=_snapshot(row))
    return row


def do_restore_default_template(actor: Any, key: str, language: str) -> MessageTemplate:
    """Put the shipped body back (and make it active)."""
    spec = template_key(key)
    if language not in LANGUAGE_CODES:
        raise UnknownTemplate(f"{key}/{language}")
    return do_save_template(
        actor,
        key,
        language,
        body=spec.default_body(language),
        active=True,
        action="template.restored",
    )
