from bench.report import render
from bench.targets import FAILED, PASSED, evaluate


def desk(**figures):
    base = {
        "ack": {"count": 100, "p50": 20.0, "p95": 90.0, "p99": 200.0, "max": 300.0},
        "unacknowledged_ids": 0,
        "screen": {"count": 100, "p50": 100.0, "p95": 400.0, "p99": 900.0, "max": 1000.0},
        "screen_unmatched": 0,
        "bot": {"bot_reply_from_send": {"count": 10, "max": 500.0}, "missing": 0},
        "correctness": {"lost": 0, "duplicated": 0, "misdelivered": 0},
        "cpu": {"per_message_ms": 2.0},
        "throughput": 990.0,
        "drain_s": 12.0,
        "duration": 60.0,
    }
    base.update(figures)
    return base


def passing_results():
    return {
        "shapes": {
            "pg": {
                "steady-300": {"ispdesk": desk(), "floor": {"cpu": {"per_message_ms": 0.25}}},
                "steady-1000": {"ispdesk": desk()},
                "soak": {
                    "ispdesk": desk(
                        web_rss={"web worker 1": {"end_mb": 150.0, "growth_last_half_mb": 1.0}}
                    )
                },
            },
            "embedded": {"steady-100": {"ispdesk": desk()}},
        },
        "datascale": {
            "targets": [
                {"number": 7, "figure": "p95 31 ms", "passed": True},
                {"number": 8, "figure": "4 ms", "passed": False},
            ]
        },
    }


def by_number(verdicts, shape="pg"):
    return {v.number: v for v in verdicts if v.shape == shape}


def test_every_target_passes_on_good_figures_and_datascale_is_read():
    verdicts = by_number(evaluate(passing_results()))
    assert [verdicts[n].status for n in "1234567"] == ["PASS"] * 7
    assert verdicts["8"].status == "FAIL" and verdicts["8"].figure == "4 ms"
    assert {v.number: v.status for v in evaluate(passing_results()) if v.shape == "embedded"} == {
        "1": "PASS",
        "2": "PASS",
        "3": "PASS",
    }


def test_one_lost_message_anywhere_fails_target_one():
    results = passing_results()
    results["shapes"]["pg"]["soak"]["ispdesk"]["correctness"]["lost"] = 1
    verdict = by_number(evaluate(results))["1"]
    assert verdict.status == "FAIL" and "lost 1" in verdict.figure


def test_an_event_twice_at_a_console_fails_target_one_and_a_missed_one_is_shown():
    results = passing_results()
    correctness = results["shapes"]["pg"]["steady-1000"]["ispdesk"]["correctness"]
    correctness["missed"] = 3
    verdict = by_number(evaluate(results))["1"]
    assert verdict.status == "PASS" and "missed 3, not judged" in verdict.figure
    correctness["extra_copies"] = 2
    verdict = by_number(evaluate(results))["1"]
    assert verdict.status == "FAIL" and "copies 2" in verdict.figure


def test_ack_latency_fails_on_a_slow_median_or_tail():
    results = passing_results()
    results["shapes"]["pg"]["steady-300"]["ispdesk"]["ack"]["p50"] = 51.0
    assert by_number(evaluate(results))["2"].status == "FAIL"
    results = passing_results()
    results["shapes"]["pg"]["steady-300"]["ispdesk"]["ack"]["p99"] = 251.0
    assert by_number(evaluate(results))["2"].status == "FAIL"


def test_a_slow_bot_reply_or_an_unmatched_message_fails_target_three():
    results = passing_results()
    results["shapes"]["pg"]["steady-300"]["ispdesk"]["bot"]["bot_reply_from_send"]["max"] = 1001.0
    assert by_number(evaluate(results))["3"].status == "FAIL"
    results = passing_results()
    results["shapes"]["pg"]["steady-300"]["ispdesk"]["screen_unmatched"] = 1
    assert by_number(evaluate(results))["3"].status == "FAIL"


def test_sustained_rate_needs_the_rate_and_a_drain_within_a_minute():
    results = passing_results()
    results["shapes"]["pg"]["steady-1000"]["ispdesk"]["drain_s"] = 61.0
    assert by_number(evaluate(results))["4"].status == "FAIL"
    results = passing_results()
    results["shapes"]["pg"]["steady-1000"]["ispdesk"]["throughput"] = 800.0
    assert by_number(evaluate(results))["4"].status == "FAIL"


def test_cpu_is_judged_against_the_floor_of_the_same_run():
    results = passing_results()
    results["shapes"]["pg"]["steady-300"]["ispdesk"]["cpu"]["per_message_ms"] = 2.6  # 10.4x
    verdict = by_number(evaluate(results))["5"]
    assert verdict.status == "FAIL" and "10.4x" in verdict.figure


def test_memory_fails_over_the_limit_or_when_it_keeps_growing():
    results = passing_results()
    results["shapes"]["pg"]["soak"]["ispdesk"]["web_rss"]["web worker 1"]["end_mb"] = 201.0
    assert by_number(evaluate(results))["6"].status == "FAIL"
    results = passing_results()
    results["shapes"]["pg"]["soak"]["ispdesk"]["web_rss"]["web worker 1"]["growth_last_half_mb"] = (
        20.0
    )
    assert by_number(evaluate(results))["6"].status == "FAIL"


def test_a_message_never_acknowledged_fails_target_one():
    results = passing_results()
    results["shapes"]["pg"]["storm"] = {
        "ispdesk": desk(correctness={"lost": 0, "never_acknowledged": 3})
    }
    verdict = by_number(evaluate(results))["1"]
    assert verdict.status == "FAIL" and "never acknowledged 3" in verdict.figure


def test_what_did_not_run_is_not_measured():
    verdicts = by_number(evaluate({"shapes": {}}))
    assert {v.status for v in verdicts.values()} == {"not measured"}
    mapping = {"datascale": {"7": {"summary": "p95 12 ms", "pass": True}}, "shapes": {}}
    assert by_number(evaluate(mapping))["7"].status == "PASS"


def test_the_report_prints_every_target():
    text, markdown = render(
        {**passing_results(), "machine": {"cpu": "Test CPU", "cores": 2}, "versions": {}}
    )
    assert text.count("target ") == 11
    assert "| 5 | pg |" in markdown and "Test CPU" in markdown


def test_the_data_scale_file_is_read_as_bench_datascale_writes_it():
    written = {
        "targets": {
            "7_list_p95_ms": 22.16,
            "7_list_queries": {"admin api": {"small/50": 3}},
            "7_chat_open_ms": 26.17,
            "8_decision_ms": 9.96,
            "8_decision_queries": 11,
            "8_assign_1000_s": 0.782,
        },
        "pass": {
            "7_list_p95": True,
            "7_list_queries_constant": True,
            "7_chat_open": True,
            "8_decision": False,
            "8_decision_queries_bounded": True,
            "8_assign_1000": True,
        },
    }

    verdicts = {v.number: v for v in evaluate({"shapes": {}, "datascale": written})}

    assert verdicts["7"].status == PASSED
    assert verdicts["7"].figure == "list p95 ms 22.16, chat open ms 26.17"
    assert verdicts["8"].status == FAILED
    assert verdicts["8"].figure == (
        "decision ms 9.96, decision queries 11, assign 1000 s 0.782 (failing: decision)"
    )


def test_the_report_shows_the_soak_over_time():
    results = passing_results()
    soak = results["shapes"]["pg"]["soak"]["ispdesk"]
    soak["ack_timeline"] = [
        {"from": 0.0, "count": 6000, "p50": 12.0, "p95": 40.0, "p99": 80.0, "max": 300.0},
        {"from": 60.0, "count": 6000, "p50": 13.0, "p95": 41.0, "p99": 90.0, "max": 310.0},
    ]
    soak["screen_timeline"] = [
        {"from": 60.0, "count": 5000, "p50": 200.0, "p95": 1400.0, "p99": 1900.0, "max": 2500.0}
    ]
    text, markdown = render({**results, "machine": {}, "versions": {}})
    assert "### pg: the soak per tenth of its length" in markdown
    assert "| 0 | 6000 | 12/80 | - |" in markdown
    assert "| 60 | 6000 | 13/90 | 200/1400/2500 |" in markdown
    assert "embedded: the soak" not in text  # the embedded shape ran no soak here


def test_replies_the_sender_had_not_sent_by_the_check_get_a_note():
    results = passing_results()
    lagging = {"count": 6000, "unsent": 1200, "last_sent_after_s": 118.2, "checked_after_s": 121.0}
    results["shapes"]["pg"]["steady-1000"]["ispdesk"]["replies_sent"] = lagging
    results["shapes"]["pg"]["steady-300"]["ispdesk"]["replies_sent"] = {
        "count": 1800,
        "unsent": 0,
        "last_sent_after_s": 0.4,
        "checked_after_s": 6.0,
    }

    text, markdown = render(results)

    assert "pg/steady-1000: 1200 of 6000 bot replies not yet sent" in text
    assert "121 s after the last send" in text
    assert "pg/steady-300:" not in text  # every reply sent: nothing to say
    assert "1200 of 6000 bot replies" in markdown
