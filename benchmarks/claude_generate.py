"""GenerateMessage through gRPC on the Claude path, against the local fake Anthropic API.

Content runs in this process (tests.claude) on a scratch database of LEADENGINE_TEST_DATABASE_URL's
server (dropped afterwards) with ANTHROPIC_API_KEY set and the base URL at the fake: the real
anthropic SDK over real HTTP, the prompt, parsing, cost, the usage record, the claim row and the
stored message, minus the model's own time (the fake answers at once); the same calls on the
template path, measured right after, show what the Claude path adds. Then a 529 storm of
--storm requests shows the breaker: how many reached the API. Not collected by pytest.

    .venv/bin/python -m benchmarks.claude_generate [--requests 500] [--concurrency 4] [--storm 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time
import uuid
from typing import Any

import asyncpg
from leadengine.content.v1 import content_service_pb2 as pb

from tests.claude import ADDRESS, claude_content, request
from tests.conftest import LOCAL_URL, with_database
from tests.support import mesh, migrate_all


async def measure(content: Any, count: int, concurrency: int, generator: int) -> tuple[list[float], float]:
    for _ in range(20):  # warm the channel, the pool and the SDK's connection
        await content.GenerateMessage(request(), timeout=10)
    latencies: list[float] = []
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            queue.pop()
            req = request(f"bench-{uuid.uuid4().hex[:6]}", request_id=str(uuid.uuid4()))
            t0 = time.perf_counter()
            msg = (await content.GenerateMessage(req, timeout=10)).message
            latencies.append((time.perf_counter() - t0) * 1000)
            assert msg.generator == generator, msg.fallback_reason

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(admin_dsn: str, count: int, concurrency: int, storm: int) -> dict[str, Any]:
    name = f"claude_generate_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(admin_dsn, name)
    try:
        await migrate_all(dsn)
        async with claude_content(dsn) as c:
            latencies, wall = await measure(c.content, count, concurrency, pb.GENERATOR_CLAUDE)
        # The same calls on the template path, on the same machine at the same time: what
        # the Claude path adds, whatever the load.
        async with mesh(dsn, only=("content",), overrides={"content": {"postal_address": ADDRESS}}) as m:
            templates, _ = await measure(m.clients.content, count, concurrency, pb.GENERATOR_TEMPLATE)
        s = c.settings
        async with claude_content(dsn) as c:
            c.fake.storm = "529"
            reasons: dict[str, int] = {}
            for _ in range(storm):
                msg = (await c.content.GenerateMessage(request(), timeout=30)).message
                reasons[msg.fallback_reason] = reasons.get(msg.fallback_reason, 0) + 1
            storm_calls = c.fake.calls
        return {
            "requests": count,
            "concurrency": concurrency,
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(pct(latencies, 0.95), 2),
            "p99_ms": round(pct(latencies, 0.99), 2),
            "max_ms": round(max(latencies), 2),
            "per_s": round(count / wall, 1),
            "template_p50_ms": round(statistics.median(templates), 2),
            "template_p99_ms": round(pct(templates, 0.99), 2),
            "storm_requests": storm,
            "storm_api_calls": storm_calls,
            "storm_fallback_reasons": reasons,
            "breaker_failures": s.breaker_failures,
            "max_attempts": s.max_attempts,
        }
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--storm", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(LOCAL_URL, args.requests, args.concurrency, args.storm)), indent=2))


if __name__ == "__main__":
    main()
