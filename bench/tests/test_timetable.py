import itertools
import random
from collections import defaultdict

import pytest

from bench import payloads
from bench.scenarios import STORM, Scenario, choose, default_scenarios
from bench.timetable import (
    CLOUD_BATCH,
    DUPLICATE,
    MESSAGE,
    RECEIPT,
    Signing,
    build,
    steady_slots,
    storm_slots,
)

SIGNING = Signing("app-secret-for-the-bench-tests", "109876543210987")
RECEIPT_IDS = {"evolution": (1, 50), "cloud": (1, 50)}


def steady(rate: float = 50, seconds: float = 12) -> Scenario:
    return Scenario(f"steady-{rate}", "steady", seconds, rate=rate)


def test_it_spaces_steady_messages_exactly_at_the_rate():
    slots = steady_slots(50, 12)
    assert len(slots) == 600
    times = [at for at, _customer, _seq in slots]
    assert times == sorted(times)
    assert times[1] - times[0] == pytest.approx(1 / 50)
    assert times[-1] == pytest.approx(599 / 50)


def test_it_gives_each_steady_customer_a_script_two_seconds_apart():
    by_customer = defaultdict(list)
    for at, customer, seq in steady_slots(50, 12):
        by_customer[customer].append((seq, at))
    for messages in by_customer.values():
        seqs = [seq for seq, _at in messages]
        assert seqs == list(range(len(seqs)))
        for (_s1, first), (_s2, second) in itertools.pairwise(messages):
            assert second - first == pytest.approx(2.0)
    assert len([m for m in by_customer.values() if len(m) == 3]) >= 180


def test_it_refuses_a_steady_scenario_without_rate():
    with pytest.raises(ValueError, match="positive rate"):
        steady_slots(0, 10)


def test_the_storm_ramps_up_and_each_customer_writes_two_or_three_times():
    slots = storm_slots(1000, 60, random.Random(1))
    per_customer = defaultdict(int)
    for _at, customer, _seq in slots:
        per_customer[customer] += 1
    assert set(per_customer.values()) == {2, 3}
    assert len(per_customer) == 1000
    first_half = sum(1 for at, _c, seq in slots if seq == 0 and at < 30)
    second_half = sum(1 for at, _c, seq in slots if seq == 0 and at >= 30)
    assert second_half > 2 * first_half  # arrivals grow linearly: 1/4 vs 3/4


def test_a_timetable_is_the_same_for_the_same_seed():
    one = build(steady(), 3, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    two = build(steady(), 3, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    assert [d.body for d in one.deliveries] == [d.body for d in two.deliveries]


def test_it_sends_every_unique_message_and_duplicates_ten_percent_of_deliveries():
    table = build(steady(), 0, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    carried = {i for d in table.deliveries if d.kind == MESSAGE for i in d.message_ids}
    assert carried == set(table.unique_ids)
    assert len(table.unique_ids) == 600
    originals = [d for d in table.deliveries if d.kind == MESSAGE]
    duplicates = [d for d in table.deliveries if d.kind == DUPLICATE]
    share = len(duplicates) / (len(originals) + len(duplicates))
    assert share == pytest.approx(0.10, abs=0.01)
    first_sent = {d.body: d.at for d in originals}
    for duplicate in duplicates:
        assert duplicate.body in first_sent  # byte for byte, as a gateway's retry
        assert duplicate.at >= first_sent[duplicate.body]


def test_cloud_posts_carry_two_to_five_messages_and_evolution_posts_one():
    table = build(steady(), 0, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    originals = [d for d in table.deliveries if d.kind == MESSAGE]
    assert {len(d.message_ids) for d in originals if d.gateway == "evolution"} == {1}
    sizes = [len(d.message_ids) for d in originals if d.gateway == "cloud"]
    assert min(sizes[:-1]) >= CLOUD_BATCH[0]  # the last batch takes what is left
    assert max(sizes) <= CLOUD_BATCH[1]


def test_a_batch_is_due_when_its_last_message_is():
    table = build(steady(), 0, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    planned = {message.message_id: message.at for message in table.messages}
    for delivery in table.deliveries:
        if delivery.kind == MESSAGE:
            assert delivery.at == max(planned[i] for i in delivery.message_ids)
    for message_id, due in table.first_due.items():
        assert due >= planned[message_id]


def test_receipts_name_outbound_ids_in_every_status_and_are_not_messages():
    table = build(
        steady(),
        0,
        SIGNING,
        epoch=1_800_000_000,
        receipt_ids={"evolution": (40, 60), "cloud": (7, 9)},
    )
    receipts = [d for d in table.deliveries if d.kind == RECEIPT]
    assert receipts
    assert all(not d.message_ids for d in receipts)
    assert sum(d.receipts for d in receipts) == table.counts()["receipts"]
    evolution = b"".join(d.body for d in receipts if d.gateway == "evolution")
    assert b"3EB0" in evolution and b"READ" in evolution and b"DELIVERY_ACK" in evolution
    cloud = b"".join(d.body for d in receipts if d.gateway == "cloud")
    assert b"wamid.FAKE0000000" in cloud


def test_scenario_ids_and_numbers_do_not_overlap():
    one = build(steady(), 1, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    two = build(steady(), 2, SIGNING, epoch=1_800_000_000, receipt_ids=RECEIPT_IDS)
    assert not set(one.unique_ids) & set(two.unique_ids)
    assert not {m.phone for m in one.messages} & {m.phone for m in two.messages}
    for message in one.messages:
        assert message.message_id.startswith(payloads.id_prefix(message.gateway, 1))


def test_the_storm_timetable_carries_its_customers():
    table = build(
        Scenario(STORM, STORM, 20, customers=200),
        5,
        SIGNING,
        epoch=1_800_000_000,
        receipt_ids=RECEIPT_IDS,
    )
    assert len({m.customer for m in table.messages}) == 200
    assert 400 <= len(table.unique_ids) <= 600


def test_quick_shortens_every_scenario():
    full = {s.name: s for s in default_scenarios()}
    quick = {s.name: s for s in default_scenarios(quick=True)}
    assert (
        full.keys()
        == quick.keys()
        == {"steady-25", "steady-100", "steady-300", "steady-1000", "storm", "soak"}
    )
    assert all(quick[name].duration < full[name].duration for name in full)
    assert full["soak"].duration == 600 and full["storm"].customers == 5000


def test_it_names_unknown_scenarios():
    with pytest.raises(ValueError, match=r"unknown scenario.*bogus"):
        choose(default_scenarios(), ["steady-25", "bogus"])
    assert [s.name for s in choose(default_scenarios(), ["storm", "steady-25"])] == [
        "steady-25",
        "storm",
    ]
