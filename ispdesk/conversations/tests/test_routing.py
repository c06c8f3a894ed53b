"""Which operator takes a chat: the pure routing rules, with many cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ispdesk.conversations.routing import ChatCandidate, assign_in_order, choose_operator

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def candidate(operator_id: int, name: str = "", **fields: object) -> ChatCandidate:
    values: dict[str, object] = {
        "operator_id": operator_id,
        "name": name or f"Op{operator_id}",
        "online": True,
        "away": False,
        "paused": False,
        "on_window": True,
        "open_chats": 0,
        "capacity": 3,
        "last_chat_assigned_at": None,
    }
    values.update(fields)
    return ChatCandidate(**values)  # type: ignore[arg-type]


def test_it_picks_the_operator_with_fewest_active_chats():
    decision = choose_operator(
        [candidate(1, "Ana", open_chats=2), candidate(2, "Juan", open_chats=1)]
    )
    assert decision.operator_id == 2
    assert "Juan" in decision.reason and "1" in decision.reason


def test_it_breaks_ties_by_who_got_a_chat_least_recently():
    decision = choose_operator(
        [
            candidate(1, last_chat_assigned_at=NOW - timedelta(minutes=1)),
            candidate(2, last_chat_assigned_at=NOW - timedelta(minutes=9)),
        ]
    )
    assert decision.operator_id == 2


def test_someone_who_never_got_a_chat_goes_first_among_equals():
    decision = choose_operator(
        [candidate(1, last_chat_assigned_at=NOW), candidate(2, last_chat_assigned_at=None)]
    )
    assert decision.operator_id == 2


def test_full_ties_fall_back_to_a_stable_order():
    assert choose_operator([candidate(7), candidate(3), candidate(5)]).operator_id == 3


def test_nobody_is_chosen_when_nobody_is_eligible():
    ineligible = [
        candidate(1, online=False),
        candidate(2, away=True),
        candidate(3, paused=True),
        candidate(4, on_window=False),
        candidate(5, open_chats=3, capacity=3),
        candidate(6, capacity=0),
    ]
    decision = choose_operator(ineligible)
    assert decision.operator_id is None
    assert decision.reason


def test_each_rule_alone_excludes_an_operator():
    for rule in (
        {"online": False},
        {"away": True},
        {"paused": True},
        {"on_window": False},
        {"open_chats": 3},
    ):
        decision = choose_operator([candidate(1, **rule), candidate(2, open_chats=2)])
        assert decision.operator_id == 2, rule


def test_a_queue_drains_in_order_and_spreads_the_chats():
    plan = assign_in_order([10, 11, 12, 13], [candidate(1), candidate(2)], NOW)
    assert [chat for chat, _decision in plan] == [10, 11, 12, 13]
    assert [decision.operator_id for _chat, decision in plan] == [1, 2, 1, 2]


def test_a_drain_stops_when_everyone_is_full():
    plan = assign_in_order(
        list(range(100, 150)), [candidate(1, capacity=3), candidate(2, capacity=3)], NOW
    )
    assert len(plan) == 6
    assert [chat for chat, _decision in plan] == list(range(100, 106))


candidates = st.lists(
    st.builds(
        candidate,
        operator_id=st.integers(1, 30),
        online=st.booleans(),
        away=st.booleans(),
        paused=st.booleans(),
        on_window=st.booleans(),
        open_chats=st.integers(0, 6),
        capacity=st.integers(0, 6),
        last_chat_assigned_at=st.none()
        | st.integers(0, 600).map(lambda minutes: NOW - timedelta(minutes=minutes)),
    ),
    max_size=12,
    unique_by=lambda c: c.operator_id,
)


@given(candidates)
def test_the_choice_is_always_eligible_and_least_loaded(pool):
    decision = choose_operator(pool)
    eligible = [c for c in pool if c.eligible]
    if not eligible:
        assert decision.operator_id is None
        return
    chosen = next(c for c in pool if c.operator_id == decision.operator_id)
    assert chosen.eligible
    assert chosen.open_chats == min(c.open_chats for c in eligible)


@given(candidates, st.integers(0, 40))
def test_a_drain_never_overfills_anyone_and_keeps_fifo(pool, waiting):
    chats = list(range(1000, 1000 + waiting))
    plan = assign_in_order(chats, pool, NOW)
    room = sum(max(c.capacity - c.open_chats, 0) for c in pool if c.eligible)
    assert len(plan) == min(waiting, room)
    assert [chat for chat, _d in plan] == chats[: len(plan)]
    given_to: dict[int, int] = {}
    for _chat, decision in plan:
        assert decision.operator_id is not None
        given_to[decision.operator_id] = given_to.get(decision.operator_id, 0) + 1
    for c in pool:
        if c.operator_id in given_to:
            assert c.eligible
            assert c.open_chats + given_to[c.operator_id] <= c.capacity
