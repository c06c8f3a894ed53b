"""Contact pages: the searchable list (live search swaps the results), the edit form,
deletion with confirmation, and the import (upload → preview → confirm).

Between preview and confirm the uploaded file waits in the session, under a token the
preview form carries: confirming applies exactly the file that was previewed, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, supervisor_required
from ispdesk.contacts.access import (
    access_contact,
    access_contact_to_delete,
    can_manage_contacts,
    contacts_for,
)
from ispdesk.contacts.actions import (
    ContactError,
    ImportPlan,
    PlannedRow,
    do_create_contact,
    do_delete_contact,
    do_import_contacts,
    do_update_contact,
    plan_import,
)
from ispdesk.contacts.filters import filter_area, search_contacts
from ispdesk.contacts.forms import ContactForm, ImportForm, add_contact_error
from ispdesk.contacts.importing import ImportFileError, parse_import
from ispdesk.contacts.models import Contact
from ispdesk.lib.dni import format_dni
from ispdesk.lib.htmx import render_page_or_fragment
from ispdesk.lib.numbers import ascii_int
from ispdesk.lib.parked_uploads import drop_upload, park_upload, take_upload
from ispdesk.lib.phones import format_phone
from ispdesk.operators.models import Area

PAGE_SIZE = 50
PREVIEW_ROWS = 1000  # rows shown in the preview table; the counts cover the whole file
IMPORT_SESSION_KEY = "contacts_import"
CONTACTS_CONTEXT = {"contacts_page": True}  # marks "Contacts" as current in the navigation


def _render(
    request: AuthenticatedRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {**CONTACTS_CONTEXT, **context}, status=status)


# The list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    phone: str  # readable, e.g. "+54 9 11 2233-4455"
    dni: str  # "12.345.678"


def _area_filter(raw: str | None) -> int | None:
    return ascii_int(raw, max_digits=9)


@login_required
def contacts(request: AuthenticatedRequest) -> HttpResponse:
    """Contacts by name; for HTMX requests (the live search) only the results."""
    query = request.GET.get("q", "")[:200]
    area_id = _area_filter(request.GET.get("area"))
    found = filter_area(search_contacts(contacts_for(request.user), query), area_id)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        ContactRow(
            contact,
            format_phone(contact.phone) if contact.phone else "",
            format_dni(contact.dni) if contact.dni else "",
        )
        for contact in page.object_list
    ]
    params = {name: value for name, value in (("q", query), ("area", area_id)) if value}
    context = {
        **CONTACTS_CONTEXT,
        "rows": rows,
        "page": page,
        "q": query,
        "area_id": area_id,
        "areas": Area.objects.order_by("name"),
        "query": urlencode(params),
        "can_manage": can_manage_contacts(request.user),
    }
    return render_page_or_fragment(
        request, "contacts/contacts.html", "contacts/_contact_results.html", context
    )


# Create and edit -----------------------------------------------------------------------------


def _form(request: AuthenticatedRequest, contact: Contact | None) -> ContactForm:
    areas = Area.objects.order_by("name")
    return ContactForm(request.POST or None, contact=contact, areas=areas)


def _form_page(
    request: AuthenticatedRequest, form: ContactForm, contact: Contact | None
) -> HttpResponse:
    context = {"form": form, "edited": contact, "can_manage": can_manage_contacts(request.user)}
    return _render(request, "contacts/contact_form.html", context, 422 if form.errors else 200)


@login_required
def contact_create(request: AuthenticatedRequest) -> HttpResponse:
    form = _form(request, None)
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, None)
    try:
        contact = do_create_contact(request.user, form.changes())
    except ContactError as exc:
        add_contact_error(form, exc)
        return _form_page(request, form, None)
    messages.success(request, _("Contact %(name)s created.") % {"name": contact.name})
    return redirect("contacts")


@login_required
def contact_edit(request: AuthenticatedRequest, contact_id: int) -> HttpResponse:
    contact = access_contact(request.user, contact_id)
    form = _form(request, contact)
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, contact)
    try:
        contact = do_update_contact(request.user, contact, form.changes())
    except ContactError as exc:
        add_contact_error(form, exc)
        return _form_page(request, form, contact)
    messages.success(request, _("Contact %(name)s saved.") % {"name": contact.name})
    return redirect("contacts")


@supervisor_required
def contact_delete(request: AuthenticatedRequest, contact_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    contact = access_contact_to_delete(request.user, contact_id)
    if request.method != "POST":
        phone = format_phone(contact.phone) if contact.phone else ""
        return _render(request, "contacts/contact_delete.html", {"edited": contact, "phone": phone})
    try:
        do_delete_contact(request.user, contact)
    except ContactError as exc:
        messages.error(request, exc.message)
        return redirect("contact_edit", contact_id=contact.pk)
    messages.success(request, _("Contact %(name)s deleted.") % {"name": contact.name})
    return redirect("contacts")


# Import --------------------------------------------------------------------------------------


CHANGE_LABELS = {
    "name": gettext_lazy("name"),
    "dni": gettext_lazy("DNI"),
    "preferred_area": gettext_lazy("preferred area"),
}


@dataclass(frozen=True)
class ShownRow:
    planned: PlannedRow
    phone: str  # readable when valid, as written when not
    changes: str  # "name, DNI"


def _shown(planned: PlannedRow) -> ShownRow:
    row = planned.row
    phone = format_phone(row.phone) if row.valid and row.phone else row.phone
    changes = ", ".join(str(CHANGE_LABELS.get(name, name)) for name in planned.changes)
    return ShownRow(planned, phone, changes)


def _import_page(
    request: AuthenticatedRequest,
    form: ImportForm | None = None,
    plan: ImportPlan | None = None,
    token: str = "",
    file_name: str = "",
    status: int = 200,
) -> HttpResponse:
    shown = [_shown(planned) for planned in plan.rows[:PREVIEW_ROWS]] if plan is not None else []
    context = {
        "form": form or ImportForm(),
        "plan": plan,
        "shown": shown,
        "hidden_rows": len(plan.rows) - len(shown) if plan is not None else 0,
        "token": token,
        "file_name": file_name,
    }
    return _render(request, "contacts/import.html", context, status)


def _parse(data: bytes, hint: str) -> ImportPlan:
    return plan_import(parse_import(data, Area.objects.values_list("name", flat=True), hint))


def _preview(request: AuthenticatedRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, form, status=422)
    upload = form.cleaned_data["file"]
    data = upload.read()
    hint = f"{upload.name or ''} {upload.content_type or ''}"
    try:
        plan = _parse(data, hint)
    except ImportFileError as exc:
        form.add_error("file", exc.message)
        return _import_page(request, form, status=422)
    token = park_upload(
        request.session, IMPORT_SESSION_KEY, data, name=upload.name or "", hint=hint
    )
    return _import_page(request, plan=plan, token=token, file_name=upload.name or "")


def _confirm(request: AuthenticatedRequest) -> HttpResponse:
    pending = take_upload(request.session, IMPORT_SESSION_KEY, request.POST.get("token", ""))
    if pending is None:
        messages.error(request, _("That preview is no longer available; upload the file again."))
        return redirect("contact_import")
    try:
        plan = _parse(pending.data, pending.hint)
    except ImportFileError as exc:  # not after a good preview; kept as a safety net
        messages.error(request, exc.message)
        return redirect("contact_import")
    result = do_import_contacts(request.user, plan)
    counts = result.counts
    messages.success(
        request,
        _(
            "Import done. Created: %(create)s; updated: %(update)s; unchanged: %(unchanged)s; "
            "invalid: %(invalid)s."
        )
        % counts,
    )
    return _import_page(request, plan=result, file_name=pending.name)


@supervisor_required
def contact_import(request: AuthenticatedRequest) -> HttpResponse:
    """Upload a file to preview what happens per row; confirm to apply it."""
    if request.method != "POST":
        return _import_page(request)
    if "token" in request.POST:
        return _confirm(request)
    return _preview(request)


@supervisor_required
@require_POST
def contact_import_cancel(request: AuthenticatedRequest) -> HttpResponse:
    drop_upload(request.session, IMPORT_SESSION_KEY)
    return redirect("contact_import")
