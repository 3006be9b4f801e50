"""`leadengine bench` (every headline figure) as a user runs it, tiny: it starts its own mesh as
child processes, loads a data set through it, runs every scenario and writes JSON with every
key issue #14 fixes; a second run reuses the data set. What it counts, never how fast."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from cli.bench_names import SCENARIOS
from cli.bench_suite import Options, suite_command
from tests.conftest import with_database

FIGURES = ("p50_ms", "p90_ms", "p99_ms", "max_ms", "qps", "errors")


@pytest.fixture
async def bench_dsn(postgres_url) -> AsyncIterator[str]:
    name = f"bench_smoke_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(postgres_url, name)
    finally:
        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def options(tmp_path, **kw) -> Options:
    base = dict(
        leads=300,
        agents=20,
        duration_s=0.5,
        concurrency=2,
        rate=40.0,
        scenarios=(),
        json_path=tmp_path / "bench.json",
        growth=False,
        own_mesh=True,  # never a mesh someone else runs on this machine
        reseed=False,
        command="leadengine bench --leads 300",
    )
    return Options(**{**base, **kw})


async def test_tiny_bench_writes_every_figure_and_reuses_its_data_set(bench_dsn, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_ADDR", "_GRPC_PORT", "_DATABASE_URL"))}
    env["DATABASE_URL"] = bench_dsn
    assert await suite_command(tmp_path, env, options(tmp_path)) == 0
    result = json.loads((tmp_path / "bench.json").read_text())

    assert result["leads"] == 300
    assert result["seeding"]["reused"] is False
    assert result["seeding"]["history_leads"] == 20
    assert result["mesh"]["started_here"] is True
    measured = [s for s in SCENARIOS if s != "baseline"]
    assert sorted(result["scenarios"]) == sorted(measured)
    for name in measured:
        fig = result["scenarios"][name]
        assert set(FIGURES) <= set(fig), name
        assert fig["errors"] == 0, (name, fig.get("error_kinds"))
        assert fig["requests"] > 0, name
        assert fig["p50_ms"] <= fig["p99_ms"] <= fig["max_ms"], name
    assert set(FIGURES) <= set(result["scenarios"]["high_intent_query"]["warm"])
    assert (
        result["scenarios"]["webhook_ingest"]["stored"] == result["scenarios"]["webhook_ingest"]["requests"]
    )
    assert sorted(result["baseline"]) == [
        "followup_history_direct",
        "grpc_health",
        "high_intent_query_direct",
    ]
    for fig in result["baseline"].values():
        assert set(FIGURES) <= set(fig)
        assert fig["errors"] == 0
    for name in ("high_intent_query", "followup_history", "route_lead", "new_lead_orchestration"):
        assert result["ratios"][name]["p50_ratio"] > 0, name
    # The warm listing is served from the cache: most lookups hit.
    assert result["cache"]["high_intent_query_warm"]["hit_rate"] > 0.5
    # Every service process was measured for CPU.
    assert set(result["mesh"]["pids_known"]) == {
        "ingest",
        "intelligence",
        "routing",
        "content",
        "coordinator",
    }
    assert result["scenarios"]["route_lead"]["cpu_ms_per_request"]["routing"] > 0

    again = options(tmp_path, scenarios=("followup_history",), json_path=tmp_path / "again.json")
    assert await suite_command(tmp_path, env, again) == 0
    second = json.loads((tmp_path / "again.json").read_text())
    assert second["seeding"]["reused"] is True
    assert list(second["scenarios"]) == ["followup_history"]
    assert second["scenarios"]["followup_history"]["errors"] == 0
