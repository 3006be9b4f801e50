"""How routing hears of a lead's life and how the mesh hears of outcomes: all five services
in-process on real PostgreSQL. RecordOutcome WON reaches the coordinator through routing's
outbox relay and stops the journey; deletion, an opt-out of every channel and activity reach
routing from the coordinator; RouteLead reads the lead from ingest when given only its id."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.journeys.repository import CONVERTED
from tests.integration.test_ingest_webhooks import GHL_CONTACT, deliver, ghl_event, lead_of
from tests.journeys import (
    add_agent,
    add_lead,
    eventually,
    handle,
    inbound,
    journey_of,
    notes_of,
    started_lead,
)
from tests.support import Mesh, mesh


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "routing": {"outbox_poll_s": 0.1},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(migrated_dsn, overrides=overrides) as running:
        yield running


async def assignment_of(m: Mesh, lead: ingest_pb.Lead) -> routing_pb.Assignment:
    resp = await m.clients.routing.GetAssignment(
        routing_pb.GetAssignmentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    return resp.assignment


async def test_won_stops_the_journey_through_the_outbox(m: Mesh) -> None:
    lead = await started_lead(m)
    assert (await journey_of(m, lead.lead_id)).state == pb.JOURNEY_STATE_ACTIVE
    resp = await m.clients.routing.RecordOutcome(
        routing_pb.RecordOutcomeRequest(
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            outcome=routing_pb.OUTCOME_WON,
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    assert resp.assignment.state == routing_pb.ASSIGNMENT_STATE_CLOSED
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id),
        lambda j: j.state == pb.JOURNEY_STATE_STOPPED,
        "the journey to stop on WON",
    )
    assert journey.stop_reason == CONVERTED
    agent = await m.clients.routing.GetAgent(
        routing_pb.GetAgentRequest(agent_id=resp.assignment.agent_id, location_id=lead.location_id), timeout=5
    )
    assert agent.agent.active_lead_count == 0


async def test_a_contacted_outcome_leaves_the_journey_running(m: Mesh) -> None:
    lead = await started_lead(m)
    await m.clients.routing.RecordOutcome(
        routing_pb.RecordOutcomeRequest(
            lead_id=lead.lead_id, location_id=lead.location_id, outcome=routing_pb.OUTCOME_CONTACTED
        ),
        timeout=5,
    )
    # The coordinator answers HandleOutcome for it with the journey untouched; a WON recorded
    # after it proves the relay delivered in order past it.
    await m.clients.routing.RecordOutcome(
        routing_pb.RecordOutcomeRequest(
            lead_id=lead.lead_id, location_id=lead.location_id, outcome=routing_pb.OUTCOME_LOST
        ),
        timeout=5,
    )
    direct = await m.clients.coordinator.HandleOutcome(
        pb.HandleOutcomeRequest(
            event_id=str(uuid.uuid4()),
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            outcome=routing_pb.OUTCOME_LOST,
        ),
        timeout=5,
    )
    assert direct.journey.state == pb.JOURNEY_STATE_ACTIVE
    assert (await assignment_of(m, lead)).end_reason == "outcome lost"


async def test_deleting_the_lead_frees_the_agents_slot(m: Mesh) -> None:
    lead = await started_lead(m)
    assert (await assignment_of(m, lead)).state == routing_pb.ASSIGNMENT_STATE_OPEN
    await m.clients.ingest.DeleteLead(
        ingest_pb.DeleteLeadRequest(
            lead_id=lead.lead_id, location_id=lead.location_id, request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    closed = await eventually(
        lambda: assignment_of(m, lead),
        lambda a: a.state == routing_pb.ASSIGNMENT_STATE_CLOSED,
        "the assignment to close on deletion",
    )
    assert closed.end_reason == "the lead was deleted"


async def test_stop_on_the_only_channel_frees_the_slot_and_a_reply_counts_as_activity(m: Mesh) -> None:
    lead = await started_lead(m)
    before = (await assignment_of(m, lead)).last_activity_time.ToDatetime()
    await handle(m, inbound(lead, "Is the house still available?"))
    after = await assignment_of(m, lead)
    assert after.state == routing_pb.ASSIGNMENT_STATE_OPEN  # a reply is activity, not an exit
    assert after.last_activity_time.ToDatetime() >= before
    await handle(m, inbound(lead, "STOP"))
    closed = await assignment_of(m, lead)
    assert closed.state == routing_pb.ASSIGNMENT_STATE_CLOSED
    assert closed.end_reason == "the lead opted out of every channel"


async def test_route_lead_with_only_an_id_reads_the_lead_from_ingest(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    # Created before any agent exists, so the journey leaves it in the pond.
    lead = await add_lead(
        m, loc, preferred_language="es", postal_code="78701", intent=ingest_pb.LEAD_INTENT_SELLER
    )
    await eventually(
        lambda: assignment_of(m, lead),
        lambda a: a.state == routing_pb.ASSIGNMENT_STATE_POND,
        "the lead to wait in the pond",
    )
    await add_agent(m, loc, "Ben", languages=["en"])
    sofia = await add_agent(m, loc, "Sofia", languages=["es"], specialties=["seller"], territories=["78701"])
    routed = await m.clients.routing.RouteLead(
        routing_pb.RouteLeadRequest(lead_id=lead.lead_id, location_id=loc), timeout=5
    )
    assert routed.assignment.agent_id == sofia.agent_id
    assert "only agents who speak it were eligible" in " ".join(routed.assignment.reasons)
    assert routed.assignment.candidates[0].agent_id == sofia.agent_id
    assert "territory_match" in routed.assignment.candidates[0].reasons
    assert "specialty_match" in routed.assignment.candidates[0].reasons
    assert routed.assignment.predicted_success == routed.assignment.candidates[0].predicted_success


async def test_a_ghl_contact_and_its_won_opportunity_reach_routing_through_ingest(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc, "Ben", languages=["en"])
    sofia = await add_agent(m, loc, "Sofia", languages=["es", "en"], specialties=["buyer"])
    contact_id = f"ct-{uuid.uuid4().hex[:12]}"
    contact = {
        **GHL_CONTACT,
        "locationId": loc,
        "id": contact_id,
        "phone": "",
        "email": f"{contact_id}@example.com",
        "tags": ["Buyer", "lang:es", "open-house"],
        "postalCode": "33602",
    }
    await deliver(m.clients.ingest, ghl_event(contact))
    lead = await lead_of(m.clients.ingest, loc, contact_id)
    assert lead.intent == ingest_pb.LEAD_INTENT_BUYER
    assert lead.preferred_language == "es"
    assert lead.postal_code == "33602"
    routed = await eventually(
        lambda: assignment_of(m, lead),
        lambda a: a.state == routing_pb.ASSIGNMENT_STATE_OPEN,
        "the GHL lead to be routed",
    )
    assert routed.agent_id == sofia.agent_id  # the lang:es tag made Spanish a requirement

    still_open = {
        "type": "OpportunityStatusUpdate",
        "locationId": loc,
        "id": "opp-1",
        "contactId": contact_id,
    }
    results = await deliver(m.clients.ingest, ghl_event({**still_open, "status": "open"}))
    assert results[0].outcome == "stored_only"
    assert "not an outcome" in results[0].detail
    await deliver(m.clients.ingest, ghl_event({**still_open, "status": "won", "monetaryValue": 450000}))
    closed = await eventually(
        lambda: assignment_of(m, lead),
        lambda a: a.state == routing_pb.ASSIGNMENT_STATE_CLOSED,
        "the won opportunity to close the assignment",
    )
    assert closed.end_reason == "outcome won"
    journey = await eventually(
        lambda: journey_of(m, lead.lead_id),
        lambda j: j.state == pb.JOURNEY_STATE_STOPPED,
        "the journey to stop on the won opportunity",
    )
    assert journey.stop_reason == CONVERTED
    stats = await m.clients.routing.GetRoutingStats(
        routing_pb.GetRoutingStatsRequest(location_id=loc), timeout=5
    )
    assert stats.stats.outcomes_seen == 1
    assert stats.stats.conversions == 1
    assert stats.stats.model_version == 1  # the model learned from it


async def test_a_reply_reaches_the_agent_who_holds_the_lead_now(m: Mesh) -> None:
    """The first agent declines; routing moves the lead on; the lead's reply is the new
    agent's to answer, not the one the journey started with."""
    lead = await started_lead(m)
    await add_agent(m, lead.location_id, name="Bea Backup", phone="+12125550124")
    first = await assignment_of(m, lead)
    # Read before the decline: routing's outcome relay moves the journey to the new agent
    # (journeys/holder.py) at its own pace, so after it the journey may name either agent.
    assert (await journey_of(m, lead.lead_id)).agent_id == first.agent_id  # the journey started with A
    await m.clients.routing.DeclineAssignment(
        routing_pb.DeclineAssignmentRequest(
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            agent_id=first.agent_id,
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    now = await assignment_of(m, lead)
    assert now.agent_id
    assert now.agent_id != first.agent_id
    await handle(m, inbound(lead, "Yes, can we talk tomorrow?"))
    notes = await eventually(
        lambda: notes_of(m, lead.lead_id), lambda ns: any("replied" in n.body for n in ns), "the reply note"
    )
    (reply,) = [n for n in notes if "replied" in n.body]
    assert reply.agent_id == now.agent_id
