from dataclasses import replace
from datetime import UTC, datetime, timedelta

from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.tickets.assignment import Candidate, Rule, Rules, decide, find_shift_tag

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ANA = Candidate(1, "Ana", open_tickets=2)
JUAN = Candidate(2, "Juan", open_tickets=3)
SOFIA = Candidate(3, "Sofía", open_tickets=5)
TEAM = [ANA, JUAN, SOFIA]
TAGS = {"[TT]": frozenset({2, 3}), "[TD]": frozenset({1})}


def test_it_picks_the_fewest_open_tickets_and_says_why_in_words():
    with translation.override("en"):
        decision = decide("Sin servicio", TEAM, Rules())
    assert decision.operator_id == ANA.operator_id
    assert decision.rule == Rule.SCHEDULE
    assert decision.reason == (
        "Ana: 2 open tickets, fewest among Ana, Juan, Sofía on the assignment schedule"
    )


def test_it_breaks_ties_by_least_recently_assigned_then_by_a_stable_order():
    recent = replace(ANA, open_tickets=3, last_assigned_at=T0)
    earlier = replace(JUAN, last_assigned_at=T0 - timedelta(hours=1))
    assert decide("", [recent, earlier], Rules()).operator_id == JUAN.operator_id
    never = replace(SOFIA, open_tickets=3, last_assigned_at=None)
    assert decide("", [recent, earlier, never], Rules()).operator_id == SOFIA.operator_id
    twins = [replace(JUAN, last_assigned_at=None), replace(ANA, open_tickets=3)]
    assert decide("", twins, Rules()).operator_id == ANA.operator_id


def test_it_never_picks_paused_assignment_paused_or_inactive_operators():
    team = [
        replace(ANA, paused=True),
        replace(JUAN, assignment_paused=True),
        replace(SOFIA, active=False),
    ]
    decision = decide("", team, Rules())
    assert decision.operator_id is None
    assert decision.rule == Rule.NONE


def test_it_prefers_anyone_on_schedule_over_a_less_loaded_operator_off_schedule():
    team = [replace(ANA, on_schedule=False, open_tickets=0), JUAN]
    assert decide("", team, Rules()).operator_id == JUAN.operator_id


def test_it_sends_weekend_and_holiday_tickets_to_the_on_duty_operator():
    rules = Rules(is_day_off=True, on_duty=frozenset({SOFIA.operator_id}))
    with translation.override("en"):
        decision = decide("", TEAM, rules)
    assert decision.operator_id == SOFIA.operator_id
    assert decision.rule == Rule.ON_DUTY
    assert "on duty" in decision.reason


def test_a_paused_on_duty_operator_falls_back_to_the_ordinary_rules():
    rules = Rules(is_day_off=True, on_duty=frozenset({SOFIA.operator_id}))
    decision = decide("", [ANA, JUAN, replace(SOFIA, paused=True)], rules)
    assert decision.operator_id == ANA.operator_id


def test_a_shift_tag_sends_the_ticket_to_its_group():
    decision = decide("[TT] Corte de fibra", TEAM, Rules(shift_tags=TAGS))
    assert decision.operator_id == JUAN.operator_id
    assert decision.rule == Rule.SHIFT_TAG
    assert "[TT]" in decision.reason


def test_a_tag_whose_group_is_unavailable_falls_back_to_everyone_on_schedule():
    team = [ANA, replace(JUAN, paused=True), replace(SOFIA, active=False)]
    decision = decide("[TT] Corte", team, Rules(shift_tags=TAGS))
    assert decision.operator_id == ANA.operator_id
    assert decision.rule == Rule.SCHEDULE


def test_a_tag_never_sends_work_to_an_off_shift_member_while_others_are_on():
    team = [ANA, replace(JUAN, on_schedule=False), replace(SOFIA, on_schedule=False)]
    decision = decide("[TT] Corte", team, Rules(shift_tags=TAGS))
    assert decision.operator_id == ANA.operator_id
    assert decision.rule == Rule.SCHEDULE


def test_tags_can_be_switched_off():
    decision = decide("[TT] Corte", TEAM, Rules(shift_tags=TAGS, use_shift_tags=False))
    assert decision.operator_id == ANA.operator_id


def test_nobody_on_schedule_means_round_robin_over_active_unpaused_operators():
    team = [
        replace(ANA, on_schedule=False, last_assigned_at=T0),
        replace(JUAN, on_schedule=False, last_assigned_at=T0 - timedelta(minutes=5)),
        replace(SOFIA, on_schedule=False, paused=True, last_assigned_at=None),
    ]
    decision = decide("", team, Rules())
    assert decision.operator_id == JUAN.operator_id
    assert decision.rule == Rule.ROUND_ROBIN


def test_it_finds_the_first_tag_in_the_text_whatever_the_case():
    assert find_shift_tag("algo [td] y luego [TT]", TAGS) == "[TD]"
    assert find_shift_tag("sin etiqueta", TAGS) is None


candidates = st.builds(
    Candidate,
    operator_id=st.integers(1, 10_000),
    name=st.sampled_from(["Ana", "Juan", "Sofía", "Pedro", "Lucía"]),
    active=st.booleans(),
    paused=st.booleans(),
    assignment_paused=st.booleans(),
    on_schedule=st.booleans(),
    open_tickets=st.integers(0, 30),
    last_assigned_at=st.none()
    | st.builds(lambda m: T0 - timedelta(minutes=m), st.integers(0, 900)),
)
teams = st.lists(candidates, max_size=8, unique_by=lambda c: c.operator_id)


@given(team=teams)
def test_the_chosen_operator_is_eligible_and_has_the_fewest_open_tickets(team):
    decision = decide("Sin servicio", team, Rules())
    eligible = [c for c in team if c.eligible]
    scheduled = [c for c in eligible if c.on_schedule]
    if decision.operator_id is None:
        assert not eligible
        return
    chosen = next(c for c in team if c.operator_id == decision.operator_id)
    assert chosen.eligible
    if scheduled:
        assert chosen.on_schedule
        assert chosen.open_tickets == min(c.open_tickets for c in scheduled)
    else:
        assert decision.rule == Rule.ROUND_ROBIN


@given(team=teams, on_duty=st.frozensets(st.integers(1, 10_000), max_size=3), day_off=st.booleans())
def test_no_rule_ever_chooses_an_ineligible_operator(team, on_duty, day_off):
    ids = frozenset(c.operator_id for c in team)
    rules = Rules(is_day_off=day_off, on_duty=on_duty | frozenset(list(ids)[:1]), shift_tags=TAGS)
    decision = decide("[TT] ticket", team, rules)
    if decision.operator_id is not None:
        assert next(c for c in team if c.operator_id == decision.operator_id).eligible


@given(sizes=st.integers(2, 6), tickets=st.integers(1, 120))
def test_a_day_without_closures_spreads_tickets_within_one_of_each_other(sizes, tickets):
    team = {i: Candidate(i, f"op{i}") for i in range(1, sizes + 1)}
    for minute in range(tickets):
        decision = decide("ticket", list(team.values()), Rules())
        chosen = team[decision.operator_id]
        team[chosen.operator_id] = replace(
            chosen,
            open_tickets=chosen.open_tickets + 1,
            last_assigned_at=T0 + timedelta(minutes=minute),
        )
    loads = [c.open_tickets for c in team.values()]
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == tickets
