"""Contacts API: the searchable list, one contact, create/edit/delete, and file imports.

Every member of the team reads, creates and edits contacts; deleting and importing are for
supervisors and admins (403 for others, before any lookup or upload is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_supervisor
from ispdesk.api_errors import ApiError
from ispdesk.contacts.access import access_contact, area_by_id, contacts_for
from ispdesk.contacts.actions import (
    ContactError,
    ImportPlan,
    do_create_contact,
    do_delete_contact,
    do_import_contacts,
    do_update_contact,
    plan_import,
)
from ispdesk.contacts.filters import filter_area, search_contacts
from ispdesk.contacts.importing import MAX_IMPORT_BYTES, ImportFileError, parse_import
from ispdesk.contacts.models import Contact
from ispdesk.contacts.schemas import (
    ContactFilters,
    ContactIn,
    ContactOut,
    ContactPageOut,
    ContactPatchIn,
    ImportOut,
    ImportQuery,
)
from ispdesk.lib.phones import format_phone
from ispdesk.operators.models import Area

router = Router(tags=["contacts"])

CONFLICT_CODES = frozenset({"duplicate_phone", "contact_has_conversations"})
RAW_IMPORT_TYPES = ("text/csv", "application/csv", "application/json", "text/json")


@contextmanager
def _contact_errors() -> Iterator[None]:
    """An action's refusal: 409 when it clashes with what is stored, 422 for a bad value."""
    try:
        yield
    except ContactError as exc:
        status = 409 if exc.code in CONFLICT_CODES else 422
        raise ApiError(status, exc.code, exc.message, exc.fields or None) from None


def contact_out(contact: Contact) -> dict[str, Any]:
    area = contact.preferred_area
    return {
        "id": contact.pk,
        "name": contact.name,
        "phone": contact.phone,
        "phone_display": format_phone(contact.phone) if contact.phone else "",
        "wa_jid": contact.wa_jid,
        "lid": contact.lid,
        "dni": contact.dni,
        "preferred_area": {"id": area.pk, "name": area.name} if area is not None else None,
        "splynx_customer_id": contact.splynx_customer_id,
        "tags": list(contact.tags or []),
        "notes": contact.notes,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


def _area(area_id: int | None) -> Area | None:
    try:
        return area_by_id(area_id)
    except LookupError:
        message = _("Unknown area: %(id)s") % {"id": area_id}
        raise ApiError(
            422, "validation_error", message, {"preferred_area": _("unknown area")}
        ) from None


def _changes(payload: ContactIn | ContactPatchIn, exclude_unset: bool) -> dict[str, Any]:
    changes = payload.dict(exclude_unset=exclude_unset)
    if "name" in changes and changes["name"] is None:
        del changes["name"]  # a name cannot be cleared; null leaves it as is
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if "preferred_area" in changes:
        changes["preferred_area"] = _area(changes["preferred_area"])
    return changes


def _reload(contact: Contact) -> dict[str, Any]:
    return contact_out(Contact.objects.select_related("preferred_area").get(pk=contact.pk))


@router.get("", response=ContactPageOut)
def list_contacts(request: ApiRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    """Contacts by name; `search` matches the name, any run of the phone's digits or the
    start of the DNI."""
    contacts = filter_area(
        search_contacts(contacts_for(request.auth), filters.search), filters.area
    )
    count = contacts.count()
    page = contacts[filters.offset : filters.offset + filters.limit] if count else []
    return {"count": count, "results": [contact_out(contact) for contact in page]}


@router.get("/{int:contact_id}", response=ContactOut)
def get_contact(request: ApiRequest, contact_id: int) -> dict[str, Any]:
    return contact_out(access_contact(request.auth, contact_id))


@router.post("", response={201: ContactOut})
def create_contact(request: ApiRequest, payload: ContactIn) -> Status[dict[str, Any]]:
    with _contact_errors():
        contact = do_create_contact(request.auth, _changes(payload, exclude_unset=False))
    return Status(201, _reload(contact))


@router.patch("/{int:contact_id}", response=ContactOut)
def update_contact(request: ApiRequest, contact_id: int, payload: ContactPatchIn) -> dict:
    contact = access_contact(request.auth, contact_id)
    with _contact_errors():
        contact = do_update_contact(request.auth, contact, _changes(payload, exclude_unset=True))
    return _reload(contact)


@router.delete("/{int:contact_id}", response={204: None})
def delete_contact(request: ApiRequest, contact_id: int) -> Status[None]:
    api_require_supervisor(request.auth)
    contact = access_contact(request.auth, contact_id)
    with _contact_errors():
        do_delete_contact(request.auth, contact)
    return Status(204, None)


# Import


def _too_large() -> ApiError:
    message = _("The file is larger than %(size)s MB.") % {"size": MAX_IMPORT_BYTES // 2**20}
    return ApiError(413, "payload_too_large", message)


def _read_raw_body(request: HttpRequest) -> bytes:
    """The body, read from the stream: `request.body` refuses anything over Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB), below the 5 MB an import may have."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_IMPORT_BYTES:
        raise _too_large()
    try:
        data = request.read(MAX_IMPORT_BYTES + 1)
    except OSError:  # UnreadablePostError: the client hung up mid-body
        raise ApiError(400, "bad_request", _("The request body could not be read.")) from None
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_large()
    return data


def read_import_upload(request: HttpRequest) -> tuple[bytes, str]:
    """The uploaded file's bytes and a format hint (content type or file name): a
    multipart field `file`, or the raw body sent as CSV or JSON."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise ApiError(
                422,
                "validation_error",
                _("Send the file in the form field “file”."),
                {"file": _("required")},
            )
        if upload.size is not None and upload.size > MAX_IMPORT_BYTES:
            raise _too_large()
        data = upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise _too_large()
        return data, f"{upload.name or ''} {upload.content_type or ''}"
    if content_type in RAW_IMPORT_TYPES:
        return _read_raw_body(request), content_type
    raise ApiError(
        415,
        "unsupported_media_type",
        _(
            "Send a CSV or JSON file: the multipart field “file”, or a text/csv or "
            "application/json body."
        ),
    )


def import_out(plan: ImportPlan) -> dict[str, Any]:
    return {
        "dry_run": not plan.applied,
        "created": plan.counts["create"],
        "updated": plan.counts["update"],
        "unchanged": plan.counts["unchanged"],
        "invalid": plan.counts["invalid"],
        "errors": [{"row": p.row.row, "reason": p.reason} for p in plan.errors],
        "rows": [
            {
                "row": p.row.row,
                "outcome": p.outcome,
                "name": p.row.name,
                "phone": p.row.phone,
                "dni": p.row.dni,
                "area": p.row.area,
                "contact_id": p.contact_id,
                "changes": list(p.changes),
                "reason": p.reason,
            }
            for p in plan.rows
        ],
    }


@router.post("/import", response=ImportOut)
def import_contacts(request: ApiRequest, query: Query[ImportQuery]) -> dict[str, Any]:
    """Create or update contacts from a CSV or JSON file, matched by phone. With
    `dry_run=true`, only say what would happen per row."""
    api_require_supervisor(request.auth)
    data, hint = read_import_upload(request)
    try:
        rows = parse_import(data, Area.objects.values_list("name", flat=True), hint)
    except ImportFileError as exc:
        raise ApiError(422, "invalid_file", exc.message, {"file": exc.message}) from None
    plan = plan_import(rows)
    if not query.dry_run:
        plan = do_import_contacts(request.auth, plan)
    return import_out(plan)
