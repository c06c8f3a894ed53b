from bench.analysis import (
    ClientInfo,
    Event,
    ack_figures,
    acked_ids,
    bot_figures,
    correctness,
    entitled,
    events_from_lines,
    screen_figures,
)
from bench.loadgen import Outcome
from bench.scenarios import Scenario
from bench.timetable import Signing, build

SOPORTE, VENTAS = 1, 2
CLIENTS = {
    "ana": ClientInfo("ana", "operator", user_id=10, operator_id=100, areas=frozenset({SOPORTE})),
    "sofia": ClientInfo(
        "sofia", "operator", user_id=11, operator_id=101, areas=frozenset({VENTAS})
    ),
    "silvia": ClientInfo("silvia", "supervisor", user_id=12, operator_id=None, areas=frozenset()),
}
START = 1_800_000_000.0


def conversation(area=SOPORTE, **facts):
    return {"area": area, "assignee_user": None, "status": "open", "assigned_users": [], **facts}


def event(client, at, **data):
    return Event(client, at, data)


def test_operators_are_entitled_to_their_areas_and_their_chats_only():
    chat = conversation(SOPORTE, assigned_users=[11])
    line = event("x", 0, type="message:new", conversation=5, message=9)
    assert entitled(CLIENTS["ana"], line, chat)
    assert entitled(CLIENTS["silvia"], line, chat)
    assert entitled(CLIENTS["sofia"], line, chat)  # it was once assigned to her
    assert not entitled(CLIENTS["sofia"], line, conversation(SOPORTE))


def test_conversation_events_are_judged_by_what_they_name():
    incoming = event(
        "x",
        0,
        type="conversation:incoming",
        conversation=5,
        area=VENTAS,
        assignee=None,
        status="pending",
    )
    assert entitled(CLIENTS["sofia"], incoming, conversation(SOPORTE))
    assert not entitled(CLIENTS["ana"], incoming, conversation(SOPORTE))
    general = event(
        "x",
        0,
        type="conversation:incoming",
        conversation=5,
        area=None,
        assignee=None,
        status="pending",
    )
    assert entitled(CLIENTS["ana"], general, conversation(None))
    mine = event(
        "x", 0, type="conversation:update", conversation=5, area=VENTAS, assignee=100, status="open"
    )
    assert entitled(CLIENTS["ana"], mine, conversation(VENTAS))


def small_timetable():
    return build(
        Scenario("steady-5", "steady", 2, rate=5),
        0,
        Signing("secret", "1"),
        epoch=START,
        receipt_ids={"evolution": (1, 2), "cloud": (1, 2)},
    )


def facts_for(table, area=SOPORTE):
    """Every message stored 50 ms after due, chat line = index, one conversation per customer."""
    inbound, conversations = {}, {}
    for index, message in enumerate(table.messages):
        conversation_id = 1000 + message.customer
        inbound[message.message_id] = [
            START + table.first_due[message.message_id] + 0.05,
            index,
            conversation_id,
        ]
        conversations.setdefault(
            str(conversation_id),
            conversation(area, bot_reply_at=inbound[message.message_id][0] + 0.01),
        )
    return {
        "inbound": inbound,
        "stored_ids": list(inbound),
        "conversations": conversations,
        "counts": {
            "stored": len(inbound),
            "lines": len(inbound),
            "inbound_with_two_lines": 0,
            "contacts_with_two_conversations": 0,
        },
    }


def test_a_message_reaches_the_screen_when_its_line_reaches_an_entitled_console():
    table = small_timetable()
    facts = facts_for(table)
    events = []
    for stored, line, conversation_id in facts["inbound"].values():
        events.append(
            event(
                "ana", stored + 0.1, type="message:new", conversation=conversation_id, message=line
            )
        )
        # Sofía (Ventas) hears about a Soporte chat: misdelivered, and not a match.
        events.append(
            event(
                "sofia",
                stored + 0.01,
                type="message:new",
                conversation=conversation_id,
                message=line,
            )
        )
    figures = screen_figures(table, START, events, CLIENTS, facts)
    assert figures["screen_unmatched"] == 0
    assert figures["screen"]["count"] == len(table.unique_ids)
    assert 149 < figures["screen"]["p50"] < 151  # 50 ms to store + 100 ms to Ana's console
    timeline = figures["screen_timeline"]
    assert sum(row["count"] for row in timeline) == len(table.unique_ids)
    assert all(149 < row["max"] < 151 for row in timeline)
    assert figures["misdelivered"] == len(table.unique_ids)
    assert figures["missed"]["supervisor"] == len(table.unique_ids) * 1  # one distinct event each


def test_an_unseen_message_is_unmatched_and_copies_are_counted():
    table = small_timetable()
    facts = facts_for(table)
    first_id = table.unique_ids[0]
    stored, line, conversation_id = facts["inbound"][first_id]
    twice = [
        event(
            "silvia", stored + 0.2, type="message:new", conversation=conversation_id, message=line
        )
    ] * 2
    figures = screen_figures(table, START, twice, CLIENTS, facts)
    assert figures["screen_unmatched"] == len(table.unique_ids) - 1
    assert figures["redundant_copies"] == 1
    assert figures["misdelivered"] == 0


def test_bot_replies_are_measured_from_the_first_message_of_each_chat():
    table = small_timetable()
    facts = facts_for(table)
    missing = next(iter(facts["conversations"]))
    facts["conversations"][missing]["bot_reply_at"] = None
    figures = bot_figures(table, START, facts)
    assert figures["needed"] == len(facts["conversations"])
    assert figures["missing"] == 1
    assert figures["bot_reply_db"]["max"] < 60  # ms: stored → outbox row


def test_loss_and_acknowledgements_are_counted_per_unique_id():
    table = small_timetable()
    outcomes = [
        Outcome(START + d.at, START + d.at, START + d.at + 0.02, 200 if i else 503)
        for i, d in enumerate(table.deliveries)
    ]
    acks = ack_figures(table, START, outcomes)
    assert acks["failures"] == {"503": 1}
    assert 19 < acks["ack"]["p50"] < 21
    assert sum(row["count"] for row in acks["ack_timeline"]) == len(outcomes) - 1
    assert [row["from"] for row in acks["ack_timeline"]] == sorted(
        {(d.at // 10) * 10.0 for d in table.deliveries[1:]}
    )
    facts = facts_for(table)
    refused = set(table.deliveries[0].message_ids)  # answered 503
    assert acked_ids(table, outcomes) == set(table.unique_ids) - refused
    facts["stored_ids"] = [i for i in facts["stored_ids"] if i not in refused][2:]
    facts["counts"]["stored"] = len(facts["stored_ids"])
    screen = {
        "misdelivered": 0,
        "missed": {"supervisor": 1, "area_operator": 2},
        "redundant_copies": 3,
    }
    counts = correctness(table, facts, acked_ids(table, outcomes), screen)
    assert (counts["missed"], counts["extra_copies"]) == (3, 3)
    assert counts["lost"] == 2  # acknowledged, then missing from the database
    assert counts["never_acknowledged"] == len(refused)
    assert (counts["duplicated"], counts["misdelivered"]) == (0, 0)


def test_a_message_stored_despite_a_timeout_is_not_lost():
    table = small_timetable()
    facts = facts_for(table)
    counts = correctness(table, facts, set(table.unique_ids[1:]), None)
    assert (counts["lost"], counts["never_acknowledged"], counts["stored_unacknowledged"]) == (
        0,
        1,
        1,
    )


def test_a_bundle_frame_counts_as_its_events_in_order_received_with_the_frame():
    lines = [
        '{"client": "ana", "at": 1.5, "event": {"type": "bundle", "events": '
        '[{"type": "message:new", "message": 1}, {"type": "conversation:update"}]}}',
        "",
        '{"client": "ana", "at": 2.0, "event": {"type": "message:new", "message": 2}}',
    ]
    assert events_from_lines(lines) == [
        Event("ana", 1.5, {"type": "message:new", "message": 1}),
        Event("ana", 1.5, {"type": "conversation:update"}),
        Event("ana", 2.0, {"type": "message:new", "message": 2}),
    ]


def test_the_bundle_frame_is_the_one_the_consoles_receive():
    from bench.analysis import BUNDLE_FRAME as EXPECTED
    from ispdesk.realtime.consumers import BUNDLE_FRAME

    assert BUNDLE_FRAME == EXPECTED


def test_replies_sent_are_timed_from_the_last_scheduled_send():
    from bench.analysis import replies_figures

    facts = {"replies": {"count": 9, "unsent": 2, "last_sent_at": 1075.5, "checked_at": 1090.0}}

    assert replies_figures(facts, last_due=1060.0) == {
        "count": 9,
        "unsent": 2,
        "last_sent_after_s": 15.5,
        "checked_after_s": 30.0,
    }
    # Nothing sent yet, or a facts file from before the figure existed.
    none_sent = {"replies": {"count": 3, "unsent": 3, "last_sent_at": None, "checked_at": 1061.0}}
    assert replies_figures(none_sent, 1060.0)["last_sent_after_s"] is None
    assert replies_figures({}, 1060.0) == {
        "count": 0,
        "unsent": 0,
        "last_sent_after_s": None,
        "checked_after_s": 0.0,
    }
