"""`leadengine bench webhooks` end to end: what it counts, never how fast it was."""

from __future__ import annotations

import json

import asyncpg

from cli.bench import webhooks_command


async def test_bench_stores_every_webhook_and_reports_both_loads_as_json(
    postgres_url, tmp_path, capsys
) -> None:
    status = await webhooks_command(tmp_path, {"DATABASE_URL": postgres_url}, 40, 4, True)
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (result["events"], result["concurrency"], result["stored"]) == (40, 4, 40)
    for load in ("webhooks", "baseline"):
        assert result[load]["requests"] == 40
        assert result[load]["ok"] == 40
        assert result[load]["failed"] == {}
        assert result[load]["p50_ms"] <= result[load]["p99_ms"]
    assert result["throughput_ratio"] > 0
    assert result["p99_ratio"] > 0
    # The scratch database is gone again.
    admin = await asyncpg.connect(postgres_url)
    try:
        left = await admin.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'leadengine_bench_%'"
        )
    finally:
        await admin.close()
    assert left == 0


async def test_bench_refuses_an_empty_load(postgres_url, tmp_path) -> None:
    assert await webhooks_command(tmp_path, {"DATABASE_URL": postgres_url}, 0, 4, True) == 2
