"""The scenarios of `leadengine bench`, each a stream of calls over real gRPC (the raw stubs the
CLI and the services' typed clients use), and the baseline: the same reads straight from
PostgreSQL with asyncpg, and a bare gRPC health check.

Names are fixed: they are the JSON keys. Every call draws its inputs from one seeded Random,
so two runs at one size send the same requests.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import health_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from cli import bench_routing, seed, synthetic
from cli.bench_load import Call
from cli.bench_names import SCENARIOS, TARGETS_P99_MS
from services.intelligence import score_parts
from services.intelligence.high_intent import PAGE_SQL, list_args
from shared import channels, timestamps
from shared.clients import Peers

__all__ = ["SCENARIOS", "TARGETS_P99_MS", "Direct", "Workload"]

PAGE = 50  # "top 50"
HISTORY_PAGE = 20  # "last 20"
HALF_LIFE_DAYS = 14.0  # intelligence's default Rules.half_life_days: the direct query's decay
TIMEOUT_S = 10.0
NEW_PEOPLE_SEED = 2
FIRST_LOOK_S = 0.02  # new_lead_orchestration: first look for the recorded message
LOOK_EVERY_S = 0.01  # then this often


@dataclass
class Workload:
    peers: Peers
    location_id: str
    history_lead_ids: list[str]
    rng: random.Random
    _people: list[synthetic.SyntheticLead] = field(default_factory=list)

    # --- high_intent_query ------------------------------------------------------------------

    def cold_min_score(self) -> float:
        # A threshold of its own per call: the page cache (keyed by band) never holds it, so
        # each call computes its page, as the first call after a change does.
        return round(self.rng.uniform(60.0, 75.0), 3)

    def high_intent_cold(self) -> Call:
        request = intelligence_pb.ListHighIntentLeadsRequest(
            location_id=self.location_id, page_size=PAGE, min_score=self.cold_min_score()
        )
        return lambda: self.peers.intelligence.ListHighIntentLeads(request, timeout=TIMEOUT_S)

    def high_intent_warm(self) -> Call:
        request = intelligence_pb.ListHighIntentLeadsRequest(location_id=self.location_id, page_size=PAGE)
        return lambda: self.peers.intelligence.ListHighIntentLeads(request, timeout=TIMEOUT_S)

    # --- followup_history -------------------------------------------------------------------

    def history(self) -> Call:
        request = coordinator_pb.ListCommunicationsRequest(
            lead_id=self.rng.choice(self.history_lead_ids),
            location_id=self.location_id,
            page_size=HISTORY_PAGE,
        )
        return lambda: self.peers.coordinator.ListCommunications(request, timeout=TIMEOUT_S)

    # --- route_lead ---------------------------------------------------------------------------

    def route(self) -> Call:
        # A new lead each call, passed as a snapshot: routing's own work, not a GetLead to ingest.
        lead = bench_routing.lead(self.location_id, self.rng)
        request = routing_pb.RouteLeadRequest(lead_id=lead.lead_id, location_id=self.location_id, lead=lead)
        return lambda: self.peers.routing.RouteLead(request, timeout=TIMEOUT_S)

    # --- new_lead_orchestration ---------------------------------------------------------------

    def new_lead(self) -> Call:
        if not self._people:
            # New people: another seed than the imported book, made once (each costs a block).
            self._people = list(synthetic.leads(NEW_PEOPLE_SEED, 0, synthetic.BLOCK))
        lead = seed.lead_proto(self.rng.choice(self._people), self.location_id)
        tag = uuid.uuid4().hex
        lead.external_contact_id = f"bench-new-{tag}"
        lead.email = f"bench.{tag[:16]}@example.com"
        request = ingest_pb.UpsertLeadRequest(lead=lead, request_id=str(uuid.uuid4()))
        return lambda: self.orchestrate(request)

    async def orchestrate(self, request: ingest_pb.UpsertLeadRequest) -> float:
        """UpsertLead, then wait for the coordinator to record the lead's first message. Returns
        the seconds from sending the lead to that message's create_time (the mesh's clock, which
        is this machine's): observed where it happened, not when a poll noticed it."""
        started = time.time()
        resp = await self.peers.ingest.UpsertLead(request, timeout=TIMEOUT_S)
        lead_id = resp.lead.lead_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30.0
        # The figure is the message's create_time, so how often we look changes only what the
        # looking costs: each look is a ListCommunications on the coordinator that is doing the
        # work measured, on the same cores. Look once the path could be done, then every 10 ms.
        await asyncio.sleep(FIRST_LOOK_S)
        while True:
            try:
                page = await self.peers.coordinator.ListCommunications(
                    coordinator_pb.ListCommunicationsRequest(
                        lead_id=lead_id, location_id=request.lead.location_id, page_size=HISTORY_PAGE
                    ),
                    timeout=TIMEOUT_S,
                )
            except grpc.aio.AioRpcError as err:
                # The coordinator has not heard of the lead yet: a claimed read of a lead it
                # does not know is NOT_FOUND (#15), not an empty history.
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                page = coordinator_pb.ListCommunicationsResponse()
            if page.communications:
                first = min(c.create_time.ToDatetime(UTC).timestamp() for c in page.communications)
                return first - started
            if loop.time() > deadline:
                raise TimeoutError(f"lead {lead_id}: no message recorded within 30 s")
            await asyncio.sleep(LOOK_EVERY_S)


# --- baseline ---------------------------------------------------------------------------------


class Direct:
    """The same reads as the mesh's, straight from PostgreSQL: what the database alone costs."""

    def __init__(self, pool: asyncpg.Pool, workload: Workload) -> None:
        self._pool = pool
        self._w = workload

    def high_intent(self) -> Call:
        min_score = self._w.cold_min_score()

        async def call() -> None:
            lam_t = score_parts.rate(HALF_LIFE_DAYS) * score_parts.day_number(timestamps.now())
            args = list_args(self._w.location_id, lam_t, (min_score, float("inf")), None, PAGE)
            async with self._pool.acquire() as conn:
                await conn.fetch(
                    PAGE_SQL.replace("FROM high_intent_page", "FROM intelligence.high_intent_page"), *args
                )

        return call

    def history(self) -> Call:
        lead_id = uuid.UUID(self._w.rng.choice(self._w.history_lead_ids))

        async def call() -> None:
            async with self._pool.acquire() as conn:
                await conn.fetch(
                    "SELECT * FROM coordinator.communications WHERE lead_id = $1"
                    " ORDER BY create_time DESC, communication_id DESC LIMIT $2",
                    lead_id,
                    HISTORY_PAGE + 1,
                )

        return call


def health_call(channel: grpc.aio.Channel) -> Callable[[], Call]:
    stub = channels.health_client(channel)
    request = health_pb2.HealthCheckRequest(service="")

    def make() -> Call:
        return lambda: stub.Check(request, timeout=TIMEOUT_S)

    return make


async def cache_counts(peers: Peers) -> dict[str, int]:
    resp = await peers.intelligence.GetCacheStats(intelligence_pb.GetCacheStatsRequest(), timeout=TIMEOUT_S)
    return {"l1_hit": resp.l1_hit_count, "l2_hit": resp.l2_hit_count, "miss": resp.miss_count}


def hit_rates(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    delta = {k: after[k] - before[k] for k in before}
    total = sum(delta.values())
    rate = (lambda n: round(n / total, 4)) if total else (lambda n: None)
    return {
        "lookups": total,
        "l1_hit_rate": rate(delta["l1_hit"]),
        "l2_hit_rate": rate(delta["l2_hit"]),
        "hit_rate": rate(delta["l1_hit"] + delta["l2_hit"]),
    }
