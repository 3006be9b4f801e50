"""First-to-claim end to end: all five services in-process on real PostgreSQL, the
coordinator's real senders pointed at local fake Twilio over HTTP. A new lead in a
first-to-claim location reaches every offered agent as one text each; the first accept wins,
the claimer hears the lead is theirs, and the journey names the claimer."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from cli.fake_providers import FakeProviders
from tests.integration.test_agent_notifications import new_lead, notes, own_dsn, rig, texts_to  # noqa: F401
from tests.journeys import add_agent, eventually, unique_phone
from tests.support import Mesh, error_reason


async def test_an_offer_reaches_every_agent_and_the_first_claim_wins(rig: tuple[Mesh, FakeProviders]) -> None:  # noqa: F811
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    await m.clients.routing.SetRoutingSettings(
        routing_pb.SetRoutingSettingsRequest(
            location_id=loc, settings=routing_pb.RoutingSettings(claim_group_size=2)
        ),
        timeout=5,
    )
    ana = await add_agent(m, loc, name="Ana Quick", phone=unique_phone())
    ben = await add_agent(m, loc, name="Ben Late", phone=unique_phone())
    lead = await new_lead(m, loc)

    offers = await notes(m, lead.lead_id, count=2)
    assert {n.agent_id for n in offers} == {ana.agent_id, ben.agent_id}
    for note in offers:
        assert note.status == pb.COMMUNICATION_STATUS_QUEUED
        assert "offered to you and 1 other agent(s) at once" in note.body
        assert "The first to accept it" in note.body
    assert len(texts_to(fakes, ana.phone)) == 1
    assert len(texts_to(fakes, ben.phone)) == 1

    claim = routing_pb.AcceptAssignmentRequest(lead_id=lead.lead_id, location_id=loc, agent_id=ana.agent_id)
    won = await m.clients.routing.AcceptAssignment(claim, timeout=5)
    assert won.assignment.agent_id == ana.agent_id
    claim.agent_id = ben.agent_id
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await m.clients.routing.AcceptAssignment(claim, timeout=5)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(exc.value) == "LEAD_ALREADY_CLAIMED"

    found = await notes(m, lead.lead_id, count=3)
    [yours] = [n for n in found if n not in offers]
    assert yours.agent_id == ana.agent_id
    assert "has been reassigned to you (Ana Quick claimed it first" in yours.body
    assert len(texts_to(fakes, ben.phone)) == 1  # the loser hears nothing more

    async def journey() -> pb.Journey:
        resp = await m.clients.coordinator.GetJourney(
            pb.GetJourneyRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
        )
        return resp.journey

    held = await eventually(journey, lambda j: j.agent_id == ana.agent_id, "the journey names the claimer")
    assert held.agent_id == ana.agent_id
