"""Fetching team objects for a user: lookup and permission together, 404 otherwise.

Ids named in a request body are resolved here too; an unknown one is a bad value in that
body (a TeamChangeError naming the field), not a missing page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.http import Http404
from django.utils.translation import gettext as _

from ispdesk.accounts.models import User
from ispdesk.operators.actions import TeamChangeError
from ispdesk.operators.models import Area, CalendarException, Operator, Schedule, ShiftTag

M = TypeVar("M", bound=models.Model)


def _is_admin(actor: Any) -> bool:
    return bool(getattr(actor, "is_admin", False))


def _get(queryset: models.QuerySet[M], pk: int) -> M:
    try:
        return queryset.get(pk=pk)
    except ObjectDoesNotExist:
        raise Http404 from None


def access_operator(actor: Any, operator_id: int) -> Operator:
    """An operator to configure: admins only."""
    if not _is_admin(actor):
        raise Http404
    return _get(Operator.objects.select_related("user"), operator_id)


def access_operator_to_pause(actor: Any, operator_id: int) -> Operator:
    """An operator to pause or resume: supervisors and admins."""
    if not getattr(actor, "is_supervisor_or_admin", False):
        raise Http404
    return _get(Operator.objects.select_related("user"), operator_id)


def access_schedule(actor: Any, schedule_id: int) -> Schedule:
    if not _is_admin(actor):
        raise Http404
    return _get(Schedule.objects.select_related("operator__user"), schedule_id)


def access_area(actor: Any, area_id: int) -> Area:
    if not _is_admin(actor):
        raise Http404
    return _get(Area.objects.all(), area_id)


def access_calendar_exception(actor: Any, exception_id: int) -> CalendarException:
    if not _is_admin(actor):
        raise Http404
    return _get(CalendarException.objects.all(), exception_id)


def access_shift_tag(actor: Any, tag_id: int) -> ShiftTag:
    if not _is_admin(actor):
        raise Http404
    return _get(ShiftTag.objects.all(), tag_id)


# Ids from a request body


def _unknown(code: str, field: str, missing: Sequence[int]) -> TeamChangeError:
    listed = ", ".join(str(pk) for pk in sorted(missing))
    message = _("Unknown id(s) in %(field)s: %(ids)s") % {"field": field, "ids": listed}
    return TeamChangeError(code, message, {field: _("unknown id(s): %(ids)s") % {"ids": listed}})


def _all_by_ids(queryset: models.QuerySet[M], ids: Sequence[int], code: str, field: str) -> list[M]:
    wanted = list(dict.fromkeys(ids))
    found = {obj.pk: obj for obj in queryset.filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise _unknown(code, field, missing)
    return [found[pk] for pk in wanted]


def user_by_id(user_id: int) -> User:
    (user,) = _all_by_ids(User.objects.all(), [user_id], "unknown_user", "user_id")
    return user


def areas_by_ids(ids: Sequence[int]) -> list[Area]:
    return _all_by_ids(Area.objects.all(), ids, "unknown_area", "areas")


def operators_by_ids(ids: Sequence[int], field: str = "operators") -> list[Operator]:
    return _all_by_ids(Operator.objects.select_related("user"), ids, "unknown_operator", field)
