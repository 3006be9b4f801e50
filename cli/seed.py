"""`leadengine seed`: load synthetic agents, leads and events into a running mesh, over RPCs only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TimeRemainingColumn

from cli import synthetic
from cli.terminal import console
from shared import timestamps
from shared.clients import Peers

DEMO_LOCATION = "demo-location"
CHUNK = 50_000  # leads per ImportLeads stream: a failed stream costs at most this much
EVENT_CONCURRENCY = 32
STREAMS = 4  # concurrent ImportLeads streams


def lead_proto(lead: synthetic.SyntheticLead, location_id: str) -> ingest_pb.Lead:
    return ingest_pb.Lead(
        location_id=location_id,
        external_contact_id=lead.external_contact_id,
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        phone=lead.phone,
        timezone=lead.timezone,
        city=lead.city,
        state=lead.state,
        country="US",
        source=ingest_pb.LeadSource.Value(lead.source),
        tags=lead.tags,
        budget_usd=lead.budget_usd,
        timeline_months=lead.timeline_months,
        preapproved=lead.preapproved,
        sms_consent=lead.sms_consent,
        email_consent=lead.email_consent,
    )


def agent_proto(agent: synthetic.SyntheticAgent, location_id: str, capacity: int = 0) -> routing_pb.Agent:
    return routing_pb.Agent(
        location_id=location_id,
        external_user_id=agent.external_user_id,
        name=agent.name,
        email=agent.email,
        phone=agent.phone,
        timezone=agent.timezone,
        capacity=capacity or agent.capacity,
        available=True,
    )


async def upsert_agents(
    peers: Peers, location_id: str, count: int, *, seed: int, capacity: int = 0
) -> list[routing_pb.Agent]:
    """Idempotent: the same (seed, location) upserts the same agents, keyed by request_id."""
    result = []
    for agent in synthetic.agents(seed, location_id, count):
        resp = await peers.routing.UpsertAgent(
            routing_pb.UpsertAgentRequest(
                agent=agent_proto(agent, location_id, capacity), request_id=agent.request_id
            ),
            timeout=10,
        )
        result.append(resp.agent)
    return result


async def ensure_agents(
    peers: Peers, location_id: str, count: int = 3
) -> tuple[list[routing_pb.Agent], bool]:
    """The location's agents, creating `count` demo agents when it has none. True when it created."""
    resp = await peers.routing.ListAgents(
        routing_pb.ListAgentsRequest(location_id=location_id, page_size=50), timeout=10
    )
    if resp.agents:
        return list(resp.agents), False
    # Demo agents take many leads, so repeated demos never run out of capacity.
    return await upsert_agents(peers, location_id, count, seed=0, capacity=500), True


@dataclass
class ImportTotals:
    sent: int = 0
    received: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: list[ingest_pb.ImportRejection] = field(default_factory=list)


def _requests(
    seed: int, location_id: str, start: int, count: int, advance: Callable[[int], None]
) -> Iterator[ingest_pb.ImportLeadsRequest]:
    step = 0
    for lead in synthetic.leads(seed, start, count):
        yield ingest_pb.ImportLeadsRequest(
            location_id=location_id, lead=lead_proto(lead, location_id), row=lead.index + 1
        )
        step += 1
        if step == 1000:  # per-row progress updates would cost more than the rows
            advance(step)
            step = 0
    advance(step)


async def import_leads(
    peers: Peers, location_id: str, count: int, *, seed: int, chunk: int = CHUNK, streams: int = STREAMS
) -> ImportTotals:
    """Streams count leads in chunks, `streams` chunks at a time: ingest validates one
    stream's rows while it copies another's, so a few streams load faster than one."""
    totals = ImportTotals()
    # Small loads still spread over every stream; big ones go in CHUNK-sized pieces.
    chunk = max(1, min(chunk, -(-count // streams)))
    starts = iter(range(0, count, chunk))  # shared: each chunk goes to exactly one stream
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(), TaskProgressColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("importing leads", total=count)

        def advance(n: int) -> None:
            progress.advance(task, n)

        async def stream() -> None:
            for start in starts:
                size = min(chunk, count - start)
                resp = await peers.ingest.ImportLeads(
                    _requests(seed, location_id, start, size, advance),
                    timeout=max(300.0, size / 100),  # ample for slow disks; a hung stream still ends
                )
                totals.sent += size
                totals.received += resp.received_count
                totals.imported += resp.imported_count
                totals.skipped += resp.skipped_count
                totals.rejected += resp.rejected_count
                totals.rejections.extend(resp.rejections[: max(0, 20 - len(totals.rejections))])

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, min(streams, -(-count // chunk)))):
                    group.create_task(stream())
        except* grpc.aio.AioRpcError as failed:
            raise failed.exceptions[0] from None
    return totals


async def record_events(peers: Peers, location_id: str, lead_count: int, count: int, *, seed: int) -> int:
    """Records count behaviour events for a sample of the seeded leads; returns how many were new."""
    planned = synthetic.events(seed, lead_count, count, timestamps.now())
    lead_ids: dict[int, str] = {}
    gate = asyncio.Semaphore(EVENT_CONCURRENCY)

    async def lead_id(index: int) -> str:
        if index not in lead_ids:
            resp = await peers.ingest.GetLeadByExternalId(
                ingest_pb.GetLeadByExternalIdRequest(
                    location_id=location_id, external_contact_id=synthetic.external_contact_id(seed, index)
                ),
                timeout=10,
            )
            lead_ids[index] = resp.lead.lead_id
        return lead_ids[index]

    for index in sorted({e.lead_index for e in planned}):  # sequential: each id is fetched once
        await lead_id(index)

    async def record(event: synthetic.SyntheticEvent) -> bool:
        async with gate:
            resp = await peers.ingest.RecordEvent(
                ingest_pb.RecordEventRequest(
                    event=ingest_pb.LeadEvent(
                        event_id=event.event_id,
                        lead_id=lead_ids[event.lead_index],
                        location_id=location_id,
                        type=ingest_pb.EventType.Value(event.type),
                        occurred_time=timestamps.to_proto(event.occurred_time),
                        listing_id=event.listing_id,
                        listing_price_usd=event.listing_price_usd,
                    ),
                    request_id=event.event_id,
                ),
                timeout=10,
            )
        return not resp.duplicate

    results = await asyncio.gather(*(record(e) for e in planned))
    return sum(results)


async def run(
    *, location_id: str, agent_count: int, lead_count: int, event_count: int, seed: int, peers: Peers
) -> int:
    started = time.perf_counter()
    try:
        agents = await upsert_agents(peers, location_id, agent_count, seed=seed)
        console.print(f"agents: {len(agents)} upserted in location [bold]{location_id}[/]")
        if lead_count:
            totals = await import_leads(peers, location_id, lead_count, seed=seed)
            console.print(
                f"leads: {totals.received} received, {totals.imported} imported,"
                f" {totals.skipped} already there, {totals.rejected} rejected"
            )
            for r in totals.rejections:
                console.print(f"  row {r.row}: {r.field} {r.reason}")
            if totals.received != totals.sent:
                console.print(f"[red]ingest received {totals.received} of {totals.sent} rows sent[/]")
                return 1
            # Each import batch that inserted leads asks intelligence to score them
            # (RequestLocationScoring through ingest's outbox); scoring them here again doubled the work.
            console.print("scores: intelligence scores the imported leads in the background")
        if event_count and lead_count:
            new = await record_events(peers, location_id, lead_count, event_count, seed=seed)
            console.print(f"events: {event_count} recorded ({new} new)")
    except grpc.aio.AioRpcError as err:
        console.print(f"[red]seed failed:[/] {err.code().name}: {err.details()}")
        return 1
    console.print(f"done in {time.perf_counter() - started:.1f}s")
    return 0
