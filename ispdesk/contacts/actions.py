"""State changes on contacts: create, edit, delete, import a file, and the contact behind an
incoming WhatsApp message."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ispdesk.contacts.importing import ImportRow
from ispdesk.contacts.models import Contact
from ispdesk.lib.atomic import guarded
from ispdesk.lib.bulk import insert
from ispdesk.lib.dni import DniError, normalize_dni
from ispdesk.lib.memo import forget, in_memo_scope, remember, remembered
from ispdesk.lib.phones import PhoneError, format_phone, normalize_phone
from ispdesk.lib.rawsql import in_chunks, insert_row
from ispdesk.operators.models import Area
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import audit_event, record_audit

logger = logging.getLogger(__name__)

# Every member of the team works with contacts.
CONTACT_GROUPS = ("role.admin", "role.supervisor", "role.operator")
# The stored name of a WhatsApp contact without a profile name. Stored in Spanish whatever
# the UI language: it is data the team reads and edits, not interface text.
UNKNOWN_NAME = "Desconocido"
MAX_NAME_LENGTH = 200
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_NOTES_LENGTH = 5000
MAX_SPLYNX_ID = 2**31 - 1
EDITABLE_FIELDS = ("name", "phone", "dni", "preferred_area", "splynx_customer_id", "tags", "notes")


class ContactError(ValueError):
    """A refused change: `code` is stable, `fields` names the bad values."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


def contact_snapshot(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "phone": contact.phone,
        "wa_jid": contact.wa_jid,
        "lid": contact.lid,
        "dni": contact.dni,
        "preferred_area": contact.preferred_area_id,
        "splynx_customer_id": contact.splynx_customer_id,
        "tags": list(contact.tags or []),
        "notes": contact.notes,
    }


def _send_update(contact_id: int, deleted: bool = False) -> None:
    event: dict[str, Any] = {"type": "contact:update", "contact": contact_id}
    if deleted:
        event["deleted"] = True
    send_event_on_commit(CONTACT_GROUPS, event)


# Cleaning values -----------------------------------------------------------------------------


def _no_nul(value: str, field_name: str, errors: dict[str, str]) -> str:
    # PostgreSQL cannot store NUL in text; refuse it as a bad value, not a 500.
    if "\x00" in value:
        errors[field_name] = _("must not contain NUL characters")
    return value


def clean_phone(raw: str | None) -> str | None:
    """E.164, or None for no phone; ContactError naming `phone` when it is not a number."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_phone(raw, mobile=True)
    except PhoneError as exc:
        raise ContactError(
            "validation_error",
            _("Invalid phone: %(reason)s") % {"reason": exc.reason},
            {"phone": exc.reason},
        ) from None


def clean_tags(values: Iterable[str]) -> list[str]:
    """Trimmed, without empties or repeats (case-insensitively), in the order given."""
    tags: dict[str, str] = {}
    for value in values:
        tag = " ".join(str(value).split())
        if tag:
            tags.setdefault(tag.casefold(), tag)
    return list(tags.values())


def clean_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise editable values; one ContactError naming every bad field."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if "name" in changes:
        name = " ".join(_no_nul(str(changes["name"] or ""), "name", errors).split())
        if not name:
            errors["name"] = _("a name is required")
        elif len(name) > MAX_NAME_LENGTH:
            errors["name"] = _("at most %(max)s characters") % {"max": MAX_NAME_LENGTH}
        cleaned["name"] = name
    if "phone" in changes:
        try:
            cleaned["phone"] = clean_phone(changes["phone"])
        except ContactError as exc:
            errors.update(exc.fields)
    if "dni" in changes:
        raw = (changes["dni"] or "").strip()
        try:
            cleaned["dni"] = normalize_dni(raw) if raw else ""
        except DniError as exc:
            errors["dni"] = exc.reason
    if "preferred_area" in changes:
        area = changes["preferred_area"]
        if area is not None and not isinstance(area, Area):
            raise TypeError("preferred_area must be an Area or None")
        cleaned["preferred_area"] = area
    if "splynx_customer_id" in changes:
        value = changes["splynx_customer_id"]
        if value is not None and not (isinstance(value, int) and 1 <= value <= MAX_SPLYNX_ID):
            errors["splynx_customer_id"] = _("a positive whole number")
        cleaned["splynx_customer_id"] = value
    if "tags" in changes:
        tags = clean_tags(changes["tags"] or [])
        for tag in tags:
            _no_nul(tag, "tags", errors)
        if len(tags) > MAX_TAGS:
            errors["tags"] = _("at most %(max)s tags") % {"max": MAX_TAGS}
        elif any(len(tag) > MAX_TAG_LENGTH for tag in tags):
            errors["tags"] = _("a tag has at most %(max)s characters") % {"max": MAX_TAG_LENGTH}
        cleaned["tags"] = tags
    if "notes" in changes:
        notes = _no_nul(str(changes["notes"] or "").strip(), "notes", errors)
        if len(notes) > MAX_NOTES_LENGTH:
            errors["notes"] = _("at most %(max)s characters") % {"max": MAX_NOTES_LENGTH}
        cleaned["notes"] = notes
    if errors:
        names = ", ".join(errors)
        raise ContactError(
            "validation_error", _("Invalid value for: %(fields)s") % {"fields": names}, errors
        )
    return cleaned


def _duplicate_phone(phone: str, exclude_pk: int | None = None) -> ContactError | None:
    clash = Contact.objects.filter(phone=phone)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    owner = clash.first()
    if owner is None:
        return None
    message = _("The phone %(phone)s already belongs to %(name)s (contact #%(id)s).") % {
        "phone": format_phone(phone),
        "name": owner.name,
        "id": owner.pk,
    }
    return ContactError("duplicate_phone", message, {"phone": message})


def _save(contact: Contact, **kwargs: Any) -> None:
    """Save in a savepoint; a phone taken meanwhile by someone else is a duplicate_phone."""
    try:
        with transaction.atomic():
            contact.save(**kwargs)
    except IntegrityError:
        clash = _duplicate_phone(contact.phone, contact.pk) if contact.phone else None
        if clash is None:
            raise
        raise clash from None


# Create, edit, delete -----------------------------------------------------------------------


def do_create_contact(actor: Any, changes: Mapping[str, Any]) -> Contact:
    cleaned = clean_changes({"name": "", **changes})
    contact = Contact(**cleaned)
    if contact.phone and (clash := _duplicate_phone(contact.phone)):
        raise clash
    with transaction.atomic():
        _save(contact)
        record_audit(actor, "contact.created", contact, after=contact_snapshot(contact))
        _send_update(contact.pk)
    return contact


def do_update_contact(actor: Any, contact: Contact, changes: Mapping[str, Any]) -> Contact:
    """Apply the changes; a change to nothing saves nothing and writes no audit event."""
    cleaned = clean_changes(changes)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        before = contact_snapshot(contact)
        for name, value in cleaned.items():
            setattr(contact, name, value)
        after = contact_snapshot(contact)
        if after == before:
            return contact
        phone = contact.phone
        if phone and phone != before["phone"] and (clash := _duplicate_phone(phone, contact.pk)):
            raise clash
        _save(contact)
        record_audit(actor, "contact.updated", contact, before=before, after=after)
        _send_update(contact.pk)
    return contact


def do_delete_contact(actor: Any, contact: Contact) -> None:
    """Delete a contact without conversations; one with history is refused (deleting it
    would delete its conversations too)."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if Contact.objects.filter(pk=contact.pk, conversations__isnull=False).exists():
            raise ContactError(
                "contact_has_conversations",
                _("%(name)s has conversations; a contact with history cannot be deleted.")
                % {"name": contact.name},
            )
        contact_id = contact.pk
        record_audit(actor, "contact.deleted", contact, before=contact_snapshot(contact))
        contact.delete()
        _send_update(contact_id, deleted=True)


# Import -------------------------------------------------------------------------------------

Outcome = Literal["create", "update", "unchanged", "invalid"]
OUTCOMES: tuple[Outcome, ...] = ("create", "update", "unchanged", "invalid")


@dataclass(frozen=True)
class PlannedRow:
    """What happens (or happened) to one row of the file."""

    row: ImportRow
    outcome: Outcome
    contact_id: int | None = None
    # For updates: the stored name before, and which fields change (`name`, `dni`,
    # `preferred_area`).
    current_name: str = ""
    changes: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class ImportPlan:
    rows: tuple[PlannedRow, ...]
    applied: bool = False
    counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        counts = dict.fromkeys(OUTCOMES, 0)
        for planned in self.rows:
            counts[planned.outcome] += 1
        object.__setattr__(self, "counts", counts)

    @property
    def errors(self) -> list[PlannedRow]:
        return [planned for planned in self.rows if planned.outcome == "invalid"]


def _area_ids() -> dict[str, int]:
    return dict(Area.objects.values_list("name", "pk"))


def _row_changes(row: ImportRow, contact: Contact, areas: Mapping[str, int]) -> dict[str, Any]:
    """The stored values the row would change; empty DNI/area cells change nothing."""
    changes: dict[str, Any] = {}
    if contact.name != row.name:
        changes["name"] = row.name
    if row.dni and contact.dni != row.dni:
        changes["dni"] = row.dni
    if row.area and contact.preferred_area_id != areas[row.area]:
        changes["preferred_area_id"] = areas[row.area]
    return changes


def _change_names(changes: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple("preferred_area" if name == "preferred_area_id" else name for name in changes)


def _invalid(row: ImportRow, reason: str) -> PlannedRow:
    return PlannedRow(row, "invalid", reason=reason)


def _contacts_by_phone(phones: Sequence[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    for chunk in in_chunks(phones):
        found.update((c.phone, c) for c in Contact.objects.filter(phone__in=chunk) if c.phone)
    return found


def plan_import(rows: Sequence[ImportRow]) -> ImportPlan:
    """What importing the rows would do now, per row, without changing anything."""
    areas = _area_ids()
    existing = _contacts_by_phone([row.phone for row in rows if row.valid])
    planned = []
    for row in rows:
        if not row.valid:
            planned.append(_invalid(row, row.reason))
        elif row.area and row.area not in areas:
            planned.append(_invalid(row, _("unknown area “%(area)s”") % {"area": row.area}))
        elif (contact := existing.get(row.phone)) is None:
            planned.append(PlannedRow(row, "create"))
        elif changes := _row_changes(row, contact, areas):
            planned.append(
                PlannedRow(row, "update", contact.pk, contact.name, _change_names(changes))
            )
        else:
            planned.append(PlannedRow(row, "unchanged", contact.pk, contact.name))
    return ImportPlan(tuple(planned))


def _apply_row(actor: Any, row: ImportRow, areas: Mapping[str, int]) -> PlannedRow:
    """Create or update one row's contact, deciding on the row as stored now (the plan may
    be minutes old). Runs inside the caller's savepoint."""
    contact = Contact.objects.select_for_update().filter(phone=row.phone).first()
    if contact is None:
        contact = Contact(name=row.name, phone=row.phone, dni=row.dni)
        if row.area:
            contact.preferred_area_id = areas[row.area]
        contact.save()
        record_audit(actor, "contact.created", contact, after=contact_snapshot(contact))
        return PlannedRow(row, "create", contact.pk)
    changes = _row_changes(row, contact, areas)
    if not changes:
        return PlannedRow(row, "unchanged", contact.pk, contact.name)
    before = contact_snapshot(contact)
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*changes, "updated_at"])
    record_audit(actor, "contact.updated", contact, before=before, after=contact_snapshot(contact))
    return PlannedRow(row, "update", contact.pk, before["name"], _change_names(changes))


def do_import_contacts(actor: Any, plan: ImportPlan) -> ImportPlan:
    """Apply a plan's valid rows: each in its own savepoint, so a row is saved whole or not
    at all and one failure never undoes the others. Re-importing the same file saves
    nothing. Returns what happened per row."""
    areas = _area_ids()
    done: list[PlannedRow] = []
    for planned in plan.rows:
        row = planned.row
        if not row.valid:
            done.append(_invalid(row, row.reason))
            continue
        if row.area and row.area not in areas:
            done.append(_invalid(row, _("unknown area “%(area)s”") % {"area": row.area}))
            continue
        for attempt in range(2):
            try:
                with transaction.atomic():
                    done.append(_apply_row(actor, row, areas))
                break
            except IntegrityError:
                # Someone created this phone between our lookup and insert: once more,
                # as an update of their row.
                if attempt:
                    logger.exception("import row %s could not be saved", row.row)
                    done.append(_invalid(row, _("could not be saved; try again")))
    result = ImportPlan(tuple(done), applied=True)
    if result.counts["create"] or result.counts["update"]:
        record_audit(
            actor,
            "contact.imported",
            object_type=Contact._meta.label_lower,
            object_repr=_("Contacts import"),
            after=result.counts,
        )
        send_event_on_commit(CONTACT_GROUPS, {"type": "contact:import", **result.counts})
    return result


# WhatsApp -----------------------------------------------------------------------------------

_DIGITS = re.compile(r"\D")


def _whatsapp_phone(raw: str | None) -> str | None:
    """E.164 of the number a gateway reported; the bare digits as E.164 when our rules
    cannot place it (a message must never be lost over a number we cannot format)."""
    if not raw or not raw.strip():
        return None
    try:
        return normalize_phone(raw, mobile=True)
    except PhoneError:
        digits = _DIGITS.sub("", raw.split("@", 1)[0])
        return f"+{digits}" if 8 <= len(digits) <= 15 else None


def _profile_name(profile_name: str) -> str:
    name = " ".join((profile_name or "").replace("\x00", "").split())
    return name[:MAX_NAME_LENGTH] or UNKNOWN_NAME


# Inside a `memo_scope` (a hand-over batch) contacts are looked up once per phone and alias,
# all of a batch's at once (`prefetch_whatsapp_contacts`), and the batch's own writes noted.
def _phone_key(phone: str) -> tuple[str, str]:
    return ("whatsapp_contact.phone", phone)


def _lid_key(lid: str) -> tuple[str, str]:
    return ("whatsapp_contact.lid", lid)


def _find_for_whatsapp(phone: str | None, lid: str | None) -> Contact | None:
    if phone is not None and (
        found := remembered(_phone_key(phone), lambda: Contact.objects.filter(phone=phone).first())
    ):
        return found
    if lid is not None:
        return remembered(_lid_key(lid), lambda: Contact.objects.filter(lid=lid).first())
    return None


def _note_contact(contact: Contact) -> None:
    if contact.phone:
        remember(_phone_key(contact.phone), contact)
    if contact.lid:
        remember(_lid_key(contact.lid), contact)


def _forget_contact(phone: str | None, lid: str | None) -> None:
    """A write of ours clashed with another's: look these up again."""
    if phone is not None:
        forget(_phone_key(phone))
    if lid is not None:
        forget(_lid_key(lid))


def prefetch_whatsapp_contacts(senders: Iterable[tuple[str, str]]) -> list[Contact]:
    """Inside a memo scope, read the contacts of many (phone, @lid) senders in one query;
    returns those found."""
    if not in_memo_scope():
        return []
    phones: set[str] = set()
    lids: set[str] = set()
    for raw_phone, raw_lid in senders:
        if phone := _whatsapp_phone(raw_phone):
            phones.add(phone)
        if lid := (raw_lid or "").strip():
            lids.add(lid)
    if not phones and not lids:
        return []
    found = list(Contact.objects.filter(Q(phone__in=phones) | Q(lid__in=lids)))
    by_phone = {contact.phone: contact for contact in found if contact.phone}
    by_lid = {contact.lid: contact for contact in found if contact.lid}
    for phone in phones:
        remember(_phone_key(phone), by_phone.get(phone))
    for lid in lids:
        remember(_lid_key(lid), by_lid.get(lid))
    return found


def _phone_taken(phone: str) -> bool:
    return Contact.objects.filter(phone=phone).exists()


def _record_aliases(
    contact: Contact, phone: str | None, lid: str | None, jid: str, name: str
) -> Contact:
    """Store the ids WhatsApp told us that the contact lacks, when no one else holds them."""
    changed: list[str] = []
    if phone is not None and contact.phone is None and not _phone_taken(phone):
        contact.phone = phone
        changed.append("phone")
    if lid is not None and contact.lid != lid and not Contact.objects.filter(lid=lid).exists():
        contact.lid = lid
        changed.append("lid")
    if jid and contact.wa_jid != jid:
        contact.wa_jid = jid
        changed.append("wa_jid")
    if contact.name == UNKNOWN_NAME and name != UNKNOWN_NAME:
        contact.name = name
        changed.append("name")
    if not changed:
        return contact
    try:
        with guarded():
            contact.save(update_fields=[*changed, "updated_at"])
            record_audit(None, "contact.aliases_updated", contact, after=contact_snapshot(contact))
            _send_update(contact.pk)
    except IntegrityError:
        # A simultaneous message stored the same alias on another contact first; the alias
        # is recorded there, and this message still belongs to this contact.
        contact.refresh_from_db()
        _forget_contact(phone, lid)
    _note_contact(contact)
    return contact


def find_or_create_contact_for_whatsapp(
    phone: str | None, lid: str | None, jid: str, profile_name: str
) -> tuple[Contact, bool]:
    """The contact an incoming message belongs to, and whether it was created now.

    Looks up by phone, then by `@lid` alias; records the aliases as they become known.
    Safe when two first messages from one new number arrive together (exactly one contact
    results) and inside an outer transaction: the insert runs in a savepoint, and a unique
    clash means the other request won, so its row is fetched.
    """
    phone = _whatsapp_phone(phone)
    lid = (lid or "").strip() or None
    jid = (jid or "").strip()
    if phone is None and lid is None:
        raise ValueError("a WhatsApp contact needs a phone number or an @lid alias")
    name = _profile_name(profile_name)
    for _attempt in range(3):
        found = _find_for_whatsapp(phone, lid)
        if found is not None:
            return _record_aliases(found, phone, lid, jid, name), False
        contact = Contact(name=name, phone=phone, lid=lid, wa_jid=jid)
        try:
            with guarded():
                insert_row(contact)  # hand-written (`lib.rawsql`): once per new customer
                # With the batch's other rows when inside a hand-over batch (`lib.bulk`). No
                # `contact:update`: the new customer reaches every screen with their chat's
                # `conversation:incoming` (it was one event per staff member and new customer).
                insert(
                    audit_event(None, "contact.created", contact, after=contact_snapshot(contact))
                )
        except IntegrityError:
            _forget_contact(phone, lid)
            continue
        _note_contact(contact)
        return contact, True
    raise RuntimeError(f"no contact for phone {phone} / lid {lid} after three attempts")
