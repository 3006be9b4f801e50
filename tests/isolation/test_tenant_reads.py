"""Tenant isolation, read side: every read and list RPC of every service, called as one
location with the other location's ids, answers NOT_FOUND or only the caller's own data.

The RPCs come from the proto descriptors: a new read RPC without a probe here (or a reason in
EXEMPT) fails test_every_read_rpc_has_a_probe, so isolation is checked as the API grows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, text_format
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intel_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from shared import timestamps
from tests.databases import own_database
from tests.isolation.tenants import Tenant, record_outcomes, seed
from tests.support import Mesh, field_violations, mesh

MODULES = {
    "ingest": ingest_pb,
    "intelligence": intel_pb,
    "routing": routing_pb,
    "content": content_pb,
    "coordinator": pb,
}
NO_SIDE_EFFECTS = descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS

# Read RPCs with no tenant to isolate, and why.
EXEMPT = {
    "ingest/ListLocations": "the operator's list of every location, by design; a location's own"
    " view is GetLocation (probed)",
    "content/AnalyzeReply": "classifies the text in the request and reads nothing stored",
    "intelligence/GetCacheStats": "the process's cache hit and miss counters: numbers only, no"
    " location's data",
    "coordinator/GetHighLevelInstall": "keyed by the location itself and never returns tokens; no app"
    " is installed in this mesh (tests/integration/test_highlevel_install.py reads installs)",
    "coordinator/StartHighLevelInstall": "issues a signed install state and HighLevel's URL; reads and"
    " names no location (tests/integration/test_highlevel_install_state.py)",
}

Probe = Callable[[Mesh, Tenant, Tenant], Awaitable[None]]
PROBES: dict[str, Probe] = {}


def probe(name: str) -> Callable[[Probe], Probe]:
    def register(fn: Probe) -> Probe:
        PROBES[name] = fn
        return fn

    return register


def read_rpcs() -> set[str]:
    found = set()
    for service, module in MODULES.items():
        for svc in module.DESCRIPTOR.services_by_name.values():
            for method in svc.methods:
                if method.GetOptions().idempotency_level == NO_SIDE_EFFECTS:
                    found.add(f"{service}/{method.name}")
    return found


def text(answer: Message) -> str:
    return text_format.MessageToString(answer)


async def refused(call: Awaitable[Any]) -> None:
    """Another location's id: NOT_FOUND, exactly as an id that does not exist."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()


def only_own(answer: Message, me: Tenant, other: Tenant, *own: str) -> None:
    """The answer names none of the other tenant's data, and does show the caller's own."""
    assert other.leaked_into(answer) == set()
    shown = text(answer)
    assert [m for m in own if m not in shown] == [], f"own data missing from {shown[:500]}"


@pytest.fixture(scope="module")
async def dsn(postgres_url: str) -> AsyncIterator[str]:
    """A database of the module's own: the session database may hold other modules' unpublished
    outbox rows (the webhook storm's, say), which this mesh's relay would have to deliver first."""
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
    a = await seed(m, "a", variant=0)
    b = await seed(m, "b", variant=1)
    await record_outcomes(m, b)  # only B has outcomes: A's model stats must not count them
    return {"a": a, "b": b}


def test_every_read_rpc_has_a_probe_or_a_reason() -> None:
    reads = read_rpcs()
    assert sorted(reads - PROBES.keys() - EXEMPT.keys()) == [], "read RPCs without an isolation probe"
    assert sorted((PROBES.keys() | EXEMPT.keys()) - reads) == [], "probes for RPCs that are not reads"


def test_no_read_hides_as_a_write() -> None:
    """Get/List/BatchGet RPCs declare NO_SIDE_EFFECTS, so the enumeration above sees them."""
    for service, module in MODULES.items():
        for svc in module.DESCRIPTOR.services_by_name.values():
            for method in svc.methods:
                if method.name.startswith(("Get", "List", "BatchGet")):
                    assert f"{service}/{method.name}" in read_rpcs()


# --- ingest ----------------------------------------------------------------------------------------


@probe("ingest/GetLead")
async def _get_lead(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    await refused(
        stub.GetLead(ingest_pb.GetLeadRequest(lead_id=other.lead_id, location_id=me.location), timeout=5)
    )
    own = await stub.GetLead(ingest_pb.GetLeadRequest(lead_id=me.lead_id, location_id=me.location), timeout=5)
    only_own(own, me, other, me.lead_id)


@probe("ingest/GetLeadByExternalId")
async def _by_external_id(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    await refused(
        stub.GetLeadByExternalId(
            ingest_pb.GetLeadByExternalIdRequest(
                location_id=me.location, external_contact_id=other.external_id
            ),
            timeout=5,
        )
    )
    own = await stub.GetLeadByExternalId(
        ingest_pb.GetLeadByExternalIdRequest(location_id=me.location, external_contact_id=me.external_id),
        timeout=5,
    )
    only_own(own, me, other, me.lead_id)


@probe("ingest/ListLeads")
async def _list_leads(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.ingest.ListLeads(ingest_pb.ListLeadsRequest(location_id=me.location), timeout=5)
    only_own(own, me, other, me.lead_id)


@probe("ingest/ListLeadProfiles")
async def _profiles(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.ingest.ListLeadProfiles(
        ingest_pb.ListLeadProfilesRequest(location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.lead_id)


@probe("ingest/ListLeadEvents")
async def _events(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.ingest
    await refused(
        stub.ListLeadEvents(
            ingest_pb.ListLeadEventsRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.ListLeadEvents(
        ingest_pb.ListLeadEventsRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    assert own.events
    only_own(own, me, other, me.lead_id)


@probe("ingest/GetLocation")
async def _location(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.ingest.GetLocation(ingest_pb.GetLocationRequest(location_id=me.location), timeout=5)
    only_own(own, me, other, me.brand, me.sms_number)


@probe("ingest/ListDeadLetters")
async def _dead_letters(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Neither tenant has dead letters (test_outbox_dead_letters makes some); none of the
    # session's other locations' may show either.
    own = await m.clients.ingest.ListDeadLetters(
        ingest_pb.ListDeadLettersRequest(location_id=me.location), timeout=5
    )
    assert {d.location_id for d in own.dead_letters} <= {me.location}
    only_own(own, me, other)


# --- intelligence ----------------------------------------------------------------------------------


@probe("intelligence/GetLeadIntelligence")
async def _intelligence(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.intelligence
    await refused(
        stub.GetLeadIntelligence(
            intel_pb.GetLeadIntelligenceRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.GetLeadIntelligence(
        intel_pb.GetLeadIntelligenceRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.lead_id)


@probe("intelligence/ListHighIntentLeads")
async def _high_intent(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.intelligence.ListHighIntentLeads(
        intel_pb.ListHighIntentLeadsRequest(location_id=me.location, min_score=0.01), timeout=5
    )
    only_own(own, me, other, me.lead_id)


@probe("intelligence/BatchGetLeadIntelligence")
async def _batch(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.intelligence.BatchGetLeadIntelligence(
        intel_pb.BatchGetLeadIntelligenceRequest(
            location_id=me.location, lead_ids=[me.lead_id, other.lead_id]
        ),
        timeout=5,
    )
    only_own(own, me, other, me.lead_id)


@probe("intelligence/GetScoringConfig")
async def _scoring_config(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.intelligence.GetScoringConfig(
        intel_pb.GetScoringConfigRequest(location_id=me.location), timeout=5
    )
    assert own.config.event_points["listing_view"] == me.listing_view_points != other.listing_view_points


@probe("intelligence/GetModelStats")
async def _model_stats(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.intelligence.GetModelStats(
        intel_pb.GetModelStatsRequest(location_id=me.location), timeout=5
    )
    assert (own.stats.outcomes_seen > 0) == me.has_outcomes != other.has_outcomes


@probe("intelligence/EvaluateTriggers")
async def _evaluate(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.intelligence
    await refused(
        stub.EvaluateTriggers(
            intel_pb.EvaluateTriggersRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.EvaluateTriggers(
        intel_pb.EvaluateTriggersRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    # Three views of one listing, minutes ago: the rule fires now unless the coordinator's
    # FireTriggers already fired it (then it is suppressed and on record). Either way, it is ours.
    fired = await stub.ListTriggerFirings(
        intel_pb.ListTriggerFiringsRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    assert "same-listing-3x-7d" in {t.rule_id for t in own.triggers} | {f.rule_id for f in fired.firings}
    only_own(own, me, other)


@probe("intelligence/ListTriggerRules")
async def _trigger_rules(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.intelligence.ListTriggerRules(
        intel_pb.ListTriggerRulesRequest(location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.trigger_rule_id)


@probe("intelligence/ListTriggerFirings")
async def _firings(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.intelligence
    await refused(
        stub.ListTriggerFirings(
            intel_pb.ListTriggerFiringsRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.ListTriggerFirings(
        intel_pb.ListTriggerFiringsRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    assert own.firings
    only_own(own, me, other, me.lead_id)


# --- routing ---------------------------------------------------------------------------------------


@probe("routing/GetAgent")
async def _agent(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    await refused(
        stub.GetAgent(routing_pb.GetAgentRequest(agent_id=other.agent_id, location_id=me.location), timeout=5)
    )
    own = await stub.GetAgent(
        routing_pb.GetAgentRequest(agent_id=me.agent_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.agent_id)


@probe("routing/ListAgents")
async def _agents(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.routing.ListAgents(routing_pb.ListAgentsRequest(location_id=me.location), timeout=5)
    only_own(own, me, other, me.agent_id)


@probe("routing/GetAssignment")
async def _assignment(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.routing
    await refused(
        stub.GetAssignment(
            routing_pb.GetAssignmentRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.GetAssignment(
        routing_pb.GetAssignmentRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.lead_id, me.agent_id)


@probe("routing/GetRoutingSettings")
async def _routing_settings(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.routing.GetRoutingSettings(
        routing_pb.GetRoutingSettingsRequest(location_id=me.location), timeout=5
    )
    assert own.settings.inactivity_days == me.inactivity_days != other.inactivity_days


@probe("routing/ListRoutingRules")
async def _routing_rules(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.routing.ListRoutingRules(
        routing_pb.ListRoutingRulesRequest(location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.routing_rule_id)


@probe("routing/GetRoutingStats")
async def _routing_stats(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.routing.GetRoutingStats(
        routing_pb.GetRoutingStatsRequest(location_id=me.location), timeout=5
    )
    assert (own.stats.outcomes_seen > 0) == me.has_outcomes != other.has_outcomes


@probe("routing/ListDeadLetters")
async def _outcome_dead_letters(m: Mesh, me: Tenant, other: Tenant) -> None:
    # Neither tenant has dead letters (test_routing_dead_letters makes some, in its own
    # database); a location's list may show no other location's.
    own = await m.clients.routing.ListDeadLetters(
        routing_pb.ListDeadLettersRequest(location_id=me.location), timeout=5
    )
    assert {d.location_id for d in own.dead_letters} <= {me.location}
    only_own(own, me, other)


# --- content ---------------------------------------------------------------------------------------


@probe("content/GetLocationContentSettings")
async def _content_settings(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.content.GetLocationContentSettings(
        content_pb.GetLocationContentSettingsRequest(location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.value_proposition)


@probe("content/GetLocationBudget")
async def _budget(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.content.GetLocationBudget(
        content_pb.GetLocationBudgetRequest(location_id=me.location), timeout=5
    )
    assert own.budget.monthly_budget_micros_usd == me.budget_micros_usd != other.budget_micros_usd
    only_own(own, me, other, me.location)


@probe("content/GetUsage")
async def _usage(m: Mesh, me: Tenant, other: Tenant) -> None:
    # No Claude key in this mesh: usage is empty for both, and must name nothing of the other's.
    now = timestamps.now()
    own = await m.clients.content.GetUsage(
        content_pb.GetUsageRequest(
            location_id=me.location,
            start_time=timestamps.to_proto(now - timedelta(days=1)),
            end_time=timestamps.to_proto(now + timedelta(days=1)),
        ),
        timeout=5,
    )
    only_own(own, me, other)


@probe("content/GetConversation")
async def _conversation(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.content
    await refused(
        stub.GetConversation(
            content_pb.GetConversationRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.GetConversation(
        content_pb.GetConversationRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    assert own.messages
    only_own(own, me, other)


# --- coordinator -----------------------------------------------------------------------------------


@probe("coordinator/GetJourney")
async def _journey(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.GetJourney(pb.GetJourneyRequest(lead_id=other.lead_id, location_id=me.location), timeout=5)
    )
    own = await stub.GetJourney(pb.GetJourneyRequest(lead_id=me.lead_id, location_id=me.location), timeout=5)
    only_own(own, me, other, me.lead_id)


@probe("coordinator/ListJourneys")
async def _journeys(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.ListJourneys(pb.ListJourneysRequest(lead_id=other.lead_id, location_id=me.location), timeout=5)
    )
    own = await stub.ListJourneys(
        pb.ListJourneysRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    assert own.journeys
    only_own(own, me, other, me.lead_id)


@probe("coordinator/ListCommunications")
async def _communications(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.ListCommunications(
            pb.ListCommunicationsRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, *me.communication_ids)


@probe("coordinator/GetConsent")
async def _consent(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.GetConsent(pb.GetConsentRequest(lead_id=other.lead_id, location_id=me.location), timeout=5)
    )
    own = await stub.GetConsent(pb.GetConsentRequest(lead_id=me.lead_id, location_id=me.location), timeout=5)
    only_own(own, me, other, me.lead_id)


@probe("coordinator/ListNotifications")
async def _notifications(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.ListNotifications(
            pb.ListNotificationsRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    await refused(
        stub.ListNotifications(
            pb.ListNotificationsRequest(agent_id=other.agent_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.ListNotifications(
        pb.ListNotificationsRequest(agent_id=me.agent_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.lead_id, me.agent_id)


@probe("coordinator/GetConsentPolicy")
async def _consent_policy(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.coordinator.GetConsentPolicy(
        pb.GetConsentPolicyRequest(location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.consent_tag)


@probe("coordinator/ListCadences")
async def _cadences(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=me.location), timeout=5)
    only_own(own, me, other, me.cadence_id)


@probe("coordinator/GetCadence")
async def _cadence(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.GetCadence(pb.GetCadenceRequest(cadence_id=other.cadence_id, location_id=me.location), timeout=5)
    )
    own = await stub.GetCadence(
        pb.GetCadenceRequest(cadence_id=me.cadence_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.cadence_id)


@probe("coordinator/GetLeadTimeline")
async def _timeline(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.GetLeadTimeline(
            pb.GetLeadTimelineRequest(lead_id=other.lead_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.GetLeadTimeline(
        pb.GetLeadTimelineRequest(lead_id=me.lead_id, location_id=me.location), timeout=5
    )
    assert own.entries
    only_own(own, me, other)


@probe("coordinator/PreviewCampaign")
async def _preview(m: Mesh, me: Tenant, other: Tenant) -> None:
    # A lead has one journey, so neither tenant's lead is in a recovery audience: what
    # matters is that the other's never is, nor its cadence.
    campaign = pb.Campaign(location_id=me.location, name="preview", daily_limit=5)
    own = await m.clients.coordinator.PreviewCampaign(
        pb.PreviewCampaignRequest(campaign=campaign, sample_size=10), timeout=30
    )
    only_own(own, me, other)
    campaign.cadence_id = other.cadence_id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.PreviewCampaign(
            pb.PreviewCampaignRequest(campaign=campaign, sample_size=10), timeout=30
        )
    assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


@probe("coordinator/GetCampaign")
async def _campaign(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    await refused(
        stub.GetCampaign(
            pb.GetCampaignRequest(campaign_id=other.campaign_id, location_id=me.location), timeout=5
        )
    )
    own = await stub.GetCampaign(
        pb.GetCampaignRequest(campaign_id=me.campaign_id, location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.campaign_id)


@probe("coordinator/ListCampaigns")
async def _campaigns(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.coordinator.ListCampaigns(
        pb.ListCampaignsRequest(location_id=me.location), timeout=5
    )
    only_own(own, me, other, me.campaign_id)


@probe("coordinator/GetDeliverySettings")
async def _delivery_settings(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.coordinator.GetDeliverySettings(
        pb.GetDeliverySettingsRequest(location_id=me.location), timeout=5
    )
    assert own.settings.sms_provider == me.sms_provider != other.sms_provider
    only_own(own, me, other, me.location)


@probe("coordinator/GetComplianceRecord")
async def _compliance_record(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator
    first_touch = other.communication_ids[-1]  # oldest first: the first touch has a record
    await refused(
        stub.GetComplianceRecord(
            pb.GetComplianceRecordRequest(communication_id=first_touch, location_id=me.location), timeout=5
        )
    )
    own = await stub.GetComplianceRecord(
        pb.GetComplianceRecordRequest(communication_id=me.communication_ids[-1], location_id=me.location),
        timeout=5,
    )
    only_own(own, me, other, me.lead_id)


@probe("coordinator/ListComplianceRecords")
async def _compliance_records(m: Mesh, me: Tenant, other: Tenant) -> None:
    now = timestamps.now()
    own = await m.clients.coordinator.ListComplianceRecords(
        pb.ListComplianceRecordsRequest(
            location_id=me.location,
            start_time=timestamps.to_proto(now - timedelta(hours=1)),
            end_time=timestamps.to_proto(now + timedelta(hours=1)),
        ),
        timeout=5,
    )
    only_own(own, me, other, me.lead_id)


@probe("coordinator/SimulateCadence")
async def _simulate(m: Mesh, me: Tenant, other: Tenant) -> None:
    stub = m.clients.coordinator

    def simulation(cadence_id: str) -> pb.SimulateCadenceRequest:
        return pb.SimulateCadenceRequest(
            location_id=me.location,
            cadence_id=cadence_id,
            leads=[ingest_pb.Lead(email="someone@example.com")],
            start_time=timestamps.to_proto(timestamps.now()),
            horizon_days=3,
        )

    await refused(stub.SimulateCadence(simulation(other.cadence_id), timeout=10))
    own = await stub.SimulateCadence(simulation(me.cadence_id), timeout=10)
    assert own.planned  # the tenant's own one-step cadence
    only_own(own, me, other)


@probe("coordinator/GetFrequencyCaps")
async def _caps(m: Mesh, me: Tenant, other: Tenant) -> None:
    own = await m.clients.coordinator.GetFrequencyCaps(
        pb.GetFrequencyCapsRequest(location_id=me.location), timeout=5
    )
    assert own.caps.sms_per_day == me.sms_per_day != other.sms_per_day


# --- a read keyed by an id names its location ------------------------------------------------------

# The tenant's own id for each id field a read request can carry: the data exists, so a refusal
# is the missing claim's doing, not an unknown id's.
OWN_IDS: dict[str, Callable[[Tenant], Any]] = {
    "lead_id": lambda t: t.lead_id,
    "lead_ids": lambda t: [t.lead_id],
    "agent_id": lambda t: t.agent_id,
    "cadence_id": lambda t: t.cadence_id,
    "campaign_id": lambda t: t.campaign_id,
    "communication_id": lambda t: t.communication_ids[0],
    "external_contact_id": lambda t: t.external_id,
}


def id_keyed_reads() -> dict[str, MethodDescriptor]:
    """Read RPCs whose request names something by id and carries location_id (#15: the claim is
    required on every one of them), less the reads exempt above."""
    found = {}
    for service, module in MODULES.items():
        for svc in module.DESCRIPTOR.services_by_name.values():
            for method in svc.methods:
                name = f"{service}/{method.name}"
                fields = {f.name for f in method.input_type.fields}
                keyed = "location_id" in fields and fields & OWN_IDS.keys()
                if keyed and name in read_rpcs() and name not in EXEMPT:
                    found[name] = method
    return found


def test_the_id_keyed_reads_are_found() -> None:
    named = {
        "ingest/GetLead", "ingest/ListLeadEvents", "intelligence/EvaluateTriggers",
        "intelligence/ListTriggerFirings", "content/GetConversation", "coordinator/GetJourney",
        "coordinator/ListJourneys", "coordinator/ListCommunications", "coordinator/GetConsent",
        "coordinator/ListNotifications", "coordinator/GetLeadTimeline", "coordinator/GetCadence",
        "coordinator/GetCampaign", "coordinator/GetComplianceRecord",
    }  # fmt: skip
    assert sorted(named - id_keyed_reads().keys()) == []


@pytest.mark.parametrize("rpc", sorted(id_keyed_reads()))
async def test_an_id_keyed_read_without_a_claim_is_refused(
    rpc: str, m: Mesh, tenants: dict[str, Tenant]
) -> None:
    """No location_id: INVALID_ARGUMENT naming it, even for the tenant's own ids, and no data."""
    service, name = rpc.split("/")
    method = id_keyed_reads()[rpc]
    request = getattr(MODULES[service], method.input_type.name)()
    for field_name in {f.name for f in method.input_type.fields} & OWN_IDS.keys():
        value = OWN_IDS[field_name](tenants["a"])
        if isinstance(value, list):
            getattr(request, field_name).extend(value)
        else:
            setattr(request, field_name, value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await getattr(getattr(m.clients, service), name)(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "location_id" in field_violations(err.value)


# --- the run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["a-reads-b", "b-reads-a"])
@pytest.mark.parametrize("rpc", sorted(PROBES))
async def test_a_read_as_one_location_never_returns_the_others_data(
    rpc: str, direction: str, m: Mesh, tenants: dict[str, Tenant]
) -> None:
    me, other = (tenants["a"], tenants["b"]) if direction == "a-reads-b" else (tenants["b"], tenants["a"])
    await PROBES[rpc](m, me, other)
