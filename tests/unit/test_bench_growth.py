"""`leadengine bench --growth`: each read at the largest size over the smallest, judged on p99."""

from __future__ import annotations

from rich.console import Console

from cli import bench_report
from cli.bench_suite import growth_ratios


def _fig(p50: float, p99: float) -> dict[str, float | int]:
    return {"p50_ms": p50, "p90_ms": p99, "p99_ms": p99, "max_ms": p99, "qps": 1.0, "errors": 0}


GROWTH = {
    "10000": {"followup_history": _fig(1.0, 4.0), "route_lead": _fig(5.0, 8.0)},
    "100000": {"followup_history": _fig(1.1, 4.4), "route_lead": _fig(6.0, 9.0)},
    "1000000": {"followup_history": _fig(1.2, 4.8), "route_lead": _fig(9.0, 12.0)},
}


def test_the_largest_size_is_compared_with_the_smallest() -> None:
    ratios = growth_ratios(GROWTH)
    assert (ratios["from_leads"], ratios["to_leads"]) == (10_000, 1_000_000)
    assert ratios["followup_history"] == {"p50_ratio": 1.2, "p99_ratio": 1.2, "within_target": True}
    assert ratios["route_lead"] == {"p50_ratio": 1.8, "p99_ratio": 1.5, "within_target": False}


def test_one_size_has_no_ratio() -> None:
    assert growth_ratios({"10000": GROWTH["10000"]}) == {}


def test_the_table_shows_each_size_and_the_verdict() -> None:
    result = {"growth": GROWTH, "growth_ratios": growth_ratios(GROWTH)}
    table = bench_report.growth_table(result)
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "1,000,000 leads" in text
    assert "1.20 ok" in text
    assert "1.50 MISSED" in text
    assert bench_report.growth_table({"growth": {}}) is None
