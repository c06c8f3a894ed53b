"""The contact search shared by the list page and the API."""

from __future__ import annotations

import contextlib
import re

from django.db.models import Q, QuerySet

from ispdesk.contacts.models import Contact
from ispdesk.lib.phones import PhoneError, normalize_phone

_NOT_DIGIT = re.compile(r"\D")
_DNI_LIKE = re.compile(r"^[0-9][0-9. ]*$")
# Fewer digits match too much of every phone to be a useful phone search.
MIN_PHONE_DIGITS = 3


def search_contacts(contacts: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """Contacts whose name contains `text`, whose phone contains its digits (`11 2233`
    finds +54 9 11 2233-4455), whose phone is the number it spells (`011 15 2233-4455`), or
    whose DNI starts with it (`12.345`)."""
    text = " ".join(text.replace("\x00", "").split())
    if not text:
        return contacts
    match = Q(name__icontains=text)
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) >= MIN_PHONE_DIGITS:
        match |= Q(phone__contains=digits)
        with contextlib.suppress(PhoneError):
            match |= Q(phone=normalize_phone(text, mobile=True))
    if _DNI_LIKE.match(text):
        match |= Q(dni__startswith=digits.lstrip("0") or digits)
    return contacts.filter(match)


def filter_area(contacts: QuerySet[Contact], area_id: int | None) -> QuerySet[Contact]:
    return contacts if area_id is None else contacts.filter(preferred_area_id=area_id)
