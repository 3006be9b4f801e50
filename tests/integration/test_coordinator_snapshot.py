"""A lead event that carries the lead: the coordinator acts on that snapshot and does
not read the lead back from ingest.

Real services in-process, but ingest's outbox relay is never told where the
coordinator is, so the only events the coordinator sees are the test's own. The
snapshot deliberately disagrees with ingest (ingest holds no consent, the snapshot
does), so what the journey did shows whose facts it used; ingest's server metrics
count the GetLead calls the journey made.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from prometheus_client import REGISTRY

from services.coordinator.app import create_app
from services.coordinator.compliance import gates
from shared import db
from shared.clients import Peers
from shared.main import DEPENDENCIES
from tests.journeys import DAY_HOURS, PHONE, add_agent, add_lead, comms_of, journey_of, zone_where
from tests.support import Mesh, mesh, running, service_config


@pytest.fixture(scope="module")
async def quiet(migrated_dsn: str) -> AsyncIterator[Mesh]:
    """The mesh with a coordinator that ingest's relay cannot reach."""
    others = tuple(name for name in DEPENDENCIES["coordinator"])
    async with mesh(migrated_dsn, only=others) as m:
        pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator", max_size=5)
        peers = Peers({name: m.addr[name] for name in others})
        try:
            app = create_app(db.Database(pool), peers, service_config("coordinator", migrated_dsn))
            async with running(app) as (addr, _):
                m.addr["coordinator"] = addr
                m.clients.connect("coordinator", addr)
                yield m
        finally:
            await peers.close()
            await pool.close()


def get_lead_calls() -> float:
    """GetLead calls ingest has answered in this process, whatever their status."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "grpc_server_handled"
        for sample in metric.samples
        if sample.name == "grpc_server_handled_total"
        and sample.labels["grpc_service"] == "leadengine.ingest.v1.IngestService"
        and sample.labels["grpc_method"] == "GetLead"
    )


async def created(m: Mesh, lead: ingest_pb.Lead, snapshot: ingest_pb.Lead | None) -> pb.Journey:
    event = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_LEAD_CREATED,
        lead_id=lead.lead_id,
        location_id=lead.location_id,
        lead=snapshot,
    )
    resp = await m.clients.coordinator.HandleLeadEvent(pb.HandleLeadEventRequest(event=event), timeout=10)
    assert not resp.duplicate
    return resp.journey


async def test_a_lead_snapshot_spares_the_journey_every_get_lead(quiet: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    agent = await add_agent(quiet, loc, phone="+12125550123")
    held = await add_lead(quiet, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=False)
    snapshot = ingest_pb.Lead()
    snapshot.CopyFrom(held)
    snapshot.sms_consent = True

    before = get_lead_calls()
    journey = await created(quiet, held, snapshot)
    assert get_lead_calls() == before  # neither the coordinator nor intelligence read it back

    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    assert journey.agent_id == agent.agent_id  # routed (and told: RouteLead returns the agent)
    assert journey.score > 0  # scored from the snapshot
    assert journey.HasField("first_touch_time")
    touch = (await comms_of(quiet, held.lead_id))[-1]
    # The snapshot's consent, not ingest's: a text went out.
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_SMS, pb.COMMUNICATION_STATUS_SIMULATED)


async def test_without_a_snapshot_the_journey_reads_the_lead_once(quiet: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(quiet, loc, phone="+12125550123")
    held = await add_lead(quiet, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=False)

    before = get_lead_calls()
    journey = await created(quiet, held, None)
    # The coordinator reads it; intelligence is handed what the coordinator read.
    assert get_lead_calls() == before + 1

    assert journey.state == pb.JOURNEY_STATE_ACTIVE
    touch = (await comms_of(quiet, held.lead_id))[-1]
    assert (touch.status, touch.status_reason) == (
        pb.COMMUNICATION_STATUS_BLOCKED,
        gates.NO_CONSENTED_CHANNEL,
    )
    assert (await journey_of(quiet, held.lead_id)).score == journey.score
