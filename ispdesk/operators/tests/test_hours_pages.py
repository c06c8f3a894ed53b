"""The area pages: members, working hours and whether each area is open now."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.operators.models import Area, AreaHours, CalendarException
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.system.models import AuditEvent

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def add(area, weekday: int, start: int, end: int, message: str = "") -> AreaHours:  # type: ignore[no-untyped-def]
    return AreaHours.objects.create(
        area=area, weekday=weekday, start=time(start), end=time(end), courtesy_message=message
    )


def stored(area) -> list[tuple[int, str, str, str]]:  # type: ignore[no-untyped-def]
    rows = AreaHours.objects.filter(area=area).order_by("weekday", "start")
    return [
        (row.weekday, f"{row.start:%H:%M}", f"{row.end:%H:%M}", row.courtesy_message)
        for row in rows
    ]


def closed_today_opens_tomorrow_at_eight() -> None:
    """Calendar exceptions make the badge independent of today's date and holidays."""
    today = timezone.localdate()
    CalendarException.objects.create(day=today, closed=True)
    CalendarException.objects.create(
        day=today + timedelta(days=1), closed=False, start=time(8), end=time(12)
    )


# The areas page --------------------------------------------------------------------------------


def test_it_shows_each_area_with_members_hours_and_whether_it_is_open(
    admin_client, soporte, ventas, juan, sofia
):
    soporte.operators.set([sofia, juan])
    for day in range(5):
        add(soporte, day, 8, 16)
    add(soporte, SAT, 9, 13)
    closed_today_opens_tomorrow_at_eight()

    page = html(admin_client.get("/team/areas/"))

    assert 'data-members="2"' in page
    assert page.index(">Juan<") < page.index(">Sofía<")
    assert "Monday to Friday: 08:00 → 16:00" in page
    assert "Saturday: 09:00 → 13:00" in page
    assert "Around the clock (no hours set)" in page  # Ventas has no hours
    assert page.count("Closed, opens tomorrow at 08:00") == 2


def test_it_shows_an_open_area_as_open_now(admin_client, soporte):
    CalendarException.objects.create(
        day=timezone.localdate(), closed=False, start=time(0), end=time(0)
    )
    page = html(admin_client.get("/team/areas/"))
    assert 'data-open="true">Open now<' in page


def test_the_areas_page_needs_the_same_queries_for_2_or_20_areas(admin_client):
    def queries_with(total: int) -> int:
        while Area.objects.count() < total:
            area = Area.objects.create(name=f"Área {Area.objects.count()}")
            add(area, MON, 8, 12)
            area.operators.add(make_operator(f"op{area.pk}"))
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/team/areas/").status_code == 200
        return len(captured)

    queries_with(0)  # the first request of a session also loads what later ones reuse
    assert queries_with(2) == queries_with(20)


def test_creating_an_area_leads_to_its_page(admin_client, admin):
    response = admin_client.post("/team/areas/", {"new-name": "NOC", "new-active": "on"})
    area = Area.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/team/areas/{area.pk}/"
    assert "Area NOC created." in html(admin_client.get(response["Location"]))


# One area: settings and members ----------------------------------------------------------------


def test_it_offers_active_operators_and_the_current_members(admin_client, soporte, juan):
    retired = make_operator("ramon", "Ramón", active=False)
    gone = make_operator("gaston", "Gastón", active=False)
    soporte.operators.set([gone])
    form = admin_client.get(f"/team/areas/{soporte.pk}/").context["form"]
    offered = {label for _value, label in form.fields["members"].choices}
    assert offered == {"Juan", "Gastón"}
    assert retired.name not in offered
    assert form.initial["members"] == [gone.pk]


def test_it_saves_members_and_the_auto_close_override(admin_client, admin, soporte, juan, sofia):
    response = admin_client.post(
        f"/team/areas/{soporte.pk}/",
        {
            "name": "Soporte",
            "active": "on",
            "members": [juan.pk, sofia.pk],
            "auto_close_minutes": "45",
        },
    )

    assert response.status_code == 302
    soporte.refresh_from_db()
    assert soporte.auto_close_minutes == 45
    assert set(soporte.operators.all()) == {juan, sofia}
    event = AuditEvent.objects.get(action="area.routing_updated")
    assert event.actor == admin
    assert event.after == {"members": sorted([juan.pk, sofia.pk]), "auto_close_minutes": 45}


def test_an_empty_auto_close_returns_to_the_general_setting(admin_client, soporte):
    Area.objects.filter(pk=soporte.pk).update(auto_close_minutes=10)
    response = admin_client.post(
        f"/team/areas/{soporte.pk}/", {"name": "Soporte", "active": "on", "auto_close_minutes": ""}
    )
    assert response.status_code == 302
    soporte.refresh_from_db()
    assert soporte.auto_close_minutes is None


@pytest.mark.parametrize("minutes", ["-1", "43201", "soon"])
def test_it_refuses_a_bad_auto_close(admin_client, soporte, minutes):
    response = admin_client.post(
        f"/team/areas/{soporte.pk}/", {"name": "Soporte", "auto_close_minutes": minutes}
    )
    assert response.status_code == 422
    assert response.context["form"].errors["auto_close_minutes"]
    assert not AuditEvent.objects.exists()


def test_it_refuses_an_operator_not_offered(admin_client, soporte, juan):
    retired = make_operator("ramon", "Ramón", active=False)
    response = admin_client.post(
        f"/team/areas/{soporte.pk}/", {"name": "Soporte", "members": [juan.pk, retired.pk]}
    )
    assert response.status_code == 422
    assert response.context["form"].errors["members"]
    assert not soporte.operators.exists()


# One area: working hours -----------------------------------------------------------------------


def test_it_shows_the_week_as_a_grid(admin_client, soporte):
    add(soporte, MON, 8, 12)
    add(soporte, MON, 14, 18, "Volvemos a las 14")
    add(soporte, FRI, 22, 6)

    response = admin_client.get(f"/team/areas/{soporte.pk}/")

    days = response.context["days"]
    assert [day.label for day in days][:2] == ["Monday", "Tuesday"]
    assert [window.text for window in days[MON].windows] == ["08:00 → 12:00", "14:00 → 18:00"]
    assert [window.text for window in days[FRI].windows] == ["22:00 → 06:00 (+1)"]
    assert days[TUE].windows == []
    page = html(response)
    assert "window-overnight" in page
    assert "Volvemos a las 14" in page


def test_it_adds_a_window_on_several_weekdays(admin_client, admin, soporte):
    response = admin_client.post(
        f"/team/areas/{soporte.pk}/hours/",
        {
            "hours-weekdays": [str(TUE), str(THU)],
            "hours-start": "09:00",
            "hours-end": "17:30",
            "hours-courtesy_message": "Te respondemos a las 9",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/team/areas/{soporte.pk}/#working-hours"
    message = "Te respondemos a las 9"
    assert stored(soporte) == [(TUE, "09:00", "17:30", message), (THU, "09:00", "17:30", message)]
    assert AuditEvent.objects.filter(action="area_hours.added", actor=admin).count() == 2
    page = html(admin_client.get(response["Location"]))
    assert "Added 09:00 → 17:30 on Tuesday, Thursday (2 windows)." in page


def test_it_names_both_windows_of_an_overlap_and_saves_nothing(admin_client, soporte):
    add(soporte, WED, 8, 12)
    response = admin_client.post(
        f"/team/areas/{soporte.pk}/hours/",
        {"hours-weekdays": [str(TUE), str(WED)], "hours-start": "11:00", "hours-end": "13:00"},
    )
    assert response.status_code == 422
    page = html(response)
    assert "Wednesday 08:00-12:00" in page
    assert "Wednesday 11:00-13:00" in page
    assert stored(soporte) == [(WED, "08:00", "12:00", "")]


def test_it_asks_for_weekdays_and_times(admin_client, soporte):
    response = admin_client.post(f"/team/areas/{soporte.pk}/hours/", {"hours-start": "25:00"})
    assert response.status_code == 422
    errors = response.context["hours_form"].errors
    assert set(errors) == {"weekdays", "start", "end"}
    assert "Choose at least one weekday." in html(response)
    assert not AreaHours.objects.exists()


def test_it_deletes_a_window(admin_client, admin, soporte):
    row = add(soporte, MON, 8, 12)
    response = admin_client.post(f"/team/areas/hours/{row.pk}/delete/")
    assert response.status_code == 302
    assert not AreaHours.objects.exists()
    assert AuditEvent.objects.get(action="area_hours.deleted").actor == admin
    page = html(admin_client.get(response["Location"]))
    assert "Removed Monday 08:00 → 12:00 from the working hours of Soporte." in page


def test_deleting_needs_a_post_and_a_known_window(admin_client, soporte):
    row = add(soporte, MON, 8, 12)
    assert admin_client.get(f"/team/areas/hours/{row.pk}/delete/").status_code == 405
    assert admin_client.post("/team/areas/hours/9999/delete/").status_code == 404
    assert admin_client.post("/team/areas/9999/hours/", {}).status_code == 404
    assert AreaHours.objects.count() == 1


@pytest.mark.parametrize("fixture", ["supervisor_client", "operator_client"])
def test_only_admins_change_an_areas_hours(request, fixture, soporte):
    client = request.getfixturevalue(fixture)
    row = add(soporte, MON, 8, 12)
    body = {"hours-weekdays": [str(TUE)], "hours-start": "08:00", "hours-end": "12:00"}
    assert client.post(f"/team/areas/{soporte.pk}/hours/", body).status_code == 403
    assert client.post(f"/team/areas/hours/{row.pk}/delete/").status_code == 403
    assert stored(soporte) == [(MON, "08:00", "12:00", "")]
    assert not AuditEvent.objects.exists()


def test_anonymous_people_are_sent_to_log_in(client, soporte):
    row = add(soporte, MON, 8, 12)
    response = client.post(f"/team/areas/hours/{row.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert AreaHours.objects.exists()
