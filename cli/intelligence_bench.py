"""`leadengine bench intelligence`: bulk scoring, ListHighIntentLeads at scale, cache hit rate.

Everything runs in this process on a scratch database (dropped afterwards): a real ingest
and two real intelligence servers, one with the page cache off (uncached figures) and one
as configured (cached figures), sharing REDIS_URL when it is set.

1. `--leads` synthetic leads go in through ImportLeads; ingest's outbox asks intelligence to
   score each batch's leads, and the bench waits until it has. Then one ScoreLocation scores them
   all again: the bulk scoring rate is leads / seconds of that call.
2. Behaviour for `--engaged` of the leads is written as score parts straight into the
   scratch schema (as ScoreLead would have measured it: listing views spread over 60 days);
   recording millions of events through RPCs is not what this measures.
3. ListHighIntentLeads, one call at a time: first pages by tier and threshold and pages
   reached with tokens, p50/p99 uncached and cached.
4. A 1,000-lead import into the location: seconds until intelligence has scored it (ingest's
   outbox, the relay and the scoring worker, which scores just those leads).
5. A mixed workload (80% GetLeadIntelligence over a skewed set of leads, 15% first pages,
   5% rescoring, which invalidates) on the cached server: the hit rate of both levels.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from cli import seed
from cli.bench import percentile, scratch_database, serving
from cli.database import DatabaseError, database, describe, migrations_dir
from cli.terminal import console, errors
from services.ingest.app import create_app as create_ingest
from services.ingest.config import Config as IngestConfig
from services.ingest.repository.outbox import LEADS_IMPORTED
from services.intelligence import score_parts
from services.intelligence.app import create_app as create_intelligence
from services.intelligence.config import Config as IntelligenceConfig
from shared import db, timestamps
from shared.clients import Peers
from shared.config import ServerSettings
from shared.migrate import migrate

SETTINGS = ServerSettings(port=0, drain_s=0.0, grace_s=2.0)


@contextlib.asynccontextmanager
async def _service(dsn: str, name: str, make: Any, cfg: Any, peers: Peers) -> AsyncIterator[tuple[str, Any]]:
    pool = await db.create_pool(dsn, schema=name, service=name, max_size=10)
    app = make(db.Database(pool), peers, cfg)
    app.on_stop.append(pool.close)
    async with serving(app, SETTINGS) as addr:
        yield addr, app


def _engagement_sql(share: float) -> str:
    lam = score_parts.rate(14.0)
    today = score_parts.day_number(timestamps.now())
    # key = ln(points) + rate x (day of the event); kinds holds the same as listing views.
    return f"""
    WITH e AS (SELECT lead_id, ln(3 * (1 + floor(random() * 25))) + {lam} * ({today} - random() * 60) AS k
               FROM scores WHERE random() < {share})
    UPDATE scores s SET eng_key = e.k,
        kinds = jsonb_build_object('listing_view', jsonb_build_object('n', 1, 'capped', 0, 'm', e.k - ln(3)))
    FROM e WHERE s.lead_id = e.lead_id
    """


SMALL_IMPORT = 1000


async def _scoring_idle(scratch: str, location: str) -> None:
    """Until ingest has handed intelligence every import's scoring request for the location (its
    outbox rows are published, and a request is stored before it is answered) and intelligence
    has run them all."""
    conn = await asyncpg.connect(scratch)
    try:
        while True:
            busy = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM ingest.outbox WHERE location_id = $1 AND kind = $2"
                "  AND published_time IS NULL)"
                " OR EXISTS (SELECT 1 FROM intelligence.location_scoring_requests WHERE location_id = $1"
                "  AND (requested > done OR lease_until IS NOT NULL))",
                location,
                LEADS_IMPORTED,
            )
            if not busy:
                return
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def _small_import(clients: Peers, scratch: str, location: str, n: int) -> float:
    """Seconds from the end of an n-lead ImportLeads into the big location until intelligence has
    scored what it asked for (through ingest's outbox, the relay and the scoring worker)."""
    await _scoring_idle(scratch, location)  # the big import's own requests first
    await seed.import_leads(clients, location, n, seed=2)  # another seed: new contacts
    started = time.perf_counter()
    await _scoring_idle(scratch, location)
    return time.perf_counter() - started


async def _timed(calls: Sequence[Any]) -> list[float]:
    latencies = []
    for call in calls:
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


@dataclass(frozen=True)
class Figures:
    leads: int
    import_s: float
    import_scored_s: float  # from the start of the import until the workers scored all of it
    bulk_s: float
    bulk_per_s: float
    import_1000_scored_s: float  # a 1,000-lead import into the location, until scored
    uncached_p50_ms: float
    uncached_p99_ms: float
    cached_p50_ms: float
    cached_p99_ms: float
    mixed_requests: int
    hit_rate_l1: float
    hit_rate_l2: float
    hit_rate: float


def _listing_calls(stub: Any, location: str, tokens: list[str], n: int, rng: random.Random) -> list[Any]:
    shapes = [
        pb.ListHighIntentLeadsRequest(location_id=location),
        pb.ListHighIntentLeadsRequest(location_id=location, tier=pb.SCORE_TIER_HOT),
        pb.ListHighIntentLeadsRequest(location_id=location, tier=pb.SCORE_TIER_WARM),
        pb.ListHighIntentLeadsRequest(location_id=location, min_score=50),
        pb.ListHighIntentLeadsRequest(location_id=location, tier=pb.SCORE_TIER_COLD, page_size=100),
    ]
    calls = []
    for _ in range(n):
        request = rng.choice(shapes)
        if tokens and rng.random() < 0.3:  # a later page of the default listing
            request = pb.ListHighIntentLeadsRequest(location_id=location, page_token=rng.choice(tokens))
        calls.append(lambda r=request: stub.ListHighIntentLeads(r, timeout=10))
    return calls


async def measure(dsn: str, env: Mapping[str, str], leads: int, engaged: float, requests: int) -> Figures:
    location = f"bench-{secrets.token_hex(4)}"
    rng = random.Random(1)  # noqa: S311 - a reproducible workload, not a secret
    redis_url = env.get("REDIS_URL") or None
    async with scratch_database(dsn) as scratch:
        for name in ("ingest", "intelligence"):
            await migrate(scratch, name, migrations_dir(name))
        ingest_cfg = IngestConfig(database_url=scratch, server=SETTINGS)
        base = IntelligenceConfig(database_url=scratch, server=SETTINGS, redis_url=redis_url)
        async with contextlib.AsyncExitStack() as stack:
            bare = Peers()
            stack.push_async_callback(bare.close)
            ingest_addr, _ = await stack.enter_async_context(
                _service(scratch, "ingest", create_ingest, ingest_cfg, bare)
            )
            to_ingest = Peers({"ingest": ingest_addr}, default_timeout_s=600)
            stack.push_async_callback(to_ingest.close)
            uncached_addr, _ = await stack.enter_async_context(
                _service(
                    scratch, "intelligence", create_intelligence, replace(base, page_cache_ttl_s=0), to_ingest
                )
            )
            cached_addr, cached_app = await stack.enter_async_context(
                _service(scratch, "intelligence", create_intelligence, base, to_ingest)
            )
            clients = Peers({"ingest": ingest_addr, "intelligence": uncached_addr}, default_timeout_s=600)
            cached = Peers({"intelligence": cached_addr}, default_timeout_s=600)
            stack.push_async_callback(clients.close)
            stack.push_async_callback(cached.close)

            # Ingest's relay hands each import batch's scoring request to intelligence, as in the mesh.
            bare.connect("intelligence", cached_addr)

            started = time.perf_counter()
            await seed.import_leads(clients, location, leads, seed=1)
            import_s = time.perf_counter() - started
            await _scoring_idle(scratch, location)  # the import's leads scored in the background
            import_scored_s = time.perf_counter() - started
            started = time.perf_counter()
            scored = await clients.intelligence.ScoreLocation(
                pb.ScoreLocationRequest(location_id=location, request_id="bench"), timeout=3600
            )
            bulk_s = time.perf_counter() - started
            conn = await asyncpg.connect(scratch, server_settings={"search_path": "intelligence"})
            try:
                await conn.execute(_engagement_sql(engaged))
                await conn.execute("VACUUM ANALYZE scores")
                lead_ids = [r["lead_id"] for r in await conn.fetch("SELECT lead_id FROM scores LIMIT 20000")]
            finally:
                await conn.close()
            # Pages reached by token, for the uncached figures.
            tokens, token = [], ""
            for _ in range(20):
                page = await clients.intelligence.ListHighIntentLeads(
                    pb.ListHighIntentLeadsRequest(location_id=location, page_token=token), timeout=10
                )
                token = page.next_page_token
                if not token:
                    break
                tokens.append(token)
            warm = _listing_calls(clients.intelligence, location, tokens, 50, rng)
            await _timed(warm)
            uncached = await _timed(_listing_calls(clients.intelligence, location, tokens, requests, rng))
            first_pages = _listing_calls(cached.intelligence, location, [], 50, rng)
            await _timed(first_pages)  # each shape cached once
            cached_ms = await _timed(_listing_calls(cached.intelligence, location, [], requests, rng))

            small_import_s = await _small_import(clients, scratch, location, SMALL_IMPORT)

            cache = cached_app.cache
            before = dict(cache.counts)
            hot = lead_ids[: max(1, len(lead_ids) // 5)]

            def mixed_call() -> Any:
                roll = rng.random()
                if roll < 0.80:
                    pool = hot if rng.random() < 0.8 else lead_ids
                    lead = str(rng.choice(pool))
                    return cached.intelligence.GetLeadIntelligence(
                        pb.GetLeadIntelligenceRequest(lead_id=lead, location_id=location), timeout=10
                    )
                if roll < 0.95:
                    return _listing_calls(cached.intelligence, location, [], 1, rng)[0]()
                lead = str(rng.choice(hot))
                return cached.intelligence.ScoreLead(
                    pb.ScoreLeadRequest(lead_id=lead, request_id=str(uuid.uuid4())), timeout=10
                )

            await _timed([mixed_call for _ in range(requests)])
            counts = {k: cache.counts[k] - before[k] for k in before}
    total = max(1, sum(counts.values()))
    return Figures(
        leads=scored.scored_count,
        import_s=round(import_s, 2),
        import_scored_s=round(import_scored_s, 2),
        bulk_s=round(bulk_s, 2),
        bulk_per_s=round(scored.scored_count / bulk_s),
        import_1000_scored_s=round(small_import_s, 3),
        uncached_p50_ms=round(percentile(uncached, 50), 2),
        uncached_p99_ms=round(percentile(uncached, 99), 2),
        cached_p50_ms=round(percentile(cached_ms, 50), 3),
        cached_p99_ms=round(percentile(cached_ms, 99), 3),
        mixed_requests=requests,
        hit_rate_l1=round(counts["l1_hit"] / total, 3),
        hit_rate_l2=round(counts["l2_hit"] / total, 3),
        hit_rate=round((counts["l1_hit"] + counts["l2_hit"]) / total, 3),
    )


async def intelligence_command(
    data_dir: Path, env: Mapping[str, str], leads: int, engaged: float, requests: int
) -> int:
    try:
        async with database(data_dir, env) as dsn:
            console.print(f"database server: {describe(dsn)} (a scratch database, dropped afterwards)")
            figures = await measure(dsn, env, leads, engaged, requests)
    except DatabaseError as err:
        errors.print(f"[bold red]bench failed:[/] {err}")
        return 1
    for key, value in figures.__dict__.items():
        console.print(f"{key:>18}: {value}")
    return 0
