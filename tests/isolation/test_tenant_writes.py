"""Tenant isolation, write side: every write RPC of every service, called as one location with
the other location's ids or idempotency keys, is refused and changes nothing of the other
location (each probe reads the other's data back).

Idempotency keys are scoped by location: a request_id another location already used answers
FAILED_PRECONDITION (IDEMPOTENCY_KEY_REUSED); keys stored per location (cadences, campaigns)
make the second location's call a new, independent request.

The RPCs come from the proto descriptors (everything not NO_SIDE_EFFECTS): a new write RPC
without a probe here (or a reason in EXEMPT) fails test_every_write_rpc_has_a_probe_or_a_reason.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intel_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from shared import timestamps
from tests.databases import own_database
from tests.isolation.tenants import Tenant, seed
from tests.support import Mesh, error_reason, mesh

MODULES = {
    "ingest": ingest_pb,
    "intelligence": intel_pb,
    "routing": routing_pb,
    "content": content_pb,
    "coordinator": pb,
}
NO_SIDE_EFFECTS = descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS
STEP = pb.CadenceStep(
    delay=duration_pb2.Duration(seconds=86_400),
    channel=common_pb2.CHANNEL_EMAIL,
    purpose=content_pb.MESSAGE_PURPOSE_FOLLOW_UP,
)

_OWN_LOCATION = "keyed by the location the caller names, with no other id in the request: it writes that"
_OWN_LOCATION += " location's row only (test_tenant_reads shows each location reads back its own values)"
_INTERNAL = "called only inside the mesh (never by a tenant's caller); keys are event ids, unique"
_INTERNAL += " across locations"

# Write RPCs with no other tenant's id or key to misuse, and why.
EXEMPT = {
    "ingest/ImportLeads": "rows are written into the request's location_id only, keyed by"
    " (location_id, external_contact_id); no other id is taken",
    "ingest/RecordWebhook": "the gateway's call after checking the provider's signature; which"
    " location a webhook is for is decided from its payload (test_tenant_webhooks)",
    "ingest/ReplayDeadLetters": "the operator's tool across locations; location_id only narrows it",
    "routing/ReplayDeadLetters": "the operator's tool across locations; location_id only narrows it",
    "intelligence/ScoreLead": _INTERNAL + " (the coordinator's, per lead event)",
    "intelligence/ScoreLocation": _OWN_LOCATION,
    "intelligence/UpsertScoringConfig": _OWN_LOCATION,
    "routing/RouteLead": _INTERNAL + " (the coordinator's, per new lead)",
    "routing/RecordLeadActivity": _INTERNAL + " (the coordinator's)",
    "routing/SetRoutingSettings": _OWN_LOCATION,
    "content/SetLocationContentSettings": _OWN_LOCATION,
    "content/LoadTemplateOverrides": _OWN_LOCATION,
    "content/SetLocationBudget": _OWN_LOCATION,
    "content/ImportMarketFacts": "market facts are public figures per city or ZIP, shared by every"
    " location by design; no tenant's data",
    "coordinator/HandleOutcome": _INTERNAL + " (routing's outcome relay)",
    "coordinator/HandleLeadEvent": _INTERNAL + " (ingest's outbox relay)",
    "coordinator/SetConsentPolicy": _OWN_LOCATION + "; its request_id is unique per location",
    "coordinator/SetDeliverySettings": _OWN_LOCATION,
    "coordinator/SetFrequencyCaps": _OWN_LOCATION,
    "coordinator/UnsubscribeByToken": "the signed token names the lead and is the only authority;"
    " a forged or altered token is refused (tests/integration/test_delivery_unsubscribe.py)",
    "intelligence/RequestLocationScoring": _OWN_LOCATION + "; ingest's outbox relay calls it after an import",
    "coordinator/CompleteHighLevelInstall": "HighLevel's OAuth code decides the location; no id of"
    " ours is taken",
}

Probe = Callable[[Mesh, Tenant, Tenant], Awaitable[None]]
PROBES: dict[str, Probe] = {}


def probe(name: str) -> Callable[[Probe], Probe]:
    def register(fn: Probe) -> Probe:
        PROBES[name] = fn
        return fn

    return register


def write_rpcs() -> set[str]:
    found = set()
    for service, module in MODULES.items():
        for svc in module.DESCRIPTOR.services_by_name.values():
            for method in svc.methods:
                if method.GetOptions().idempotency_level != NO_SIDE_EFFECTS:
                    found.add(f"{service}/{method.name}")
    return found


def key() -> str:
    return str(uuid.uuid4())


async def refused(call: Awaitable[Any]) -> None:
    """Another location's id: NOT_FOUND, exactly as an id that does not exist."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()


async def key_reused(call: Awaitable[Any]) -> None:
    """Another location's request_id: refused, not answered with that location's object."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION, err.value.details()
    assert error_reason(err.value) == "IDEMPOTENCY_KEY_REUSED"


@pytest.fixture(scope="module")
async def dsn(postgres_url: str) -> AsyncIterator[str]:
    async with own_database(postgres_url) as own:
        yield own


@pytest.fixture(scope="module")
async def m(dsn: str) -> AsyncIterator[Mesh]:
    overrides = {
        "ingest": {"outbox_poll_s": 0.1},
        "content": {"postal_address": "1 Main St, Austin, TX 78701"},
    }
    async with mesh(dsn, overrides=overrides) as running:
        yield running


@pytest.fixture(scope="module")
async def tenants(m: Mesh) -> dict[str, Tenant]:
    return {"a": await seed(m, "a", variant=0), "b": await seed(m, "b", variant=1)}


def test_every_write_rpc_has_a_probe_or_a_reason() -> None:
    writes = write_rpcs()
    assert sorted(writes - PROBES.keys() - EXEMPT.keys()) == [], "write RPCs without an isolation probe"
    assert sorted((PROBES.keys() | EXEMPT.keys()) - writes) == [], "probes for RPCs that are not writes"
    assert PROBES.keys() & EXEMPT.keys() == set()


# --- idempotency keys ------------------------------------------------------------------------------


@probe("ingest/UpsertLead")
async def _upsert_lead(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    k = key()
    first = await stub.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(location_id=other.location, first_name="Keyed", email=f"{k}@example.com"),
            request_id=k,
        ),
        timeout=5,
    )
    await key_reused(
        stub.UpsertLead(
            ingest_pb.UpsertLeadRequest(
                lead=ingest_pb.Lead(location_id=me.location, first_name="Intruder"), request_id=k
            ),
            timeout=5,
        )
    )
    back = await stub.GetLead(
        ingest_pb.GetLeadRequest(lead_id=first.lead.lead_id, location_id=first.lead.location_id), timeout=5
    )
    assert (back.lead.location_id, back.lead.first_name) == (other.location, "Keyed")
    mine = await stub.ListLeads(ingest_pb.ListLeadsRequest(location_id=me.location), timeout=5)
    assert "Intruder" not in {lead.first_name for lead in mine.leads}


@probe("ingest/UpdateLocation")
async def _update_location(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    k = key()
    mask = field_mask_pb2.FieldMask(paths=["name"])
    await stub.UpdateLocation(
        ingest_pb.UpdateLocationRequest(
            location=ingest_pb.Location(location_id=other.location, name=f"Keyed {other.tag}"),
            update_mask=mask,
            request_id=k,
        ),
        timeout=5,
    )
    await key_reused(
        stub.UpdateLocation(
            ingest_pb.UpdateLocationRequest(
                location=ingest_pb.Location(location_id=me.location, name="Intruder"),
                update_mask=mask,
                request_id=k,
            ),
            timeout=5,
        )
    )
    theirs = await stub.GetLocation(ingest_pb.GetLocationRequest(location_id=other.location), timeout=5)
    mine = await stub.GetLocation(ingest_pb.GetLocationRequest(location_id=me.location), timeout=5)
    assert theirs.location.name == f"Keyed {other.tag}"
    assert mine.location.name != "Intruder"


@probe("routing/UpsertAgent")
async def _upsert_agent(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    k = key()
    first = await stub.UpsertAgent(
        routing_pb.UpsertAgentRequest(
            agent=routing_pb.Agent(location_id=other.location, name="Keyed Agent", available=True),
            request_id=k,
        ),
        timeout=5,
    )
    await key_reused(
        stub.UpsertAgent(
            routing_pb.UpsertAgentRequest(
                agent=routing_pb.Agent(location_id=me.location, name="Intruder", available=False),
                request_id=k,
            ),
            timeout=5,
        )
    )
    back = await stub.GetAgent(
        routing_pb.GetAgentRequest(agent_id=first.agent.agent_id, location_id=other.location), timeout=5
    )
    assert (back.agent.location_id, back.agent.name, back.agent.available) == (
        other.location,
        "Keyed Agent",
        True,
    )
    mine = await stub.ListAgents(routing_pb.ListAgentsRequest(location_id=me.location), timeout=5)
    assert "Intruder" not in {a.name for a in mine.agents}


@probe("content/GenerateMessage")
async def _generate(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.content

    def request(t: Tenant, k: str) -> content_pb.GenerateMessageRequest:
        return content_pb.GenerateMessageRequest(
            lead_id=t.lead_id,
            location_id=t.location,
            channel=common_pb2.CHANNEL_EMAIL,
            purpose=content_pb.MESSAGE_PURPOSE_FOLLOW_UP,
            request_id=k,
        )

    k = key()
    first = await stub.GenerateMessage(request(other, k), timeout=30)
    await key_reused(stub.GenerateMessage(request(me, k), timeout=30))
    again = await stub.GenerateMessage(request(other, k), timeout=30)
    assert again.message == first.message  # the key still answers its own location, unchanged


@probe("routing/RecordOutcome")
async def _record_outcome(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    k = key()

    def request(t: Tenant) -> routing_pb.RecordOutcomeRequest:
        return routing_pb.RecordOutcomeRequest(
            lead_id=t.lead_id, location_id=t.location, outcome=routing_pb.OUTCOME_CONTACTED, request_id=k
        )

    await stub.RecordOutcome(request(other), timeout=5)
    await key_reused(stub.RecordOutcome(request(me), timeout=5))
    theirs = await stub.GetAssignment(
        routing_pb.GetAssignmentRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    assert theirs.assignment.lead_id == other.lead_id


@probe("intelligence/ObserveOutcome")
async def _observe(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.intelligence
    k = key()

    def request(t: Tenant) -> intel_pb.ObserveOutcomeRequest:
        return intel_pb.ObserveOutcomeRequest(
            location_id=t.location,
            lead_id=t.lead_id,
            outcome=routing_pb.OUTCOME_WON,
            occurred_time=timestamps.to_proto(timestamps.now()),
            request_id=k,
        )

    await stub.ObserveOutcome(request(other), timeout=5)
    stats = intel_pb.GetModelStatsRequest(location_id=other.location)
    before = (await stub.GetModelStats(stats, timeout=5)).stats
    await key_reused(stub.ObserveOutcome(request(me), timeout=5))
    assert (await stub.GetModelStats(stats, timeout=5)).stats == before


@probe("coordinator/UpsertCadence")
async def _upsert_cadence(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Cadence ids derive from (location, request_id): the same key is a new cadence of my own.
    stub = m.clients.coordinator
    k = key()
    theirs = await stub.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(location_id=other.location, name="keyed", steps=[STEP]), request_id=k
        ),
        timeout=5,
    )
    mine = await stub.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(location_id=me.location, name="intruder", steps=[STEP]), request_id=k
        ),
        timeout=5,
    )
    assert mine.cadence.cadence_id != theirs.cadence.cadence_id
    assert mine.cadence.location_id == me.location
    back = await stub.GetCadence(
        pb.GetCadenceRequest(cadence_id=theirs.cadence.cadence_id, location_id=theirs.cadence.location_id),
        timeout=5,
    )
    assert (back.cadence.location_id, back.cadence.name) == (other.location, "keyed")


@probe("coordinator/StartCampaign")
async def _start_campaign(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Campaign ids derive from (location, request_id): the same key starts my own campaign.
    stub = m.clients.coordinator
    k = key()

    def request(t: Tenant, name: str) -> pb.StartCampaignRequest:
        return pb.StartCampaignRequest(
            campaign=pb.Campaign(location_id=t.location, name=name, cadence_id=t.cadence_id, daily_limit=1),
            request_id=k,
        )

    theirs = await stub.StartCampaign(request(other, "keyed"), timeout=10)
    mine = await stub.StartCampaign(request(me, "intruder"), timeout=10)
    assert mine.campaign.campaign_id != theirs.campaign.campaign_id
    assert mine.campaign.location_id == me.location
    back = await stub.GetCampaign(
        pb.GetCampaignRequest(
            campaign_id=theirs.campaign.campaign_id, location_id=theirs.campaign.location_id
        ),
        timeout=5,
    )
    assert (back.campaign.location_id, back.campaign.name) == (other.location, "keyed")


# --- id-keyed writes -------------------------------------------------------------------------------


@probe("ingest/DeleteLead")
async def _delete_lead(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    await refused(
        stub.DeleteLead(
            ingest_pb.DeleteLeadRequest(lead_id=other.lead_id, location_id=me.location, request_id=key()),
            timeout=5,
        )
    )
    back = await stub.GetLead(
        ingest_pb.GetLeadRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    assert back.lead.email == other.lead.email


@probe("ingest/RecordEvent")
async def _record_event(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    before = await stub.ListLeadEvents(
        ingest_pb.ListLeadEventsRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RecordEvent(
            ingest_pb.RecordEventRequest(
                event=ingest_pb.LeadEvent(
                    event_id=key(),
                    lead_id=other.lead_id,
                    location_id=me.location,
                    type=ingest_pb.EVENT_TYPE_LISTING_VIEW,
                    listing_id="mls-intruder",
                    occurred_time=timestamps.to_proto(timestamps.now()),
                ),
                request_id=key(),
            ),
            timeout=5,
        )
    assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    after = await stub.ListLeadEvents(
        ingest_pb.ListLeadEventsRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    assert after == before


@probe("intelligence/ForgetLead")
async def _forget(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Forgetting is scoped by the request's location and idempotent: another location's lead
    # is not in mine, so nothing is removed.
    stub = m.clients.intelligence
    read = intel_pb.GetLeadIntelligenceRequest(lead_id=other.lead_id, location_id=other.location)
    before = await stub.GetLeadIntelligence(read, timeout=5)
    answer = await stub.ForgetLead(
        intel_pb.ForgetLeadRequest(lead_id=other.lead_id, location_id=me.location, request_id=key()),
        timeout=5,
    )
    assert not answer.removed
    after = await stub.GetLeadIntelligence(read, timeout=5)  # scores decay by the second: compare the rest
    assert (after.intelligence.lead_id, after.intelligence.score) == (
        before.intelligence.lead_id,
        before.intelligence.score,
    )


@probe("intelligence/UpsertTriggerRule")
async def _trigger_rule(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Rules are keyed by (location, rule_id): my upsert of the other's rule_id is a rule of mine.
    stub = m.clients.intelligence
    read = intel_pb.ListTriggerRulesRequest(location_id=other.location)
    before = await stub.ListTriggerRules(read, timeout=5)
    theirs = next(r for r in before.rules if r.rule_id == other.trigger_rule_id)
    mine = intel_pb.TriggerRule()
    mine.CopyFrom(theirs)
    mine.location_id = me.location
    mine.name = "intruder"
    await stub.UpsertTriggerRule(intel_pb.UpsertTriggerRuleRequest(rule=mine, request_id=key()), timeout=5)
    assert await stub.ListTriggerRules(read, timeout=5) == before


@probe("intelligence/FireTriggers")
async def _fire_triggers(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Keys are scoped by lead (so by location), and a claim is checked before anything is judged.
    stub = m.clients.intelligence
    k = key()
    theirs = intel_pb.FireTriggersRequest(lead_id=other.lead_id, request_id=k, location_id=other.location)
    first = await stub.FireTriggers(theirs, timeout=10)
    read = intel_pb.ListTriggerFiringsRequest(lead_id=other.lead_id, location_id=other.location)
    before = await stub.ListTriggerFirings(read, timeout=5)
    fresh = key()
    await refused(
        stub.FireTriggers(
            intel_pb.FireTriggersRequest(lead_id=other.lead_id, request_id=fresh, location_id=me.location),
            timeout=10,
        )
    )
    await refused(  # the other's own key, replayed under my claim
        stub.FireTriggers(
            intel_pb.FireTriggersRequest(lead_id=other.lead_id, request_id=k, location_id=me.location),
            timeout=10,
        )
    )
    await key_reused(
        stub.FireTriggers(
            intel_pb.FireTriggersRequest(lead_id=me.lead_id, request_id=k, location_id=me.location),
            timeout=10,
        )
    )
    assert await stub.ListTriggerFirings(read, timeout=5) == before
    assert await stub.FireTriggers(theirs, timeout=10) == first
    # The refused call recorded nothing under its key: it is still free for my own lead.
    await stub.FireTriggers(
        intel_pb.FireTriggersRequest(lead_id=me.lead_id, request_id=fresh, location_id=me.location),
        timeout=10,
    )


@probe("routing/SetAgentAvailability")
async def _availability(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    read = routing_pb.GetAgentRequest(agent_id=other.agent_id, location_id=other.location)
    before = await stub.GetAgent(read, timeout=5)
    await refused(
        stub.SetAgentAvailability(
            routing_pb.SetAgentAvailabilityRequest(
                agent_id=other.agent_id,
                location_id=me.location,
                available=not before.agent.available,
                request_id=key(),
            ),
            timeout=5,
        )
    )
    after = await stub.GetAgent(read, timeout=5)
    assert after.agent.available == before.agent.available


async def _assignment_kept(m: Mesh, other: Tenant, call: Awaitable[Any]) -> None:
    stub = m.clients.routing
    read = routing_pb.GetAssignmentRequest(lead_id=other.lead_id, location_id=other.location)
    before = await stub.GetAssignment(read, timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)
    after = await stub.GetAssignment(read, timeout=5)
    assert (after.assignment.agent_id, after.assignment.state) == (
        before.assignment.agent_id,
        before.assignment.state,
    )


@probe("routing/ReleaseAssignment")
async def _release(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.routing.ReleaseAssignment(
        routing_pb.ReleaseAssignmentRequest(
            lead_id=other.lead_id,
            location_id=me.location,
            reason=routing_pb.RELEASE_REASON_OPTED_OUT,
            request_id=key(),
        ),
        timeout=5,
    )
    await _assignment_kept(m, other, call)


@probe("routing/AcceptAssignment")
async def _accept(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.routing.AcceptAssignment(
        routing_pb.AcceptAssignmentRequest(
            lead_id=other.lead_id, location_id=me.location, agent_id=other.agent_id, request_id=key()
        ),
        timeout=5,
    )
    await _assignment_kept(m, other, call)


@probe("routing/DeclineAssignment")
async def _decline(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.routing.DeclineAssignment(
        routing_pb.DeclineAssignmentRequest(
            lead_id=other.lead_id, location_id=me.location, agent_id=other.agent_id, request_id=key()
        ),
        timeout=5,
    )
    await _assignment_kept(m, other, call)


@probe("routing/ReassignLead")
async def _reassign(m: Mesh, me: Tenant, other: Tenant) -> None:
    # The other location's lead, to my agent or to theirs, asked as me: NOT_FOUND, unchanged.
    for agent_id in (me.agent_id, other.agent_id):
        call = m.clients.routing.ReassignLead(
            routing_pb.ReassignLeadRequest(
                lead_id=other.lead_id,
                location_id=me.location,
                agent_id=agent_id,
                reason="probe",
                request_id=key(),
            ),
            timeout=5,
        )
        await _assignment_kept(m, other, call)


@probe("routing/UpsertRoutingRule")
async def _routing_rule(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    read = routing_pb.ListRoutingRulesRequest(location_id=other.location)
    before = await stub.ListRoutingRules(read, timeout=5)
    theirs = next(r for r in before.rules if r.rule_id == other.routing_rule_id)
    mine = routing_pb.RoutingRule()
    mine.CopyFrom(theirs)
    mine.location_id = me.location
    mine.name = "intruder"
    mine.agent_id = me.agent_id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpsertRoutingRule(
            routing_pb.UpsertRoutingRuleRequest(rule=mine, request_id=key()), timeout=5
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert await stub.ListRoutingRules(read, timeout=5) == before


@probe("routing/DeleteRoutingRule")
async def _delete_rule(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    read = routing_pb.ListRoutingRulesRequest(location_id=other.location)
    before = await stub.ListRoutingRules(read, timeout=5)
    # Deleting is idempotent: a rule my location does not have is already gone for me.
    await stub.DeleteRoutingRule(
        routing_pb.DeleteRoutingRuleRequest(
            location_id=me.location, rule_id=other.routing_rule_id, request_id=key()
        ),
        timeout=5,
    )
    assert await stub.ListRoutingRules(read, timeout=5) == before
    assert other.routing_rule_id in {r.rule_id for r in before.rules}


async def _journey_kept(m: Mesh, other: Tenant, call: Awaitable[Any]) -> None:
    stub = m.clients.coordinator
    read = pb.GetJourneyRequest(lead_id=other.lead_id, location_id=other.location)
    before = await stub.GetJourney(read, timeout=5)
    await refused(call)
    assert (await stub.GetJourney(read, timeout=5)).journey.state == before.journey.state


@probe("coordinator/StopJourney")
async def _stop(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.coordinator.StopJourney(
        pb.StopJourneyRequest(lead_id=other.lead_id, location_id=me.location, reason="x", request_id=key()),
        timeout=5,
    )
    await _journey_kept(m, other, call)


@probe("coordinator/PauseJourney")
async def _pause(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.coordinator.PauseJourney(
        pb.PauseJourneyRequest(lead_id=other.lead_id, location_id=me.location, reason="x", request_id=key()),
        timeout=5,
    )
    await _journey_kept(m, other, call)


@probe("coordinator/ResumeJourney")
async def _resume(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.coordinator.ResumeJourney(
        pb.ResumeJourneyRequest(lead_id=other.lead_id, location_id=me.location, reason="x", request_id=key()),
        timeout=5,
    )
    await _journey_kept(m, other, call)


async def _campaign_kept(m: Mesh, other: Tenant, call: Awaitable[Any]) -> None:
    stub = m.clients.coordinator
    read = pb.GetCampaignRequest(campaign_id=other.campaign_id, location_id=other.location)
    before = await stub.GetCampaign(read, timeout=5)
    await refused(call)
    assert (await stub.GetCampaign(read, timeout=5)).campaign.state == before.campaign.state


@probe("content/ApproveMessage")
async def _approve(m: Mesh, me: Tenant, other: Tenant) -> None:
    page = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    message_id = next(c.message_id for c in page.communications if c.message_id)
    before = await m.clients.content.GetConversation(
        content_pb.GetConversationRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    await refused(
        m.clients.content.ApproveMessage(
            content_pb.ApproveMessageRequest(
                message_id=message_id,
                agent_id=me.agent_id,
                edited_body="Hi. Reply STOP to opt out.",
                location_id=me.location,
            ),
            timeout=5,
        )
    )
    after = await m.clients.content.GetConversation(
        content_pb.GetConversationRequest(lead_id=other.lead_id, location_id=other.location), timeout=5
    )
    assert after == before


@probe("coordinator/SendApprovedMessage")
async def _send_approved(m: Mesh, me: Tenant, other: Tenant) -> None:
    read = pb.ListCommunicationsRequest(lead_id=other.lead_id, location_id=other.location)

    page = await m.clients.coordinator.ListCommunications(read, timeout=5)
    before = next(c for c in page.communications if c.message_id)
    await refused(
        m.clients.coordinator.SendApprovedMessage(
            pb.SendApprovedMessageRequest(message_id=before.message_id, location_id=me.location), timeout=10
        )
    )
    page = await m.clients.coordinator.ListCommunications(read, timeout=5)
    assert [c for c in page.communications if c.communication_id == before.communication_id] == [before]


@probe("coordinator/PauseCampaign")
async def _pause_campaign(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.coordinator.PauseCampaign(
        pb.PauseCampaignRequest(campaign_id=other.campaign_id, location_id=me.location, request_id=key()),
        timeout=5,
    )
    await _campaign_kept(m, other, call)


@probe("coordinator/ResumeCampaign")
async def _resume_campaign(m: Mesh, me: Tenant, other: Tenant) -> None:
    call = m.clients.coordinator.ResumeCampaign(
        pb.ResumeCampaignRequest(campaign_id=other.campaign_id, location_id=me.location, request_id=key()),
        timeout=5,
    )
    await _campaign_kept(m, other, call)


async def test_own_location_still_controls_its_journey(m: Mesh, tenants: dict[str, Tenant]) -> None:
    """The claim does not get in the owner's way: its own location pauses and resumes."""
    me = tenants["a"]
    stub = m.clients.coordinator
    paused = await stub.PauseJourney(
        pb.PauseJourneyRequest(lead_id=me.lead_id, location_id=me.location, reason="own", request_id=key()),
        timeout=5,
    )
    assert paused.journey.pause_reason == "own"
    resumed = await stub.ResumeJourney(
        pb.ResumeJourneyRequest(lead_id=me.lead_id, location_id=me.location, reason="own", request_id=key()),
        timeout=5,
    )
    assert resumed.journey.pause_reason == ""


# --- the run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["a-writes-b", "b-writes-a"])
@pytest.mark.parametrize("rpc", sorted(PROBES))
async def test_a_write_as_one_location_never_changes_the_others_data(
    rpc: str, direction: str, m: Mesh, tenants: dict[str, Tenant]
) -> None:
    me, other = (tenants["a"], tenants["b"]) if direction == "a-writes-b" else (tenants["b"], tenants["a"])
    await PROBES[rpc](m, me, other)
