"""The team's facts as the engine reads them: the same as reading them one by one, in a
fixed number of queries whatever the team's or the history's size."""

from datetime import UTC, date, datetime, time

import pytest
from django.db.models import Count

from ispdesk.lib.calendar import is_available
from ispdesk.operators.calendars import business_calendar, is_day_off, on_duty_ids
from ispdesk.operators.models import (
    CalendarException,
    OnDuty,
    Operator,
    Schedule,
    ScheduleKind,
    ShiftTag,
)
from ispdesk.tickets.assignment import Candidate
from ispdesk.tickets.models import Source, Status, Ticket
from ispdesk.tickets.team import read_team, team_facts
from ispdesk.tickets.tests.conftest import make_operator

# Buenos Aires is UTC-3.
WEDNESDAY_2AM = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
WEDNESDAY_NOON = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
THURSDAY_SPECIAL_HOURS = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
SUNDAY_MORNING = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
HOLIDAY_NIGHT = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)  # Monday Dec 7, 22:30 local


def facts_one_by_one(now: datetime) -> tuple[dict[int, Candidate], dict, bool, frozenset[int]]:
    """The facts read the plain way: every operator as a model, their windows one by one."""
    operators = Operator.objects.select_related("user").filter(active=True, user__is_active=True)
    open_tickets = dict(
        Ticket.objects.open()
        .filter(assignee__isnull=False)
        .values_list("assignee")
        .annotate(n=Count("id"))
        .order_by()
    )
    calendar = business_calendar(now)
    candidates = {}
    for operator in operators:
        windows = [
            row.as_window() for row in operator.schedules.filter(kind=ScheduleKind.ASSIGNMENT)
        ]
        candidates[operator.pk] = Candidate(
            operator_id=operator.pk,
            name=operator.name,
            paused=operator.is_paused,
            assignment_paused=operator.assignment_paused,
            on_schedule=is_available(windows, calendar, now),
            open_tickets=open_tickets.get(operator.pk, 0),
            last_assigned_at=operator.last_assigned_at,
        )
    tags = {
        tag.tag: frozenset(member.pk for member in tag.operators.all())
        for tag in ShiftTag.objects.filter(active=True)
    }
    day_off = is_day_off(calendar, now)
    return candidates, tags, day_off, on_duty_ids(now.astimezone(calendar.tz).date())


def ticket_for(operator: Operator | None, n: int, status: str = Status.ASSIGNED) -> Ticket:
    return Ticket.objects.create(
        source=Source.MANUAL,
        external_id=f"t-{n}",
        subject=f"Caso {n}",
        assignee=operator,
        status=status,
        created_at=WEDNESDAY_2AM,
    )


def windows(operator: Operator, weekday: int, start: int, end: int) -> None:
    Schedule.objects.create(
        operator=operator,
        kind=ScheduleKind.ASSIGNMENT,
        weekday=weekday,
        start=time(start),
        end=time(end),
    )


@pytest.fixture
def crew(team):
    """Juan and Sofía always on (Sofía paused), Pedro never; Lucía works Tuesday nights into
    Wednesday, Mateo Wednesday days; Nora is assignment-paused; an inactive operator and
    one whose user is inactive; tickets, shift tags and an on-duty Sunday."""
    team["sofia"].is_paused = True
    team["sofia"].save()
    lucia = make_operator("lucia", "Lucía", always_on=False)
    lucia.user.last_name = "Paz"
    lucia.user.save()
    windows(lucia, 1, 22, 6)  # Tuesday 22:00 to Wednesday 06:00
    mateo = make_operator("mateo", "Mateo", always_on=False)
    windows(mateo, 2, 8, 16)
    windows(mateo, 0, 0, 0)  # all of Monday
    nora = make_operator("nora", "", assignment_paused=True)
    gone = make_operator("gone", "Gone", active=False)
    left = make_operator("left", "Left")
    left.user.is_active = False
    left.user.save()
    juan = team["juan"]
    juan.last_assigned_at = WEDNESDAY_2AM
    juan.save()
    for n, (owner, status) in enumerate(
        [
            (juan, Status.ASSIGNED),
            (juan, Status.IN_PROGRESS),
            (juan, Status.CLOSED),
            (lucia, Status.WAITING),
            (mateo, Status.CLOSED),
            (gone, Status.ASSIGNED),
            (None, Status.NEW),
        ]
    ):
        ticket_for(owner, n, status)
    tt = ShiftTag.objects.create(tag="[TT]", name="Tarde")
    tt.operators.set([juan, lucia, gone])
    ShiftTag.objects.create(tag="[TD]", name="Nadie")  # no members: still claims its text
    ShiftTag.objects.create(tag="[XX]", name="Apagado", active=False).operators.set([mateo])
    OnDuty.objects.create(day=date(2026, 11, 29), operator=mateo)
    CalendarException.objects.create(
        day=date(2026, 11, 26), closed=False, start=time(9), end=time(12)
    )
    return {**team, "lucia": lucia, "mateo": mateo, "nora": nora, "gone": gone, "left": left}


@pytest.mark.parametrize(
    "now",
    [WEDNESDAY_2AM, WEDNESDAY_NOON, THURSDAY_SPECIAL_HOURS, SUNDAY_MORNING, HOLIDAY_NIGHT],
)
def test_it_reads_the_same_facts_as_reading_them_one_by_one(crew, now):
    team = read_team(now)
    candidates, tags, day_off, on_duty = facts_one_by_one(now)
    assert team.candidates == candidates
    assert team.rules.shift_tags == tags
    assert team.rules.is_day_off == day_off
    # Who is on duty only counts (and is only read) on a day off.
    assert team.rules.on_duty == (on_duty if day_off else frozenset())


def test_it_knows_who_is_on_schedule_across_midnight_and_who_is_on_duty(crew):
    night = read_team(WEDNESDAY_2AM)
    on = {c.name for c in night.candidates.values() if c.on_schedule}
    assert on == {"Juan", "Sofía", "Lucía Paz", "nora"}
    assert night.candidates[crew["juan"].pk].open_tickets == 2
    assert night.candidates[crew["lucia"].pk].open_tickets == 1
    assert crew["gone"].pk not in night.candidates
    assert crew["left"].pk not in night.candidates
    sunday = read_team(SUNDAY_MORNING)
    assert sunday.rules.on_duty == {crew["mateo"].pk}
    assert sunday.rules.shift_tags == {
        "[TT]": {crew["juan"].pk, crew["lucia"].pk, crew["gone"].pk},
        "[TD]": frozenset(),
    }


def test_team_facts_gives_the_candidates_and_rules_of_read_team(crew):
    candidates, rules = team_facts(WEDNESDAY_NOON)
    team = read_team(WEDNESDAY_NOON)
    assert candidates == list(team.candidates.values())
    assert rules == team.rules


def test_a_given_ticket_adds_to_the_load_and_moves_the_tie_break(crew):
    team = read_team(WEDNESDAY_NOON)
    lucia = crew["lucia"].pk
    team.given(lucia, WEDNESDAY_NOON)
    assert team.candidates[lucia].open_tickets == 2
    assert team.candidates[lucia].last_assigned_at == WEDNESDAY_NOON


def test_it_reads_the_team_in_one_query_whatever_its_size_while_nobody_edits_the_facts(
    crew, django_assert_num_queries
):
    read_team(WEDNESDAY_NOON)  # the settings cache, and the windows, calendar and tags kept
    with django_assert_num_queries(1):
        small = read_team(WEDNESDAY_NOON)
    for n in range(12):
        operator = make_operator(f"extra{n}", f"Extra {n}")  # with windows: read them again
        ticket_for(operator, 100 + n)
        ticket_for(operator, 200 + n, Status.CLOSED)
        ShiftTag.objects.get(tag="[TT]").operators.add(operator)
    with django_assert_num_queries(4):
        big = read_team(WEDNESDAY_NOON)
    with django_assert_num_queries(1):
        again = read_team(WEDNESDAY_NOON)
    assert len(big.candidates) == len(small.candidates) + 12
    assert (again.candidates, again.rules) == (big.candidates, big.rules)
    # A day off reads who is on duty too, and that day's windows (the calendar is kept).
    with django_assert_num_queries(3):
        read_team(SUNDAY_MORNING)


EDITS = {
    "a window moved by a queryset update": lambda crew: Schedule.objects.filter(
        operator=crew["mateo"]
    ).update(start=time(13)),
    "a window deleted": lambda crew: Schedule.objects.filter(operator=crew["mateo"]).delete(),
    "a window added": lambda crew: windows(crew["pedro"], 2, 0, 0),
    "a special day added": lambda crew: CalendarException.objects.create(
        day=date(2026, 11, 25), closed=True
    ),
    "a shift tag member removed": lambda crew: ShiftTag.objects.get(tag="[TT]").operators.remove(
        crew["lucia"]
    ),
    "a shift tag switched off": lambda crew: ShiftTag.objects.filter(tag="[TD]").update(
        active=False
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_next_decision_sees_an_edit_of_the_kept_facts(crew, edit):
    read_team(WEDNESDAY_NOON)  # kept

    EDITS[edit](crew)

    team = read_team(WEDNESDAY_NOON)
    candidates, tags, _day_off, _on_duty = facts_one_by_one(WEDNESDAY_NOON)
    assert team.candidates == candidates
    assert team.rules.shift_tags == tags


def test_an_edit_rolled_back_leaves_the_facts_as_they_were(crew):
    from django.db import transaction

    before = read_team(WEDNESDAY_NOON)
    with pytest.raises(RuntimeError), transaction.atomic():
        Schedule.objects.filter(operator=crew["mateo"]).delete()
        ShiftTag.objects.all().delete()
        during = read_team(WEDNESDAY_NOON)  # kept under the edit's stamp
        assert not during.candidates[crew["mateo"].pk].on_schedule and not during.rules.shift_tags
        raise RuntimeError

    after = read_team(WEDNESDAY_NOON)
    assert (after.candidates, after.rules) == (before.candidates, before.rules)
    assert after.candidates[crew["mateo"].pk].on_schedule


def test_a_team_member_is_given_as_a_model_without_reading_it_again(
    crew, django_assert_num_queries
):
    lucia = crew["lucia"]
    lucia.whatsapp = "+5491122334455"
    lucia.save()
    team = read_team(WEDNESDAY_NOON)
    with django_assert_num_queries(0):
        operator = team.operator(lucia.pk)
        assert (operator.pk, operator.user_id) == (lucia.pk, lucia.user_id)
    # Any other field is read when asked for, as with `.only()`.
    with django_assert_num_queries(1):
        assert operator.whatsapp == "+5491122334455"


def locked_read():  # type: ignore[no-untyped-def]
    from ispdesk.lib.rawsql import Select
    from ispdesk.tickets.team import lock_and_read_team

    team, _rows = lock_and_read_team(WEDNESDAY_NOON, Select.of("SELECT 1", None), [])
    return team


@pytest.mark.django_db(transaction=True)
def test_locking_the_team_with_its_read_needs_a_transaction_where_rows_can_be_locked(team):
    from django.db import connection
    from django.db.transaction import TransactionManagementError

    if not connection.features.has_select_for_update:
        assert locked_read().candidates  # SQLite: as the ORM, no lock
        return
    with pytest.raises(TransactionManagementError):
        locked_read()


def test_the_tie_break_moment_is_read_exactly_to_the_microsecond(crew):
    moments = [
        datetime(2026, 11, 25, 5, 0, 0, 123457, tzinfo=UTC),
        datetime(2031, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2020, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ]
    for moment in moments:
        Operator.objects.filter(pk=crew["juan"].pk).update(last_assigned_at=moment)

        read = read_team(WEDNESDAY_NOON).candidates[crew["juan"].pk].last_assigned_at

        assert read == moment and read.utcoffset() is not None
