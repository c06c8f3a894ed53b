"""Fetching contacts for a user: lookup and permission together, 404 otherwise.

Every member of the team handles customers, so any active staff user may see and edit any
contact; deleting and importing are for supervisors and admins.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from ispdesk.contacts.models import Contact
from ispdesk.operators.models import Area


def can_work_contacts(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False))


def can_manage_contacts(actor: Any) -> bool:
    """Delete and import: what can lose or rewrite many customers' data at once."""
    return bool(getattr(actor, "is_supervisor_or_admin", False))


def contacts_for(actor: Any) -> QuerySet[Contact]:
    if not can_work_contacts(actor):
        return Contact.objects.none()
    return Contact.objects.select_related("preferred_area")


def access_contact(actor: Any, contact_id: int) -> Contact:
    try:
        return contacts_for(actor).get(pk=contact_id)
    except Contact.DoesNotExist:
        raise Http404 from None


def access_contact_to_delete(actor: Any, contact_id: int) -> Contact:
    if not can_manage_contacts(actor):
        raise Http404
    return access_contact(actor, contact_id)


def area_by_id(area_id: int | None) -> Area | None:
    """The area a request body names; None for None. Raises LookupError when unknown."""
    if area_id is None:
        return None
    area = Area.objects.filter(pk=area_id).first()
    if area is None:
        raise LookupError(area_id)
    return area
