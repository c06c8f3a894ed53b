import pytest

from bench.stats import growth_over_last_half, percentile, slope, summarise, timeline


def test_it_takes_the_nearest_rank_never_a_value_between_samples():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_it_gives_the_smallest_value_for_the_zeroth_percentile():
    assert percentile([5.0, 7.0], 0.0) == 5.0


def test_it_has_no_percentile_of_nothing():
    assert percentile([], 0.5) is None
    assert summarise([]).as_dict() == {
        "count": 0,
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
    }


def test_it_refuses_a_fraction_outside_zero_to_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0], 99)


def test_it_summarises_with_the_maximum():
    summary = summarise([10.0] * 98 + [500.0, 900.0])
    assert (summary.p50, summary.p99, summary.max, summary.count) == (10.0, 500.0, 900.0, 100)


def test_it_fits_a_slope():
    assert slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert slope([(1, 1)]) is None
    assert slope([(1, 1), (1, 2)]) is None


def test_it_sees_growth_over_the_last_half_only():
    # Flat at first, then rising 1 per second for the last 10 seconds.
    points = [(float(t), 100.0) for t in range(10)] + [
        (float(t), 100.0 + t - 10) for t in range(10, 21)
    ]
    assert growth_over_last_half(points) == pytest.approx(10.0, abs=0.5)
    assert growth_over_last_half([(float(t), 50.0) for t in range(20)]) == pytest.approx(0.0)
    assert growth_over_last_half([]) is None


def test_a_timeline_summarises_each_window_and_leaves_empty_ones_out():
    points = [(0.5, 10.0), (59.9, 30.0), (60.0, 5.0), (185.0, 7.0), (186.0, 9.0)]
    rows = timeline(points, 60)
    assert [row["from"] for row in rows] == [0, 60, 180]
    assert [row["count"] for row in rows] == [2, 1, 2]
    assert rows[0]["p50"] == 10.0 and rows[0]["max"] == 30.0
    assert rows[2]["p95"] == 9.0


def test_a_timeline_counts_the_run_s_last_moment_in_its_last_window():
    rows = timeline([(0.0, 1.0), (59.0, 2.0), (60.0, 3.0)], 10, end=60.0)
    assert [(row["from"], row["count"]) for row in rows] == [(0, 1), (50, 2)]


def test_a_timeline_needs_a_positive_window():
    with pytest.raises(ValueError, match="window"):
        timeline([(1.0, 1.0)], 0)
