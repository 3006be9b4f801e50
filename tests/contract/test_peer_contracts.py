"""What one service relies on from another, pinned against the real servers.

The typed clients in shared/clients turn a peer's answers into values (None,
Unrouted, Refused) by status code and ErrorInfo reason. If a service changed a
code or a reason its callers branch on, these tests fail, not production.
The servers run in-process on port 0, against the session's PostgreSQL.
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from shared.clients import (
    ContentClient,
    IngestClient,
    IntelligenceClient,
    PeerError,
    Refused,
    Routed,
    RoutingClient,
    Unrouted,
)
from tests.support import Mesh, mesh

SERVICES = ("ingest", "intelligence", "routing", "content")


@pytest.fixture(scope="module")
async def peers(migrated_dsn: str):  # type: ignore[no-untyped-def]
    overrides = {"content": {"postal_address": "100 Congress Ave, Austin, TX 78701"}}
    async with mesh(migrated_dsn, only=SERVICES, overrides=overrides) as m:
        yield m


async def _lead(m: Mesh, location: str) -> ingest_pb.Lead:
    resp = await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(
                location_id=location, first_name="Ana", phone="+15125550142", budget_usd=400_000
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    return resp.lead


async def test_ingest_unknown_lead_is_none_not_an_error(peers: Mesh) -> None:
    ingest = IngestClient(peers.clients)
    assert await ingest.get_lead(uuid.uuid4(), "loc-contract-1") is None
    lead = await _lead(peers, "loc-contract-1")
    got = await ingest.get_lead(lead.lead_id, "loc-contract-1")
    assert got is not None
    assert got.lead_id == lead.lead_id
    assert await ingest.get_lead(lead.lead_id, "loc-contract-other") is None  # as an unknown id


async def test_ingest_bad_id_is_a_peer_error_with_its_code(peers: Mesh) -> None:
    with pytest.raises(PeerError) as exc:
        await IngestClient(peers.clients).get_lead("not-a-uuid", "loc-contract-1")
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert (exc.value.peer, exc.value.method) == ("ingest", "GetLead")


async def test_routing_with_no_agent_is_unrouted_with_routings_words(peers: Mesh) -> None:
    lead_id, location = str(uuid.uuid4()), f"empty-{uuid.uuid4()}"
    routed = await RoutingClient(peers.clients).route_lead(
        lead_id,
        location_id=location,
        score=10,
        request_id=str(uuid.uuid4()),
        lead=ingest_pb.Lead(lead_id=lead_id, location_id=location),
    )
    assert isinstance(routed, Unrouted)
    assert "has no agents" in routed.why


async def test_routing_names_the_agent_with_the_assignment(peers: Mesh) -> None:
    location = f"loc-{uuid.uuid4()}"
    await peers.clients.routing.UpsertAgent(
        routing_pb.UpsertAgentRequest(
            agent=routing_pb.Agent(location_id=location, name="Harper Santos", available=True),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    lead_id = str(uuid.uuid4())
    routed = await RoutingClient(peers.clients).route_lead(
        lead_id,
        location_id=location,
        score=50,
        request_id=str(uuid.uuid4()),
        lead=ingest_pb.Lead(lead_id=lead_id, location_id=location),
    )
    assert isinstance(routed, Routed)
    assert routed.agent.agent_id == routed.assignment.agent_id
    assert routed.agent.name == "Harper Santos"


async def test_content_guardrail_is_refused_with_its_reason(peers: Mesh) -> None:
    written = await ContentClient(peers.clients).generate_message(
        content_pb.GenerateMessageRequest(
            lead_id=str(uuid.uuid4()),
            location_id="loc-contract-2",
            channel=common_pb2.CHANNEL_SMS,
            purpose=content_pb.MESSAGE_PURPOSE_FIRST_TOUCH,
            context=content_pb.MessageContext(lead_first_name="Ana", city="a family-friendly part of Austin"),
        )
    )
    assert isinstance(written, Refused)
    assert written.reason == "CONTENT_GUARDRAIL"


async def test_content_bad_request_is_not_a_refusal(peers: Mesh) -> None:
    # A malformed request is our bug, not a gate: it must not be recorded as a BLOCKED step.
    with pytest.raises(PeerError) as exc:
        await ContentClient(peers.clients).generate_message(content_pb.GenerateMessageRequest(lead_id="x"))
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_intelligence_scores_the_callers_snapshot_without_reading_ingest(peers: Mesh) -> None:
    # Ingest holds the lead as not preapproved; the snapshot says preapproved. Only a
    # score computed from the snapshot, not from a read of ingest, earns that factor.
    stored = await _lead(peers, "loc-contract-3")
    assert not stored.preapproved
    snapshot = ingest_pb.Lead()
    snapshot.CopyFrom(stored)
    snapshot.preapproved = True
    intelligence = IntelligenceClient(peers.clients)
    with_snapshot = await intelligence.score_lead(stored.lead_id, request_id=str(uuid.uuid4()), lead=snapshot)
    assert "preapproved" in {f.name for f in with_snapshot.factors}
    read_back = await intelligence.score_lead(stored.lead_id, request_id=str(uuid.uuid4()))
    assert "preapproved" not in {f.name for f in read_back.factors}


async def test_intelligence_without_snapshot_reads_ingest_only_for_a_known_location(peers: Mesh) -> None:
    """#15: intelligence reads a lead from ingest for the location of its earlier score; a lead it
    never scored must come with its snapshot (INVALID_ARGUMENT naming lead)."""
    intelligence = IntelligenceClient(peers.clients)
    lead = await _lead(peers, "loc-contract-4")
    with pytest.raises(PeerError) as exc:
        await intelligence.score_lead(lead.lead_id, request_id=str(uuid.uuid4()))
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    first = await intelligence.score_lead(lead.lead_id, request_id=str(uuid.uuid4()), lead=lead)
    again = await intelligence.score_lead(lead.lead_id, request_id=str(uuid.uuid4()))
    assert (first.location_id, again.location_id) == ("loc-contract-4", "loc-contract-4")


async def test_intelligence_refuses_a_snapshot_of_another_lead(peers: Mesh) -> None:
    with pytest.raises(PeerError) as exc:
        await IntelligenceClient(peers.clients).score_lead(
            uuid.uuid4(), request_id=str(uuid.uuid4()), lead=ingest_pb.Lead(lead_id=str(uuid.uuid4()))
        )
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
