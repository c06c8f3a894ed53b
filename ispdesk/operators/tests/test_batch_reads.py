"""In a batch (a memo scope) the business calendar is read once, and each area's hours once a
minute; outside one every call reads them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.lib.memo import memo_scope
from ispdesk.operators.calendars import business_calendar
from ispdesk.operators.hours import area_opening_now
from ispdesk.operators.models import Area

pytestmark = pytest.mark.django_db


def tables(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split(" FROM ")[1].split()[0].strip('"`') for query in queries]


def test_a_batch_reads_the_calendar_once_and_each_areas_hours_once_a_minute():
    soporte, ventas = Area.objects.create(name="Soporte"), Area.objects.create(name="Ventas")
    now = timezone.now().replace(second=10)
    with memo_scope(), CaptureQueriesContext(connection) as queries:
        calendar = business_calendar(now)
        assert business_calendar(now + timedelta(seconds=5)) is calendar
        first = area_opening_now(soporte.pk, now)
        assert area_opening_now(soporte.pk, now + timedelta(seconds=30)) is first
        area_opening_now(ventas.pk, now)
        area_opening_now(soporte.pk, now + timedelta(minutes=1))

    assert tables(queries) == [
        "operators_calendarexception",
        "operators_areahours",
        "operators_areahours",
        "operators_areahours",
    ]


def test_outside_a_batch_every_call_reads():
    soporte = Area.objects.create(name="Soporte")
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        business_calendar(now)
        area_opening_now(soporte.pk, now)
        area_opening_now(soporte.pk, now)

    assert tables(queries) == [
        "operators_calendarexception",
        "operators_areahours",
        "operators_calendarexception",
        "operators_areahours",
        "operators_calendarexception",
    ]
