"""What `leadengine bench` says about where it ran, and its result as a table for people."""

from __future__ import annotations

import os
import platform
import subprocess
from contextlib import suppress
from pathlib import Path
from typing import Any

from rich.table import Table

from cli.bench_names import GROWTH_TARGET_RATIO, TARGETS_P99_MS


def machine() -> dict[str, Any]:
    cpu = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


def commit() -> str:
    """HEAD of the checkout this runs from, '+dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _cpu(fig: dict[str, Any]) -> str:
    cpu = fig.get("cpu_ms_per_request") or {}
    return "-" if cpu.get("total") is None else f"{cpu['total']:.2f}"


def _ratio(result: dict[str, Any], name: str) -> str:
    r = result.get("ratios", {}).get(name)
    if not r or r.get("p50_ratio") is None:
        return "-"
    against = "health" if r["against"] == "grpc_health" else "SQL"
    return f"{r['p50_ratio']:.2f}x {against}"


def table(result: dict[str, Any]) -> Table:
    t = Table(
        title=f"leadengine bench: {result['leads']:,} leads, {result['agents']:,} agents,"
        f" concurrency {result['settings']['concurrency']}, {result['settings']['duration_s']:g}s each",
        caption=f"commit {result['commit']} on {result['machine']['cpus']} CPUs, load at start"
        f" {result['machine']['load_average_at_start'][0]:.1f}",
    )
    t.add_column("scenario", no_wrap=True)
    for column in ("calls", "p50 ms", "p90 ms", "p99 ms", "max ms", "qps", "errors"):
        t.add_column(column, justify="right")
    for column in ("p99 target", "p50 vs baseline", "CPU ms/call"):
        t.add_column(column, justify="right")
    rows: list[tuple[str, dict[str, Any]]] = []
    for name, fig in result["scenarios"].items():
        rows.append((name, fig))
        if "warm" in fig:
            rows.append((f"{name}_warm", fig["warm"]))
    rows += [(name, fig) for name, fig in result.get("baseline", {}).items()]
    for name, fig in rows:
        target = TARGETS_P99_MS.get(name)
        p99 = fig.get("p99_ms")
        met = "" if target is None or p99 is None else (" ok" if p99 <= target else " MISSED")
        t.add_row(
            name,
            str(fig.get("requests", "-")),
            _ms(fig.get("p50_ms")),
            _ms(fig.get("p90_ms")),
            _ms(p99),
            _ms(fig.get("max_ms")),
            f"{fig.get('qps', 0):.0f}",
            str(fig.get("errors", "-")),
            "-" if target is None else f"{target:g}{met}",
            _ratio(result, name),
            _cpu(fig),
        )
    return t


def growth_table(result: dict[str, Any]) -> Table | None:
    """p50 / p99 of each read per data-set size, and the largest size over the smallest."""
    growth = result.get("growth") or {}
    ratios = result.get("growth_ratios") or {}
    if not growth:
        return None
    sizes = sorted(growth, key=int)
    t = Table(
        title="growth: p50 / p99 ms per data-set size"
        + (
            f"; {ratios['to_leads']:,} within {GROWTH_TARGET_RATIO:g}x of {ratios['from_leads']:,} (p99)?"
            if ratios
            else ""
        )
    )
    t.add_column("scenario", no_wrap=True)
    for size in sizes:
        t.add_column(f"{int(size):,} leads", justify="right")
    t.add_column("p50 ratio", justify="right")
    t.add_column("p99 ratio", justify="right")
    names = sorted({name for figs in growth.values() for name in figs})
    for name in names:
        cells = []
        for size in sizes:
            fig = growth[size].get(name) or {}
            cells.append(f"{_ms(fig.get('p50_ms'))} / {_ms(fig.get('p99_ms'))}")
        r = ratios.get(name) or {}
        p99 = "-" if r.get("p99_ratio") is None else f"{r['p99_ratio']:.2f}"
        if r.get("within_target") is not None:
            p99 += " ok" if r["within_target"] else " MISSED"
        p50 = "-" if r.get("p50_ratio") is None else f"{r['p50_ratio']:.2f}"
        t.add_row(name, *cells, p50, p99)
    return t


def notes(result: dict[str, Any]) -> list[str]:
    lines = []
    for name, rates in result.get("cache", {}).items():
        if rates.get("hit_rate") is not None:
            lines.append(
                f"cache during {name}: {rates['hit_rate']:.1%} hits"
                f" (L1 {rates['l1_hit_rate']:.1%}, L2 {rates['l2_hit_rate']:.1%})"
                f" of {rates['lookups']} lookups"
            )
    mixed = result["scenarios"].get("mixed")
    if mixed:
        best = mixed.get("max_rate_within_targets")
        lines.append(
            "mixed: "
            + (
                f"highest rate within every p99 target: {best:g}/s"
                if best
                else "no rate tried met every p99 target"
            )
            + "; steps "
            + ", ".join(
                f"{s['rate']:g}/s→{s['qps']:.0f} {'ok' if s['within_targets'] else 'over'}"
                for s in mixed["rate_steps"]
            )
        )
    for size, figs in result.get("growth", {}).items():
        parts = [f"{k} p99 {v['p99_ms']:.2f}" for k, v in figs.items() if v.get("p99_ms") is not None]
        lines.append(f"growth {int(size):,} leads: " + ", ".join(parts))
    seeding = result.get("seeding", {})
    if seeding:
        lines.append(
            "data set: "
            + (
                "reused"
                if seeding.get("reused")
                else ", ".join(f"{k} {v:.1f}s" for k, v in seeding["seconds"].items())
            )
        )
    return lines
