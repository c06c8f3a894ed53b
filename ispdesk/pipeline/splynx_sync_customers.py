"""What the Splynx sync looks up: which Splynx customer a ticket belongs to, customers and
administrators fetched in batches, operators by administrator, Splynx's local times, and
failures in words; and the sync's bookkeeping on a ticket (`mark_synced`).

The order of evidence, strongest first: a Splynx customer id the ticket already has; the
Gestión Real client number as the Splynx login (`config["customer_match"]`: `login`, the
default, or `none`); the DNI the contact gave us, when the installation says which Splynx
attribute holds it (`config["dni_attribute"]`); the customer's phone. A phone shared by
several customers matches nobody: guessing would file the ticket under a stranger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.contacts.models import Contact
from ispdesk.integrations.splynx.client import CUSTOMERS, SplynxClient
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.integrations.splynx.records import Customer
from ispdesk.integrations.splynx.search import Condition
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.operators.models import Operator
from ispdesk.tickets.models import Ticket

MATCH_MODES = ("login", "none")
# Ids per `IN (...)` list call: keeps the query string well under common URL limits.
BATCH = 100
ERROR_MAX = 500

logger = logging.getLogger("ispdesk.pipeline.splynx")


@dataclass(frozen=True)
class CustomerMatch:
    customer: Customer | None
    # stored | login | dni | contact | phone, or "" when nobody matched.
    how: str = ""
    # Why nobody matched (or why the match is doubtful), in words for the ticket history.
    note: str = ""


def _contact_for(ticket: Ticket) -> Contact | None:
    if not ticket.customer_phone:
        return None
    try:
        phone = normalize_phone(ticket.customer_phone, mobile=True)
    except PhoneError:
        return None
    return Contact.objects.filter(phone=phone).first()


def _by_id(client: SplynxClient, customer_id: int) -> Customer | None:
    try:
        return client.get_customer(customer_id)
    except SplynxError as exc:
        if exc.status == 404:
            return None
        raise


def _by_dni(client: SplynxClient, attribute: str, dni: str) -> list[Customer]:
    # DNIs live in an installation-specific additional attribute, not a standard field.
    rows = client.list_all(
        CUSTOMERS,
        [Condition(attribute, "=", dni, scope="additional_attributes")],
        what="customer search",
    )
    return [Customer.from_api(row) for row in rows]


def match_customer(
    client: SplynxClient, ticket: Ticket, config: Mapping[str, Any]
) -> CustomerMatch:
    """The ticket's Splynx customer (raises SplynxError when Splynx cannot be asked)."""
    if ticket.customer_splynx_id:
        found = _by_id(client, ticket.customer_splynx_id)
        if found is not None:
            return CustomerMatch(found, "stored")
    tried: list[str] = []
    mode = config.get("customer_match") or "login"
    if mode == "login" and ticket.customer_external_id:
        found = client.customer_by_login(ticket.customer_external_id)
        if found is not None:
            return CustomerMatch(found, "login")
        tried.append(_("login %(login)s") % {"login": ticket.customer_external_id})
    contact = _contact_for(ticket)
    attribute = str(config.get("dni_attribute") or "").strip()
    if contact is not None and contact.dni and attribute:
        matches = _by_dni(client, attribute, contact.dni)
        if len(matches) == 1:
            return CustomerMatch(matches[0], "dni")
        tried.append(_("DNI %(dni)s") % {"dni": contact.dni})
    if contact is not None and contact.splynx_customer_id:
        found = _by_id(client, contact.splynx_customer_id)
        if found is not None:
            return CustomerMatch(found, "contact")
    if ticket.customer_phone:
        matches = client.customers_by_phone(ticket.customer_phone)
        if len(matches) == 1:
            return CustomerMatch(matches[0], "phone")
        if len(matches) > 1:
            ids = ", ".join(str(customer.id) for customer in matches[:5])
            return CustomerMatch(
                None,
                note=_("Splynx customer not chosen: customers %(ids)s share the phone %(phone)s.")
                % {"ids": ids, "phone": ticket.customer_phone},
            )
        tried.append(_("phone %(phone)s") % {"phone": ticket.customer_phone})
    if not tried:
        return CustomerMatch(
            None, note=_("Splynx customer not found: the ticket names no customer.")
        )
    return CustomerMatch(
        None,
        note=_("Splynx customer not found by %(tried)s.") % {"tried": ", ".join(tried)},
    )


def customers_by_ids(client: SplynxClient, ids: Iterable[int]) -> dict[int, Customer]:
    """Customers by id, a page of ids per call instead of one call per customer."""
    wanted = sorted({number for number in ids if number})
    found: dict[int, Customer] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        rows = client.list_all(CUSTOMERS, [Condition("id", "IN", chunk)], what="customers")
        for row in rows:
            customer = Customer.from_api(row)
            found[customer.id] = customer
    return found


def splynx_zone(config: Mapping[str, Any]) -> ZoneInfo:
    """The Splynx server's time zone: its dates come and go as naive local times."""
    try:
        return ZoneInfo(str(config.get("time_zone") or settings.TIME_ZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def to_splynx_time(moment: datetime, config: Mapping[str, Any]) -> datetime:
    return timezone.localtime(moment, splynx_zone(config)).replace(tzinfo=None)


def from_splynx_time(naive: datetime, config: Mapping[str, Any]) -> datetime:
    return naive.replace(tzinfo=splynx_zone(config))


def error_words(exc: SplynxError) -> str:
    """The ticket page's explanation: our words for the kind of failure, then the client's
    own detail (which never holds a secret)."""
    words = {
        "credentials": _("Splynx rejected the credentials."),
        "permission": _("The Splynx credentials lack a permission."),
        "connect": _("Cannot connect to Splynx."),
        "timeout": _("Splynx did not answer in time."),
        "rate_limited": _("Splynx is limiting requests."),
        "server": _("Splynx failed."),
        "not_found": _("Splynx does not know this ticket or customer."),
        "refused": _("Splynx refused the change."),
        "unexpected": _("Splynx sent an unexpected answer."),
    }
    prefix = words.get(exc.reason, _("Splynx sync failed."))
    if exc.message.startswith(prefix):
        return exc.message[:ERROR_MAX]  # the detail already says it
    return f"{prefix} {exc.message}"[:ERROR_MAX]


# The step of the sync an error is about (`Ticket.splynx_error_step`): a create, the first
# message, `assign_to`, or the ticket's closed/open state.
CREATE, MESSAGE, ASSIGN, STATE = "create", "message", "assign", "state"


def clears_error(step: str, stored_step: str) -> bool:
    """Whether success at `step` clears the ticket's stored error: one of its own step, or
    one stored before steps were recorded. Any other step's error still stands."""
    return stored_step in (step, "")


def mark_synced(
    ticket: Ticket, now: datetime, step: str, *, stamp: bool = True, **fields: Any
) -> None:
    """Inside the caller's transaction, on the locked `ticket`: Splynx agrees as of `now`
    (the stamp never goes back: it tells which closes and reopenings have been sent), and
    this step's error, if one is stored, is over. `fields` are written with it."""
    if stamp and (ticket.splynx_synced_at is None or ticket.splynx_synced_at < now):
        fields["splynx_synced_at"] = now
    if ticket.splynx_error and clears_error(step, ticket.splynx_error_step):
        fields.update(splynx_error="", splynx_error_step="")
    if fields:
        Ticket.objects.filter(pk=ticket.pk).update(**fields)


class AdministratorNames:
    """Splynx administrators' names, fetched once per run and only if needed."""

    def __init__(self, client: SplynxClient) -> None:
        self.client = client
        self.names: dict[int, str] | None = None

    def name(self, admin_id: int) -> str:
        if self.names is None:
            try:
                self.names = {a.id: a.name for a in self.client.administrators()}
            except SplynxError as exc:
                logger.info("Splynx administrators unavailable: %s", exc.message)
                self.names = {}
        return self.names.get(admin_id) or _("administrator %(id)s") % {"id": admin_id}


def operators_by_person(person_ids: set[int]) -> dict[int, Operator]:
    wanted = [number for number in person_ids if number]
    found = Operator.objects.filter(person_id__in=wanted, active=True, user__is_active=True)
    return {op.person_id: op for op in found.select_related("user") if op.person_id}
