"""The inbound ticket webhook: the earlier intermediate system posts its tickets here.

Three layers, top to bottom:
- pure parsing and mapping (`clean_mapping`, `map_item`, `match_area`, `ticket_body`): their
  field names → our ticket fields, no ORM;
- `receive_tickets` / `receive_close`: one delivery's answer (status and JSON body) from the
  parsed payload, creating or closing tickets through `ispdesk.tickets.actions`;
- the settings actions (`do_save_hook_settings`, `do_rotate_hook_secret`), audited.

The hook's secret is in its URL and is the only credential: it is never logged here.
"""

from __future__ import annotations

import hmac
import html
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ispdesk.api_errors import error_body
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.operators.models import Area
from ispdesk.pipeline.models import ExternalSystem, SystemKind, new_hook_secret
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.tickets.actions import NewTicket, TicketActionError, do_close_ticket, do_create_ticket
from ispdesk.tickets.models import Source, Ticket

# Our side of the mapping, in the order the settings page lists them.
OUR_FIELDS: dict[str, Any] = {
    "external_id": gettext_lazy("Ticket number"),
    "subject": gettext_lazy("Subject"),
    "body": gettext_lazy("Description"),
    "customer_id": gettext_lazy("Gestión Real customer number"),
    "customer_phone": gettext_lazy("Customer WhatsApp"),
    "customer_name": gettext_lazy("Customer name"),
    "area": gettext_lazy("Area"),
}
REQUIRED_FIELDS = ("external_id", "subject")

# The earlier intermediate system's names, exactly as it sends them (the double spaces too).
DEFAULT_MAPPING: dict[str, str] = {
    "Numero de ticket": "external_id",
    "Numero de  cliente": "customer_id",
    "Numero de  Whatsapp": "customer_phone",
    "Motivo de contacto": "subject",
    "Departamento creacion del ticket": "area",
    "Descripcion": "body",
    "Detalle": "body",
    "Cliente": "customer_name",
    "Nombre": "customer_name",
}

MAX_MAPPING_ENTRIES = 50
MAX_NAME_LENGTH = 100
MAX_ITEMS = 500
MAX_EXTERNAL_ID_LENGTH = 64  # Ticket.external_id
MAX_BODY_LENGTH = 20_000
MAX_VALUE_LENGTH = 500  # every other mapped value
# Secrets are token_urlsafe(32) (43 characters); anything much longer is not one of ours.
MAX_SECRET_LENGTH = 64


# Pure: mapping -------------------------------------------------------------------------------


class MappingError(ValueError):
    """The mapping cannot be saved; `fields` names the offending entries."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        self.message = message
        self.fields = fields
        super().__init__(message)


def normalize_name(name: str) -> str:
    """Case, accents and runs of spaces don't matter: "Número de  Cliente" ~ "numero de cliente"."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def clean_mapping(raw: Any) -> dict[str, str]:
    """A mapping as it will be stored (their name → our field), or MappingError.

    Their names are kept exactly as typed (the sender's double spaces matter for the exact
    match); two names that only differ by case, accents or spaces are refused as ambiguous.
    """
    if not isinstance(raw, Mapping):
        raise MappingError(_("The mapping must be an object."), {"mapping": _("not an object")})
    if len(raw) > MAX_MAPPING_ENTRIES:
        raise MappingError(
            _("At most %(count)d fields can be mapped.") % {"count": MAX_MAPPING_ENTRIES},
            {"mapping": _("too many entries")},
        )
    cleaned: dict[str, str] = {}
    seen: dict[str, str] = {}
    errors: dict[str, str] = {}
    for their, ours in raw.items():
        if not isinstance(their, str) or not their.strip():
            errors["mapping"] = _("a field name is blank")
            continue
        if len(their) > MAX_NAME_LENGTH:
            errors[their[:MAX_NAME_LENGTH]] = _("longer than %(count)d characters") % {
                "count": MAX_NAME_LENGTH
            }
            continue
        if not isinstance(ours, str) or ours not in OUR_FIELDS:
            errors[their] = _("unknown field; one of: %(fields)s") % {
                "fields": ", ".join(OUR_FIELDS)
            }
            continue
        key = normalize_name(their)
        if key in seen:
            errors[their] = _("the same name as “%(other)s”") % {"other": seen[key]}
            continue
        seen[key] = their
        cleaned[their] = ours
    for required in REQUIRED_FIELDS:
        if not errors and required not in cleaned.values():
            errors[required] = _("map a field to it")
    if errors:
        raise MappingError(_("The mapping is not valid."), errors)
    return cleaned


def stored_mapping(system: ExternalSystem) -> dict[str, str]:
    """The mapping in effect: the saved one, or the default when none was saved (or it no
    longer validates, e.g. edited by hand in the database)."""
    raw = (system.config or {}).get("mapping")
    if raw is None:
        return dict(DEFAULT_MAPPING)
    try:
        return clean_mapping(raw)
    except MappingError:
        return dict(DEFAULT_MAPPING)


# Pure: one item ------------------------------------------------------------------------------


class ItemRejected(ValueError):
    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


@dataclass(frozen=True)
class InboundTicket:
    external_id: str
    subject: str
    body: str = ""
    customer_id: str = ""
    # E.164 when it could be read as a phone number, else as sent.
    customer_phone: str = ""
    customer_name: str = ""
    area_name: str = ""
    notes: list[str] = field(default_factory=list)


def _text(value: Any) -> str | None:
    """A scalar as text (entities decoded, trimmed); None for a value that is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Ticket and customer numbers sometimes arrive as 123.0.
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str):
        return " ".join(html.unescape(value).split()) if "\n" not in value else _lines(value)
    return None


def _lines(value: str) -> str:
    # Keep a description's line breaks; trim each line.
    lines = [" ".join(line.split()) for line in html.unescape(value).splitlines()]
    return "\n".join(lines).strip()


def _lookup(item: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, list[Any]]:
    """Our field → the values found for it, in mapping order. Their names match exactly, or
    else ignoring case, accents and runs of spaces."""
    loose = {normalize_name(key): key for key in item if isinstance(key, str)}
    found: dict[str, list[Any]] = {}
    for their, ours in mapping.items():
        key = their if their in item else loose.get(normalize_name(their))
        if key is not None:
            found.setdefault(ours, []).append((their, item[key]))
    return found


def _first_name(mapping: Mapping[str, str], ours: str) -> str:
    return next((their for their, mapped in mapping.items() if mapped == ours), ours)


def map_item(item: Any, mapping: Mapping[str, str]) -> InboundTicket:
    """Their object → an InboundTicket, or ItemRejected naming their fields at fault."""
    if not isinstance(item, Mapping):
        raise ItemRejected("bad_request", _("Each ticket must be a JSON object."))
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for ours, pairs in _lookup(item, mapping).items():
        texts = []
        for their, value in pairs:
            text = _text(value)
            if text is None and value is not None:
                errors[their] = _("must be text or a number")
            elif text:
                texts.append(text)
        if texts:
            # Two descriptions (Descripcion and Detalle) are both kept; elsewhere the first wins.
            values[ours] = "\n\n".join(dict.fromkeys(texts)) if ours == "body" else texts[0]
    missing = [
        _first_name(mapping, ours)
        for ours in REQUIRED_FIELDS
        if ours not in values and not any(mapping.get(name) == ours for name in errors)
    ]
    errors.update({name: _("required") for name in missing})
    if len(values.get("external_id", "")) > MAX_EXTERNAL_ID_LENGTH:
        errors[_first_name(mapping, "external_id")] = _("longer than %(count)d characters") % {
            "count": MAX_EXTERNAL_ID_LENGTH
        }
    if errors:
        message = (
            _("Missing required fields: %(fields)s") % {"fields": ", ".join(missing)}
            if missing
            else _("Some fields are not valid.")
        )
        raise ItemRejected("validation_error", message, errors)
    limits = {name: MAX_VALUE_LENGTH for name in OUR_FIELDS} | {"body": MAX_BODY_LENGTH}
    values = {name: value[: limits[name]] for name, value in values.items()}
    notes = []
    phone = values.get("customer_phone", "")
    if phone:
        try:
            phone = normalize_phone(phone, mobile=True)
        except PhoneError as exc:
            notes.append(_("The WhatsApp number could not be read (%(reason)s).") % {"reason": exc})
    return InboundTicket(
        external_id=values["external_id"],
        subject=values["subject"],
        body=values.get("body", ""),
        customer_id=values.get("customer_id", ""),
        customer_phone=phone,
        customer_name=values.get("customer_name", ""),
        area_name=values.get("area", ""),
        notes=notes,
    )


def match_area(name: str, areas: Iterable[tuple[int, str]]) -> int | None:
    """The id of the area named `name`, ignoring case, accents and spaces; None if none."""
    wanted = normalize_name(name)
    if not wanted:
        return None
    return next((pk for pk, area in areas if normalize_name(area) == wanted), None)


def ticket_body(inbound: InboundTicket) -> str:
    """The description, then what the ticket has no field for: the department as the
    sender named it, and any extra notes (the customer's number and WhatsApp have fields)."""
    lines = []
    if inbound.area_name:
        lines.append(_("Department: %(name)s") % {"name": inbound.area_name})
    lines.extend(inbound.notes)
    return "\n\n".join(part for part in (inbound.body, "\n".join(lines)) if part)


# Delivery answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HookAnswer:
    status: int
    body: dict[str, Any]


def _item_error(exc: ItemRejected | TicketActionError) -> dict[str, Any]:
    return {"error": error_body(exc.code, exc.message, exc.fields)}


def _create(item: Any, mapping: Mapping[str, str], areas: list[tuple[int, str]]) -> dict[str, Any]:
    try:
        inbound = map_item(item, mapping)
        new = NewTicket(
            source=Source.WEBHOOK,
            external_id=inbound.external_id,
            subject=inbound.subject,
            body=ticket_body(inbound),
            customer_name=inbound.customer_name,
            customer_external_id=inbound.customer_id,
            customer_phone=inbound.customer_phone,
            area_id=match_area(inbound.area_name, areas),
        )
        ticket, created = do_create_ticket(None, new)
    except (ItemRejected, TicketActionError) as exc:
        return _item_error(exc)
    return {"external_id": ticket.external_id, "ticket": ticket.pk, "created": created}


def receive_tickets(system: ExternalSystem, payload: Any) -> HookAnswer:
    """Create the tickets of one delivery: an object, or a list answered item by item.

    One object: 201 created, 200 already known (a replay), 422 refused (with the error shape
    at the top level too). A list: 200 with one result per item, in order; a refused item
    does not stop the others. Database errors propagate (the view answers 503).
    """
    if not isinstance(payload, (list, dict)):
        return HookAnswer(400, error_body("bad_request", _("Send a JSON object or a list.")))
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        return HookAnswer(400, error_body("bad_request", _("The list of tickets is empty.")))
    if len(items) > MAX_ITEMS:
        return HookAnswer(
            413,
            error_body(
                "payload_too_large",
                _("At most %(count)d tickets per request.") % {"count": MAX_ITEMS},
            ),
        )
    mapping = stored_mapping(system)
    areas = list(Area.objects.filter(active=True).values_list("pk", "name"))
    results = [_create(item, mapping, areas) for item in items]
    if isinstance(payload, list):
        return HookAnswer(200, {"results": results})
    (result,) = results
    if "error" in result:
        return HookAnswer(422, {**result["error"], "results": results})
    return HookAnswer(201 if result["created"] else 200, {"results": results})


def do_close_from_hook(ticket: Ticket) -> bool:
    """Close a ticket for the sender; False when it was closed already (a replay)."""
    with transaction.atomic():
        # Locked first, so two identical close calls at once tell one of them `closed: false`.
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if not locked.is_open:
            return False
        do_close_ticket(None, locked, note=_("Closed by the inbound webhook"))
    return True


def receive_close(system: ExternalSystem, payload: Any) -> HookAnswer:
    """Close the ticket named by the mapped ticket number: 200 (`closed` false on a replay),
    404 unknown, 422 without a ticket number."""
    if not isinstance(payload, dict):
        return HookAnswer(400, error_body("bad_request", _("Send one JSON object.")))
    mapping = stored_mapping(system)
    number_field = _first_name(mapping, "external_id")
    found = _lookup(payload, mapping).get("external_id", [])
    texts = [text for text in (_text(value) for _their, value in found) if text]
    if not texts:
        return HookAnswer(
            422,
            error_body(
                "validation_error",
                _("Missing required fields: %(fields)s") % {"fields": number_field},
                {number_field: _("required")},
            ),
        )
    external_id = texts[0]
    ticket = Ticket.objects.filter(source=Source.WEBHOOK, external_id=external_id).first()
    if ticket is None:
        return HookAnswer(
            404,
            error_body(
                "not_found",
                _("No ticket has the number %(number)s.") % {"number": external_id[:80]},
            ),
        )
    closed = do_close_from_hook(ticket)
    return HookAnswer(200, {"external_id": external_id, "ticket": ticket.pk, "closed": closed})


# The hook's row and its settings -------------------------------------------------------------


def hook_system() -> ExternalSystem:
    """The hook's settings row, created (disabled, default mapping) on first use."""
    system, _created = ExternalSystem.objects.get_or_create(
        kind=SystemKind.TICKET_HOOK, defaults={"config": {"mapping": dict(DEFAULT_MAPPING)}}
    )
    return system


def find_hook(secret: str) -> ExternalSystem | None:
    """The hook's row when `secret` is its secret, compared in constant time."""
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    system = ExternalSystem.objects.filter(kind=SystemKind.TICKET_HOOK).first()
    if system is None:
        return None
    given = secret.encode("utf-8", errors="replace")
    return system if hmac.compare_digest(system.hook_secret.encode(), given) else None


def hook_path(system: ExternalSystem) -> str:
    """The path to give the sender; it holds the secret, so only admins may see it."""
    return reverse("ticket_hook", args=[system.hook_secret])


def _announce() -> None:
    send_event_on_commit(["role.admin"], {"type": "integration:update", "system": "ticket_hook"})


def _settings_state(system: ExternalSystem) -> dict[str, Any]:
    return {"enabled": system.enabled, "mapping": stored_mapping(system)}


def do_save_hook_settings(
    actor: Any,
    *,
    enabled: bool | None = None,
    mapping: Any = None,
) -> ExternalSystem:
    """Turn the hook on or off and/or replace its mapping (None leaves a setting as is).

    Raises MappingError for a mapping that cannot be used; nothing is saved then.
    """
    hook_system()
    cleaned = clean_mapping(mapping) if mapping is not None else None
    with transaction.atomic():
        system = ExternalSystem.objects.select_for_update().get(kind=SystemKind.TICKET_HOOK)
        before = _settings_state(system)
        if enabled is not None:
            system.enabled = enabled
        if cleaned is not None:
            system.config = {**(system.config or {}), "mapping": cleaned}
        after = _settings_state(system)
        if after == before:
            return system
        system.save(update_fields=["enabled", "config", "updated_at"])
        record_audit(actor, "pipeline.ticket_hook.updated", system, before=before, after=after)
        _announce()
    return system


def do_rotate_hook_secret(actor: Any) -> ExternalSystem:
    """A new secret: the old URL stops working at once."""
    hook_system()
    with transaction.atomic():
        system = ExternalSystem.objects.select_for_update().get(kind=SystemKind.TICKET_HOOK)
        system.hook_secret = new_hook_secret()
        system.save(update_fields=["hook_secret", "updated_at"])
        # The secret itself stays out of the audit trail: it is a credential.
        record_audit(actor, "pipeline.ticket_hook.secret_rotated", system)
        _announce()
    return system
