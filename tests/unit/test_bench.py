"""`leadengine bench`: the statistics it prints, and its command line. Never its timings."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.bench import percentile, ratio, summarize
from cli.main import build_parser


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 25) == pytest.approx(1.75)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_or_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200), st.floats(0, 100))
def test_percentile_lies_within_the_data_and_grows_with_q(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert min(values) <= p <= max(values)
    assert percentile(values, min(q + 1, 100)) >= p - 1e-9 * max(1.0, abs(p))
    assert percentile(values, 50) == pytest.approx(statistics.median(values))


def test_summary_counts_only_2xx_in_rate_and_latency() -> None:
    stats = summarize([0.010, 0.020, 0.030], {"429": 1, "ReadTimeout": 1}, seconds=2.0)
    assert (stats.requests, stats.ok) == (5, 3)
    assert stats.failed == {"429": 1, "ReadTimeout": 1}
    assert stats.per_s == 1.5
    assert stats.p50_ms == pytest.approx(20.0)
    assert stats.p99_ms == pytest.approx(29.8)


def test_summary_without_any_2xx_has_no_latency() -> None:
    stats = summarize([], {"503": 4}, seconds=1.0)
    assert (stats.ok, stats.per_s, stats.p50_ms, stats.p99_ms) == (0, 0.0, None, None)


def test_ratios_are_undefined_without_a_baseline() -> None:
    assert ratio(300.0, 1200.0) == 0.25
    assert ratio(None, 5.0) is None
    assert ratio(5.0, 0.0) is None
    assert ratio(5.0, None) is None


def test_bench_command_line() -> None:
    args = build_parser().parse_args(["bench", "webhooks"])
    # No --concurrency: main() gives webhooks 32 and the headline bench 1.
    assert (args.target, args.events, args.concurrency, args.json) == ("webhooks", 2000, None, None)
    args = build_parser().parse_args(["bench", "webhooks", "--events", "50", "--concurrency", "4", "--json"])
    assert (args.events, args.concurrency, args.json) == (50, 4, "-")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "everything"])
