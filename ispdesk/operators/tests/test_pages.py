"""The team pages: operators (supervisors watch and pause), schedules, on-duty, areas, rules."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import (
    Area,
    CalendarException,
    OnDuty,
    Operator,
    Schedule,
    ScheduleKind,
    ShiftTag,
)
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.system.models import AuditEvent

MONDAY, TUESDAY, WEDNESDAY, FRIDAY, SATURDAY = 0, 1, 2, 4, 5


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def window(operator, kind, weekday, start, end) -> Schedule:  # type: ignore[no-untyped-def]
    return Schedule.objects.create(
        operator=operator, kind=kind, weekday=weekday, start=time(*start), end=time(*end)
    )


def stored(operator, kind=ScheduleKind.WORK) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    rows = Schedule.objects.filter(operator=operator, kind=kind).order_by("weekday", "start")
    return [(row.weekday, f"{row.start:%H:%M}", f"{row.end:%H:%M}") for row in rows]


def actions() -> list[str]:
    return sorted(AuditEvent.objects.values_list("action", flat=True))


# Who may open what -----------------------------------------------------------------------------


def admin_pages(juan: Operator, area: Area) -> list[str]:
    return [
        "/team/new/",
        f"/team/{juan.pk}/",
        f"/team/{juan.pk}/schedule/",
        "/team/on-duty/",
        "/team/areas/",
        f"/team/areas/{area.pk}/",
        "/team/rules/",
    ]


def test_it_sends_anonymous_people_to_the_login_page(client, juan, soporte):
    for path in ["/team/", *admin_pages(juan, soporte)]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/"), path
    response = client.post(f"/team/{juan.pk}/pause/", {"mode": "full", "paused": "1"})
    assert response.status_code == 302
    juan.refresh_from_db()
    assert not juan.is_paused


@pytest.mark.parametrize("fixture", ["operator_client", "outsider_client"])
def test_it_forbids_every_team_page_to_operators(request, fixture, juan, soporte):
    client = request.getfixturevalue(fixture)
    for path in ["/team/", *admin_pages(juan, soporte)]:
        assert client.get(path).status_code == 403, path
    assert (
        client.post(f"/team/{juan.pk}/pause/", {"mode": "full", "paused": "1"}).status_code == 403
    )
    juan.refresh_from_db()
    assert not juan.is_paused
    assert not AuditEvent.objects.exists()


def test_it_lets_a_supervisor_watch_the_team_but_configure_nothing(
    supervisor_client, juan, soporte
):
    page = html(supervisor_client.get("/team/"))
    assert "Juan" in page
    assert f'action="/team/{juan.pk}/pause/"' in page
    assert "/team/new/" not in page  # no "Add operator"
    assert f'href="/team/{juan.pk}/schedule/"' not in page
    for path in admin_pages(juan, soporte):
        assert supervisor_client.get(path).status_code == 403, path
    forbidden_posts = {
        f"/team/{juan.pk}/": {"chat_capacity": "9", "active": "on"},
        f"/team/{juan.pk}/schedule/": {"add-kinds": "work", "add-weekdays": "0"},
        "/team/areas/": {"new-name": "NOC"},
        "/team/rules/exceptions/": {"exception-day": "2026-12-31", "exception-kind": "closed"},
    }
    for path, body in forbidden_posts.items():
        assert supervisor_client.post(path, body).status_code == 403, path
    juan.refresh_from_db()
    assert juan.chat_capacity == 5
    assert not Area.objects.filter(name="NOC").exists()
    assert not CalendarException.objects.exists()


def test_it_opens_every_page_for_an_admin(admin_client, juan, soporte):
    for path in ["/team/", *admin_pages(juan, soporte)]:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert 'aria-current="page">Team</a>' in html(response), path


def test_it_answers_404_for_an_unknown_operator(admin_client):
    assert admin_client.get("/team/9999/schedule/").status_code == 404
    assert (
        admin_client.post("/team/9999/pause/", {"mode": "full", "paused": "1"}).status_code == 404
    )


def test_the_navigation_offers_the_team_to_supervisors_only(supervisor_client, operator_client):
    assert 'href="/team/"' in html(supervisor_client.get("/"))
    assert 'href="/team/"' not in html(operator_client.get("/"))


# The operators list ----------------------------------------------------------------------------


def test_it_lists_each_operator_with_badges_phone_and_areas(admin_client, juan, sofia, soporte):
    juan.areas.add(soporte)
    Operator.objects.filter(pk=sofia.pk).update(assignment_paused=True, notifications_enabled=False)
    page = html(admin_client.get("/team/"))
    juan_card = page[
        page.index(f'id="operator-{juan.pk}"') : page.index(f'id="operator-{sofia.pk}"')
    ]
    sofia_card = page[page.index(f'id="operator-{sofia.pk}"') :]
    assert "+54 9 11 1234-5678" in juan_card  # formatted for people
    assert "Soporte" in juan_card
    assert 'data-state="on-schedule"' in juan_card  # always on
    assert 'data-state="paused"' not in juan_card
    assert 'data-state="off-schedule"' in sofia_card  # no schedule at all
    assert 'data-state="assignment-paused"' in sofia_card
    assert 'data-state="notifications-off"' in sofia_card
    assert 'data-action="resume-assignment"' in sofia_card
    assert 'data-action="resume-notifications"' in sofia_card
    assert 'data-action="pause-full"' in sofia_card


def test_it_counts_the_open_tickets_of_each_operator(admin_client, juan, sofia):
    from ispdesk.tickets.models import Status, Ticket

    for number, status in enumerate([Status.ASSIGNED, Status.IN_PROGRESS, Status.CLOSED]):
        Ticket.objects.create(
            source="manual",
            external_id=str(number),
            subject="x",
            status=status,
            assignee=juan,
            created_at=timezone.now(),
        )
    page = html(admin_client.get("/team/"))
    assert "2 open tickets" in page
    assert "0 open tickets" in page  # Sofía


def test_the_list_refetches_itself_on_operator_events_and_resync(supervisor_client, juan):
    page = html(supervisor_client.get("/team/"))
    assert 'hx-get="/team/"' in page
    assert "ispdesk:operator:update from:body" in page
    assert "ispdesk:resync from:body" in page


def test_it_answers_htmx_with_the_list_only(supervisor_client, juan):
    response = supervisor_client.get("/team/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = html(response)
    assert "<html" not in page
    assert f'id="operator-{juan.pk}"' in page
    assert "HX-Request" in response["Vary"]


def test_the_operators_list_takes_the_same_queries_for_any_team_size(admin_client, soporte):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/team/").status_code == 200
        return len(captured)

    first = make_operator("uno", whatsapp="+5491155550001")
    first.areas.add(soporte)
    window(first, ScheduleKind.ASSIGNMENT, MONDAY, (9, 0), (17, 0))
    queries()  # warm the per-process caches (settings, content types)
    few = queries()
    for number in range(5):
        more = make_operator(f"op{number}", whatsapp="+5491155550002")
        more.areas.add(soporte)
        window(more, ScheduleKind.ASSIGNMENT, MONDAY, (9, 0), (17, 0))
    ShiftTag.objects.create(tag="[TT]", name="Tarde").operators.set(Operator.objects.all())
    assert queries() == few
    assert few <= 12


# Pause and resume ------------------------------------------------------------------------------


def test_a_supervisor_pauses_and_resumes_an_operator(supervisor_client, supervisor, juan):
    response = supervisor_client.post(f"/team/{juan.pk}/pause/", {"mode": "full", "paused": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/team/"
    juan.refresh_from_db()
    assert juan.is_paused
    event = AuditEvent.objects.get(action="operator.paused")
    assert event.actor == supervisor
    assert event.after["is_paused"] is True
    page = html(supervisor_client.get("/team/"))
    assert "Juan is paused: no new work and no notifications." in page
    assert 'data-state="paused"' in page

    supervisor_client.post(f"/team/{juan.pk}/pause/", {"mode": "full", "paused": "0"})
    juan.refresh_from_db()
    assert not juan.is_paused
    assert AuditEvent.objects.filter(action="operator.resumed", actor=supervisor).count() == 1


@pytest.mark.parametrize(
    ("mode", "field", "paused_value"),
    [("assignment", "assignment_paused", True), ("notifications", "notifications_enabled", False)],
)
def test_it_pauses_one_mode_only(supervisor_client, juan, mode, field, paused_value):
    supervisor_client.post(f"/team/{juan.pk}/pause/", {"mode": mode, "paused": "1"})
    juan.refresh_from_db()
    assert getattr(juan, field) is paused_value
    assert not juan.is_paused
    supervisor_client.post(f"/team/{juan.pk}/pause/", {"mode": mode, "paused": "0"})
    juan.refresh_from_db()
    assert getattr(juan, field) is not paused_value


def test_it_refuses_an_unknown_pause_mode_and_a_get(supervisor_client, juan):
    response = supervisor_client.post(f"/team/{juan.pk}/pause/", {"mode": "nap", "paused": "1"})
    assert response.status_code == 400
    assert supervisor_client.get(f"/team/{juan.pk}/pause/").status_code == 405
    assert not AuditEvent.objects.exists()


# Adding and editing operators ------------------------------------------------------------------


def operator_form(**fields: object) -> dict[str, object]:
    form: dict[str, object] = {
        "whatsapp": "",
        "person_id": "",
        "chat_capacity": "5",
        "active": "on",
        "notifications_enabled": "on",
    }
    form.update(fields)
    return form


def test_it_adds_an_operator_for_a_user_without_a_profile(admin_client, admin, soporte, ventas):
    marta = make_user("marta", Role.OPERATOR, first_name="Marta")
    form = operator_form(
        user=marta.pk, whatsapp="011 15 5555-0101", person_id="42", areas=[soporte.pk, ventas.pk]
    )
    response = admin_client.post("/team/new/", form)

    operator = Operator.objects.get(user=marta)
    assert response.status_code == 302
    assert response["Location"] == f"/team/{operator.pk}/schedule/"
    assert operator.whatsapp == "+5491155550101"
    assert operator.person_id == 42
    assert set(operator.areas.all()) == {soporte, ventas}
    event = AuditEvent.objects.get(action="operator.created")
    assert event.actor == admin
    assert event.after["whatsapp"] == "+5491155550101"


def test_it_offers_only_users_without_an_operator_profile(admin_client, juan):
    make_user("marta", Role.OPERATOR, first_name="Marta")
    make_user("gone", Role.OPERATOR, is_active=False)
    page = html(admin_client.get("/team/new/"))
    assert "Marta (marta)" in page
    assert "(juan)" not in page
    assert "(gone)" not in page
    response = admin_client.post("/team/new/", operator_form(user=juan.user_id))
    assert response.status_code == 422
    assert Operator.objects.count() == 1


def test_it_shows_why_a_whatsapp_number_is_invalid_and_stores_nothing(admin_client):
    marta = make_user("marta", Role.OPERATOR)
    response = admin_client.post("/team/new/", operator_form(user=marta.pk, whatsapp="123"))

    assert response.status_code == 422
    page = html(response)
    assert '<p class="field-error" id="id_whatsapp_error">Invalid WhatsApp number: ' in page
    assert 'value="123"' in page  # what was typed stays to be corrected
    assert not Operator.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_splynx_id_already_linked(admin_client, juan):
    marta = make_user("marta", Role.OPERATOR)
    response = admin_client.post("/team/new/", operator_form(user=marta.pk, person_id="11"))
    assert response.status_code == 422
    assert "Splynx administrator 11 is already linked to another operator." in html(response)
    assert not Operator.objects.filter(user=marta).exists()


def test_it_edits_an_operator(admin_client, admin, juan, soporte):
    form = operator_form(
        whatsapp="+54 9 351 555-0003", person_id="", chat_capacity="8", areas=[soporte.pk]
    )
    form.pop("notifications_enabled")
    response = admin_client.post(f"/team/{juan.pk}/", form)

    assert response.status_code == 302
    juan.refresh_from_db()
    assert juan.whatsapp == "+5493515550003"
    assert juan.person_id is None
    assert juan.chat_capacity == 8
    assert not juan.notifications_enabled
    assert list(juan.areas.all()) == [soporte]
    event = AuditEvent.objects.get(action="operator.updated")
    assert event.actor == admin
    assert event.before["chat_capacity"] == 5
    assert event.after["chat_capacity"] == 8
    assert "Juan saved." in html(admin_client.get("/team/"))


# The weekly schedule ---------------------------------------------------------------------------


def add_form(kinds=("work",), weekdays=(MONDAY,), start="09:00", end="17:00"):  # type: ignore[no-untyped-def]
    return {
        "add-kinds": list(kinds),
        "add-weekdays": list(weekdays),
        "add-start": start,
        "add-end": end,
    }


def test_it_adds_one_window_on_several_weekdays(admin_client, admin, sofia):
    response = admin_client.post(
        f"/team/{sofia.pk}/schedule/", add_form(weekdays=range(MONDAY, FRIDAY + 1))
    )

    assert response.status_code == 302
    assert stored(sofia) == [(day, "09:00", "17:00") for day in range(5)]
    assert stored(sofia, ScheduleKind.ASSIGNMENT) == []
    assert actions() == ["schedule.added"] * 5
    assert AuditEvent.objects.filter(actor=admin).count() == 5
    page = html(admin_client.get(f"/team/{sofia.pk}/schedule/"))
    assert (
        "Added 09:00 → 17:00 on Monday, Tuesday, Wednesday, Thursday, Friday (5 windows)." in page
    )
    assert page.count("09:00 → 17:00</span>") == 5
    assert "40 h" in page


def test_it_adds_to_several_kinds_at_once_and_shows_a_night_shift(admin_client, sofia):
    body = add_form(kinds=["work", "alert"], weekdays=[SATURDAY], start="22:00", end="06:00")
    admin_client.post(f"/team/{sofia.pk}/schedule/", body)

    assert stored(sofia) == [(SATURDAY, "22:00", "06:00")]
    assert stored(sofia, ScheduleKind.ALERT) == [(SATURDAY, "22:00", "06:00")]
    page = html(admin_client.get(f"/team/{sofia.pk}/schedule/"))
    assert "22:00 → 06:00 (+1)" in page


def test_an_overlap_names_both_windows_and_saves_nothing(admin_client, sofia):
    window(sofia, ScheduleKind.WORK, WEDNESDAY, (10, 0), (12, 0))
    response = admin_client.post(
        f"/team/{sofia.pk}/schedule/", add_form(weekdays=range(MONDAY, FRIDAY + 1))
    )

    assert response.status_code == 422
    page = html(response)
    assert "This window overlaps an existing one:" in page
    assert "Wednesday 09:00-17:00" in page
    assert "Wednesday 10:00-12:00" in page
    assert stored(sofia) == [(WEDNESDAY, "10:00", "12:00")]  # Monday and Tuesday undone too
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_window_without_days_or_times(admin_client, sofia):
    response = admin_client.post(
        f"/team/{sofia.pk}/schedule/", add_form(weekdays=[], start="9", end="")
    )
    assert response.status_code == 422
    page = html(response)
    assert "Choose at least one weekday." in page
    assert "Enter a valid time." in page
    assert not Schedule.objects.exists()


def test_it_deletes_a_window(admin_client, admin, sofia):
    row = window(sofia, ScheduleKind.ASSIGNMENT, TUESDAY, (8, 0), (12, 0))
    response = admin_client.post(f"/team/schedule/{row.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == f"/team/{sofia.pk}/schedule/"
    assert not Schedule.objects.exists()
    event = AuditEvent.objects.get(action="schedule.deleted")
    assert event.actor == admin
    assert event.before["weekday"] == TUESDAY
    page = html(admin_client.get(f"/team/{sofia.pk}/schedule/"))
    assert "Removed Tuesday 08:00 → 12:00 from the assignment schedule." in page


def test_it_copies_the_work_hours_to_the_other_schedules(admin_client, sofia):
    window(sofia, ScheduleKind.WORK, MONDAY, (8, 0), (16, 0))
    window(sofia, ScheduleKind.WORK, SATURDAY, (22, 0), (2, 0))
    window(sofia, ScheduleKind.ALERT, FRIDAY, (10, 0), (11, 0))
    response = admin_client.post(
        f"/team/{sofia.pk}/schedule/copy/", {"copy-targets": ["assignment", "alert"]}
    )

    assert response.status_code == 302
    expected = [(MONDAY, "08:00", "16:00"), (SATURDAY, "22:00", "02:00")]
    assert stored(sofia, ScheduleKind.ASSIGNMENT) == expected
    assert stored(sofia, ScheduleKind.ALERT) == expected  # Friday's alert window replaced
    assert actions() == ["schedule.replaced", "schedule.replaced"]


def test_it_refuses_to_copy_empty_work_hours(admin_client, sofia):
    window(sofia, ScheduleKind.ALERT, FRIDAY, (10, 0), (11, 0))
    response = admin_client.post(f"/team/{sofia.pk}/schedule/copy/", {"copy-targets": ["alert"]})
    assert response.status_code == 422
    assert "There are no work hours to copy yet." in html(response)
    assert stored(sofia, ScheduleKind.ALERT) == [(FRIDAY, "10:00", "11:00")]


# On-duty cover ---------------------------------------------------------------------------------

PERIOD = "2026-12-01"  # eight weeks with weekends, 8 Dec, Christmas and New Year


def test_it_lists_weekends_and_holidays_with_their_spanish_names(admin_client, juan, sofia):
    OnDuty.objects.create(day=date(2026, 12, 5), operator=juan)
    response = admin_client.get(f"/team/on-duty/?from={PERIOD}")
    page = html(response)
    days = [row.day for row in response.context["rows"]]
    assert days[0] == date(2026, 12, 5)  # the first Saturday
    assert date(2026, 12, 8) in days  # a Tuesday holiday
    assert date(2026, 12, 9) not in days
    assert days[-1] <= date(2027, 1, 25)
    assert "Inmaculada Concepción de María" in page
    assert "Navidad" in page
    assert "Año Nuevo" in page
    assert 'href="?from=2027-01-26"' in page  # the next eight weeks
    assert 'href="?from=2026-10-06"' in page  # the previous ones
    saturday = response.context["form"]["d-2026-12-05"]
    assert saturday.value() == [juan.pk]


def test_it_saves_only_the_days_changed_on_the_page(admin_client, admin, juan, sofia):
    OnDuty.objects.create(day=date(2026, 12, 5), operator=juan)
    OnDuty.objects.create(day=date(2026, 12, 6), operator=juan)
    form = admin_client.get(f"/team/on-duty/?from={PERIOD}").context["form"]
    body = {"from": PERIOD}
    for name in form.fields:
        value = form[name].value()
        if value:
            body[name] = value
    body["d-2026-12-05"] = [juan.pk, sofia.pk]  # add Sofía
    body["d-2026-12-08"] = [sofia.pk]  # the holiday
    del body["d-2026-12-06"]  # nobody on Sunday

    response = admin_client.post("/team/on-duty/", body)

    assert response.status_code == 302
    assert response["Location"] == f"/team/on-duty/?from={PERIOD}"
    cover = sorted(OnDuty.objects.values_list("day", "operator_id"))
    assert cover == [
        (date(2026, 12, 5), juan.pk),
        (date(2026, 12, 5), sofia.pk),
        (date(2026, 12, 8), sofia.pk),
    ]
    events = AuditEvent.objects.filter(action="on_duty.updated", actor=admin)
    assert sorted(events.values_list("object_id", flat=True)) == [
        "2026-12-05",
        "2026-12-06",
        "2026-12-08",
    ]
    assert "On-duty cover saved for 3 days." in html(
        admin_client.get(f"/team/on-duty/?from={PERIOD}")
    )


def test_it_leaves_alone_a_day_someone_else_changed_meanwhile(admin_client, juan, sofia):
    form = admin_client.get(f"/team/on-duty/?from={PERIOD}").context["form"]
    body = {"from": PERIOD, **{name: "" for name in form.fields if name.startswith("was-")}}
    OnDuty.objects.create(day=date(2026, 12, 12), operator=sofia)  # another admin, meanwhile
    body["d-2026-12-05"] = [juan.pk]

    admin_client.post("/team/on-duty/", body)

    assert sorted(OnDuty.objects.values_list("day", "operator_id")) == [
        (date(2026, 12, 5), juan.pk),
        (date(2026, 12, 12), sofia.pk),
    ]


def test_it_ignores_a_bad_period_start(admin_client):
    response = admin_client.get("/team/on-duty/?from=someday")
    assert response.status_code == 200
    assert response.context["start"] == response.context["today"]


# Areas -----------------------------------------------------------------------------------------


def test_it_creates_an_area(admin_client, admin):
    body = {"new-name": "  NOC ", "new-description": "Red y monitoreo", "new-active": "on"}
    response = admin_client.post("/team/areas/", body)

    assert response.status_code == 302
    area = Area.objects.get()
    assert (area.name, area.description, area.active) == ("NOC", "Red y monitoreo", True)
    event = AuditEvent.objects.get(action="area.created")
    assert event.actor == admin
    assert "Area NOC created." in html(admin_client.get("/team/areas/"))


def test_it_refuses_a_duplicate_area_name_whatever_its_case(admin_client, soporte):
    response = admin_client.post("/team/areas/", {"new-name": "soporte", "new-active": "on"})
    assert response.status_code == 422
    assert "There already is an area named soporte." in html(response)
    assert Area.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_it_edits_an_area_and_counts_its_members(admin_client, admin, juan, sofia, soporte):
    juan.areas.add(soporte)
    sofia.areas.add(soporte)
    page = html(admin_client.get("/team/areas/"))
    assert 'data-members="2"' in page

    response = admin_client.post(
        f"/team/areas/{soporte.pk}/", {"name": "Soporte técnico", "description": ""}
    )

    assert response.status_code == 302
    soporte.refresh_from_db()
    assert soporte.name == "Soporte técnico"
    assert not soporte.active
    event = AuditEvent.objects.get(action="area.updated")
    assert event.before["name"] == "Soporte"
    assert event.after == {"name": "Soporte técnico", "description": "", "active": False}


# Shift tags and calendar exceptions ------------------------------------------------------------


def test_it_creates_and_edits_a_shift_tag(admin_client, admin, juan, sofia):
    body = {
        "newtag-tag": "[TN]",
        "newtag-name": "Turno noche",
        "newtag-active": "on",
        "newtag-operators": [juan.pk],
    }
    response = admin_client.post("/team/rules/tags/", body)

    assert response.status_code == 302
    tag = ShiftTag.objects.get()
    assert (tag.tag, tag.name, tag.active) == ("[TN]", "Turno noche", True)
    assert list(tag.operators.all()) == [juan]
    assert AuditEvent.objects.get(action="shift_tag.created").actor == admin

    prefix = f"tag{tag.pk}"
    body = {f"{prefix}-tag": "[TN]", f"{prefix}-name": "Noche", f"{prefix}-operators": [sofia.pk]}
    admin_client.post(f"/team/rules/tags/{tag.pk}/", body)

    tag.refresh_from_db()
    assert (tag.name, tag.active) == ("Noche", False)
    assert list(tag.operators.all()) == [sofia]
    event = AuditEvent.objects.get(action="shift_tag.updated")
    assert event.before["operators"] == [juan.pk]
    assert event.after["operators"] == [sofia.pk]


@pytest.mark.parametrize(
    ("tag", "message"),
    [("TT", "A tag is 1 to 18 letters"), ("[tt]", "The tag [tt] is already in use.")],
)
def test_it_refuses_a_bad_or_taken_tag(admin_client, tag, message):
    ShiftTag.objects.create(tag="[TT]", name="Tarde")
    response = admin_client.post("/team/rules/tags/", {"newtag-tag": tag, "newtag-name": "X"})
    assert response.status_code == 422
    assert message in html(response)
    assert ShiftTag.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_it_adds_and_deletes_calendar_exceptions(admin_client, admin):
    closed = {
        "exception-day": "2099-12-24",
        "exception-kind": "closed",
        "exception-note": "Inventario",
    }
    special = {
        "exception-day": "2099-12-31",
        "exception-kind": "special",
        "exception-start": "09:00",
        "exception-end": "13:00",
    }
    assert admin_client.post("/team/rules/exceptions/", closed).status_code == 302
    assert admin_client.post("/team/rules/exceptions/", special).status_code == 302

    rows = list(CalendarException.objects.order_by("day"))
    assert [(row.day, row.closed, row.start, row.end, row.note) for row in rows] == [
        (date(2099, 12, 24), True, None, None, "Inventario"),
        (date(2099, 12, 31), False, time(9), time(13), ""),
    ]
    page = html(admin_client.get("/team/rules/"))
    assert "Inventario" in page
    assert "09:00 → 13:00" in page

    response = admin_client.post(f"/team/rules/exceptions/{rows[0].pk}/delete/")
    assert response.status_code == 302
    assert list(CalendarException.objects.all()) == [rows[1]]
    assert actions() == [
        "calendar_exception.added",
        "calendar_exception.added",
        "calendar_exception.deleted",
    ]


def test_it_asks_special_hours_for_their_times(admin_client):
    body = {"exception-day": "2099-12-31", "exception-kind": "special", "exception-start": "09:00"}
    response = admin_client.post("/team/rules/exceptions/", body)
    assert response.status_code == 422
    assert "Special opening hours need a start and an end." in html(response)
    assert not CalendarException.objects.exists()


def test_it_refuses_a_second_exception_on_a_closed_day(admin_client):
    CalendarException.objects.create(day=date(2099, 12, 24), closed=True)
    body = {"exception-day": "2099-12-24", "exception-kind": "closed"}
    response = admin_client.post("/team/rules/exceptions/", body)
    assert response.status_code == 422
    assert "2099-12-24 is already closed." in html(response)
    assert CalendarException.objects.count() == 1


def test_changes_need_a_csrf_token(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.post("/team/areas/", {"new-name": "NOC"}).status_code == 403
    assert not Area.objects.exists()
