"""A webhook storm: 1,000 concurrent posts, 30 % redeliveries, 5 % forged signatures.
Exactly the valid distinct events are stored, each once, and every lead exists once."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.databases import own_database
from tests.journeys import fresh_phone
from tests.support import mesh
from tests.webhooks import Signer, compact, gateway, ghl_contact

POSTS, DUPLICATE_SHARE, FORGED_SHARE = 1000, 0.30, 0.05
# Client and server share this process and its 1,024 file descriptors: 400 connections in
# flight (800 sockets). More queue inside httpx, whose pool is quadratic in waiting requests.
IN_FLIGHT = 400


@pytest.fixture(scope="module")
async def storm_dsn(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own: the storm leaves hundreds of leads whose outbox rows no
    coordinator here takes, and in the session database every later module's relay would
    have to deliver them before its own."""
    async with own_database(postgres_url) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def gateway_url(storm_dsn: str) -> AsyncIterator[tuple[str, Signer]]:
    signer = Signer()
    async with mesh(storm_dsn, only=("ingest",)) as m:
        async with gateway(signer.config(m.addr["ingest"], ingest_timeout_s=30.0)) as url:
            yield url, signer


async def test_a_storm_stores_exactly_the_valid_distinct_events(
    gateway_url: tuple[str, Signer], storm_dsn: str, fault_report: dict[str, Any]
) -> None:
    url, signer = gateway_url
    rng = random.Random(15)
    location = f"loc-storm-{uuid.uuid4().hex[:8]}"
    forged_n, duplicate_n = int(POSTS * FORGED_SHARE), int(POSTS * DUPLICATE_SHARE)
    distinct = [
        compact(ghl_contact(location, phone=fresh_phone(), email=f"{uuid.uuid4().hex[:10]}@example.com"))
        for _ in range(POSTS - forged_n - duplicate_n)
    ]
    impostor = ed25519.Ed25519PrivateKey.generate()
    forged = [compact(ghl_contact(location)) for _ in range(forged_n)]
    posts: list[tuple[bytes, dict[str, str], bool]] = [
        (raw, signer.ghl_headers(raw), True) for raw in distinct
    ]
    posts += [(raw, signer.ghl_headers(raw), True) for raw in rng.choices(distinct, k=duplicate_n)]
    posts += [(raw, Signer(ghl=impostor).ghl_headers(raw), False) for raw in forged]
    rng.shuffle(posts)

    async with httpx.AsyncClient(
        base_url=url, timeout=120, limits=httpx.Limits(max_connections=IN_FLIGHT)
    ) as http:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def post(raw: bytes, headers: dict[str, str]) -> int:
            async with gate:
                return await deliver(raw, headers)

        async def deliver(raw: bytes, headers: dict[str, str]) -> int:
            # As HighLevel does: a 429 ("not stored, deliver again") is retried with the same body.
            # No answer at all (connection reset under the storm) is retried the same way.
            for attempt in range(30):
                try:
                    code = (await http.post("/webhooks/ghl", content=raw, headers=headers)).status_code
                except httpx.TransportError:
                    code = 0
                if code not in (0, 429):
                    return code
                pushback.append(code)
                await asyncio.sleep(min(0.1 * 2**attempt, 1.0))
            return 429

        pushback: list[int] = []
        codes = await asyncio.gather(*(post(raw, headers) for raw, headers, _ in posts))

    answered = list(zip(codes, (valid for _, _, valid in posts), strict=True))
    assert Counter(code for code, valid in answered if valid) == {200: POSTS - forged_n}
    assert Counter(code for code, valid in answered if not valid) == {401: forged_n}

    conn = await asyncpg.connect(storm_dsn)
    try:
        stored = await conn.fetch(
            "SELECT provider_event_id FROM ingest.inbox WHERE provider = $1 AND location_id = $2",
            pb.PROVIDER_GHL,
            location,
        )
        leads = await conn.fetchval(
            "SELECT count(*) FROM ingest.leads WHERE location_id = $1 AND delete_time IS NULL", location
        )
        # Only ingest ran here: hundreds of outbox rows nobody relayed would otherwise be the
        # first work of the next module's mesh, ahead of its own leads (30 s waits under load).
        await conn.execute(
            "UPDATE ingest.outbox SET published_time = now()"
            " WHERE location_id = $1 AND published_time IS NULL",
            location,
        )
    finally:
        await conn.close()
    expected = {json.loads(raw)["webhookId"] for raw in distinct}
    assert {r["provider_event_id"] for r in stored} == expected
    assert leads == len(distinct)
    fault_report.update(
        posts=POSTS,
        forged=forged_n,
        deliver_again_answers=pushback.count(429),
        no_answer=pushback.count(0),
        redeliveries=duplicate_n,
        distinct_valid=len(distinct),
        stored=len(stored),
        leads=leads,
        duplicates=len(stored) - len(expected),
        losses=len(expected - {r["provider_event_id"] for r in stored}),
    )
