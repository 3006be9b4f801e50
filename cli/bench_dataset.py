"""The data set `leadengine bench` measures, loaded through the mesh's RPCs and reused when there.

One location per size (`bench-<leads>`), so runs at 10 k, 100 k and 1 M share a database
without mixing. Loading goes: agents (`seed.upsert_agents`), leads (`seed.import_leads`, with
its progress bar), bulk scoring (ScoreLocation), engagement for a share of the leads, then
"history leads": new leads sent through UpsertLead so the coordinator orchestrates each one
and records its messages, which gives ListCommunications real history to read.

Engagement is written straight into intelligence's scores (as ScoreLead would have stored it:
listing views spread over 60 days), the way `bench intelligence` does: recording millions of
events through RPCs is a different bench. Without it every imported lead's score is its fit
alone and the high-intent listing would be measured over a handful of distinct scores.

The location's agents get a week to accept an assignment (see _quiet_reassignment).

The last history lead having a message, and the last imported lead having a score, mark a
complete data set; a run that finds both reuses it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import asyncpg
import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from cli import seed, synthetic
from cli.terminal import console
from services.ingest.repository.outbox import LEADS_IMPORTED
from services.intelligence import score_parts
from shared import timestamps
from shared.clients import Peers

SEED = 1
ENGAGED_SHARE = 0.3
ACCEPT_SLA_S = 7 * 24 * 3600  # the most a location may set
_NAMESPACE = uuid.UUID("0b7d35a4-7f0e-4a8a-9d43-1c2b0b6f5e11")


def location_for(leads: int) -> str:
    return f"bench-{leads}"


def history_lead_count(leads: int) -> int:
    """Leads given message history: 1 in 1,000, at least 20, at most 1,000."""
    return max(20, min(1000, leads // 1000))


@dataclass(frozen=True)
class DataSet:
    location_id: str
    leads: int
    agents: int
    history_lead_ids: list[str]
    reused: bool
    seconds: dict[str, float]  # step -> seconds it took (empty when reused)


def _history_lead(location_id: str, leads: int, i: int) -> ingest_pb.Lead:
    # Synthetic lead leads + i: the same person data as the import would have made, its own id.
    one = next(synthetic.leads(SEED, leads + i, 1))
    proto = seed.lead_proto(one, location_id)
    proto.external_contact_id = f"bench-history-{i}"
    return proto


async def _lead_id(peers: Peers, location_id: str, external_id: str) -> str | None:
    try:
        resp = await peers.ingest.GetLeadByExternalId(
            ingest_pb.GetLeadByExternalIdRequest(location_id=location_id, external_contact_id=external_id),
            timeout=10,
        )
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return str(resp.lead.lead_id)


async def has_history(peers: Peers, location_id: str, lead_id: str) -> bool:
    try:
        resp = await peers.coordinator.ListCommunications(
            coordinator_pb.ListCommunicationsRequest(lead_id=lead_id, location_id=location_id, page_size=1),
            timeout=10,
        )
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:  # no journey yet: the coordinator has not heard of it
            return False
        raise
    return len(resp.communications) > 0


async def _complete(peers: Peers, location_id: str, leads: int) -> list[str] | None:
    """The history leads' ids when the data set is complete, else None."""
    last = await _lead_id(peers, location_id, synthetic.external_contact_id(SEED, leads - 1))
    if last is None:
        return None
    scored = await peers.intelligence.BatchGetLeadIntelligence(
        intelligence_pb.BatchGetLeadIntelligenceRequest(location_id=location_id, lead_ids=[last]), timeout=10
    )
    if not scored.intelligence:
        return None
    ids = []
    for i in range(history_lead_count(leads)):
        found = await _lead_id(peers, location_id, f"bench-history-{i}")
        if found is None:
            return None
        ids.append(found)
    return ids if await has_history(peers, location_id, ids[-1]) else None


async def _imports_scored(dsn: str, location_id: str, timeout_s: float) -> None:
    """Wait until the bulk scoring that each ImportLeads batch requests (through ingest's outbox)
    has run: engagement written while that run still rewrites the location's scores deadlocks
    with it, or is overwritten."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        end = time.monotonic() + timeout_s
        while True:
            pending = await conn.fetchval(
                "SELECT (SELECT count(*) FROM ingest.outbox WHERE location_id = $1 AND kind = $2"
                "  AND published_time IS NULL)"
                " + (SELECT count(*) FROM intelligence.location_scoring_requests WHERE location_id = $1"
                "  AND (requested > done OR lease_until IS NOT NULL))",
                location_id,
                LEADS_IMPORTED,
            )
            if not pending:
                return
            if time.monotonic() > end:
                raise RuntimeError(
                    f"the import's background scoring of {location_id} did not finish in {timeout_s:.0f} s"
                )
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def _add_engagement(dsn: str, location_id: str) -> None:
    lam = score_parts.rate(14.0)
    today = score_parts.day_number(timestamps.now())
    # key = ln(points) + rate x (day of the event): 1..25 listing views within the last 60 days.
    sql = f"""
    WITH e AS (SELECT lead_id, ln(3 * (1 + floor(random() * 25))) + {lam} * ({today} - random() * 60) AS k
               FROM scores WHERE location_id = $1 AND random() < {ENGAGED_SHARE})
    UPDATE scores s SET eng_key = e.k,
        kinds = jsonb_build_object('listing_view', jsonb_build_object('n', 1, 'capped', 0, 'm', e.k - ln(3)))
    FROM e WHERE s.lead_id = e.lead_id
    """
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "intelligence"}, timeout=10)
    try:
        await conn.execute(sql, location_id, timeout=3600)
        await conn.execute("VACUUM ANALYZE scores", timeout=3600)
    finally:
        await conn.close()


async def _history(peers: Peers, location_id: str, leads: int, timeout_s: float) -> list[str]:
    """Sends the history leads through UpsertLead and waits until each has a message recorded."""
    gate = asyncio.Semaphore(8)
    count = history_lead_count(leads)

    async def upsert(i: int) -> str:
        async with gate:
            resp = await peers.ingest.UpsertLead(
                ingest_pb.UpsertLeadRequest(
                    lead=_history_lead(location_id, leads, i),
                    request_id=str(uuid.uuid5(_NAMESPACE, f"{location_id}/history/{i}")),
                ),
                timeout=30,
            )
        return str(resp.lead.lead_id)

    ids = list(await asyncio.gather(*(upsert(i) for i in range(count))))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    waiting = set(ids)
    while waiting:
        done = [i for i in list(waiting) if await has_history(peers, location_id, i)]
        waiting.difference_update(done)
        if waiting and loop.time() > deadline:
            raise TimeoutError(
                f"{len(waiting)} of {count} history leads had no message recorded after {timeout_s:g}s;"
                " is the coordinator's outbox relay running (see the coordinator's and ingest's logs)?"
            )
        if waiting:
            await asyncio.sleep(0.5)
    return ids


async def _quiet_reassignment(peers: Peers, location_id: str) -> None:
    """Agents get a week to accept: the bench's thousands of routed leads would otherwise each be
    offered to the next agent after 5 minutes (a whole routing plan each), and that background
    work, left by one run, would load the next run's figures."""
    await peers.routing.SetRoutingSettings(
        routing_pb.SetRoutingSettingsRequest(
            location_id=location_id,
            settings=routing_pb.RoutingSettings(accept_sla_seconds=ACCEPT_SLA_S),
        ),
        timeout=10,
    )


async def ensure(peers: Peers, dsn: str, leads: int, agents: int, *, force: bool = False) -> DataSet:
    """The size's data set, loaded unless a complete one is there already."""
    location_id = location_for(leads)
    await _quiet_reassignment(peers, location_id)
    if not force:
        found = await _complete(peers, location_id, leads)
        if found is not None:
            # Agents are cheap and idempotent: a different --agents still takes effect.
            await seed.upsert_agents(peers, location_id, agents, seed=SEED, capacity=1000)
            console.print(f"data set [bold]{location_id}[/] is there already: reused")
            return DataSet(location_id, leads, agents, found, reused=True, seconds={})
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await seed.upsert_agents(peers, location_id, agents, seed=SEED, capacity=1000)
    seconds["agents"] = time.perf_counter() - started
    started = time.perf_counter()
    totals = await seed.import_leads(peers, location_id, leads, seed=SEED)
    seconds["import"] = time.perf_counter() - started
    if totals.received != leads or totals.rejected:
        raise RuntimeError(
            f"ingest received {totals.received} of {leads} leads and rejected {totals.rejected}"
        )
    started = time.perf_counter()
    with console.status(f"scoring {leads:,} leads (ScoreLocation)"):
        await peers.intelligence.ScoreLocation(
            intelligence_pb.ScoreLocationRequest(location_id=location_id, request_id=f"bench-{leads}"),
            timeout=7200,
        )
    seconds["score"] = time.perf_counter() - started
    started = time.perf_counter()
    with console.status(f"engagement for {ENGAGED_SHARE:.0%} of the leads"):
        await _imports_scored(dsn, location_id, timeout_s=1800 + leads / 100)
        await _add_engagement(dsn, location_id)
    seconds["engagement"] = time.perf_counter() - started
    started = time.perf_counter()
    with console.status(f"{history_lead_count(leads)} new leads through the mesh, for message history"):
        ids = await _history(peers, location_id, leads, timeout_s=120 + history_lead_count(leads))
    seconds["history"] = time.perf_counter() - started
    console.print(
        f"data set [bold]{location_id}[/] loaded: "
        + ", ".join(f"{step} {s:.1f}s" for step, s in seconds.items())
    )
    return DataSet(location_id, leads, agents, ids, reused=False, seconds=seconds)
