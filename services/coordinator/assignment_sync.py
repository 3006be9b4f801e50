"""What routing must hear of a lead's events to keep its agents' open-lead counts true:
activity (so an assignment is not closed as idle), deletion, and an opt-out of every channel
(each frees the agent's slot). Called after an event's own work, so a routing failure makes
ingest redeliver the event and every call here is idempotent."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.envelope import Envelope
from services.coordinator.journeys.steps import reachable
from shared import timestamps
from shared.clients import RoutingClient

# What the lead (or a person, for it) did: keeps its assignment open.
ACTIVITY_KINDS = frozenset(
    {
        pb.LEAD_EVENT_KIND_INBOUND_MESSAGE,
        pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE,
        pb.LEAD_EVENT_KIND_BEHAVIOR,
    }
)
# Behaviour events that are outcomes the CRM reported (GHL OpportunityStatusUpdate via ingest).
CRM_OUTCOMES = {"opportunity_won": routing_pb.OUTCOME_WON, "opportunity_lost": routing_pb.OUTCOME_LOST}
# Events after which the lead may have lost its last channel.
OPT_OUT_KINDS = frozenset({pb.LEAD_EVENT_KIND_INBOUND_MESSAGE, pb.LEAD_EVENT_KIND_SUPPRESSION})


def opted_out_everywhere(facts: ContactFacts) -> bool:
    """No channel left, and because of an opt-out or suppression (not merely no address)."""
    refused = facts.sms_opted_out or facts.email_opted_out or facts.sms_suppressed or facts.email_suppressed
    return bool(refused) and not reachable(facts)


class AssignmentSync:
    def __init__(self, routing: RoutingClient, consents: ConsentRepository) -> None:
        self._routing = routing
        self._consents = consents

    async def after(self, ev: Envelope) -> None:
        if ev.lead_id is None:
            return
        location = ev.location_id
        if ev.kind == pb.LEAD_EVENT_KIND_LEAD_DELETED:
            await self._routing.release_assignment(
                ev.lead_id,
                location_id=location,
                reason=routing_pb.RELEASE_REASON_DELETED,
                request_id=f"{ev.event_id}:release",
            )
            return
        if ev.kind in ACTIVITY_KINDS:
            await self._routing.record_lead_activity(
                ev.lead_id,
                location_id=location,
                request=routing_pb.RecordLeadActivityRequest(
                    activity_time=timestamps.to_proto(ev.occurred_time or timestamps.now())
                ),
            )
        outcome = CRM_OUTCOMES.get(ev.behavior_type) if ev.kind == pb.LEAD_EVENT_KIND_BEHAVIOR else None
        if outcome is not None:
            await self._routing.record_outcome(
                routing_pb.RecordOutcomeRequest(
                    lead_id=str(ev.lead_id),
                    location_id=location,
                    outcome=outcome,
                    occurred_time=timestamps.to_proto(ev.occurred_time),
                    request_id=f"{ev.event_id}:outcome",
                )
            )
        if ev.kind in OPT_OUT_KINDS:
            facts = await self._consents.find_facts(ev.lead_id)
            if facts is not None and opted_out_everywhere(facts):
                await self._routing.release_assignment(
                    ev.lead_id,
                    location_id=location,
                    reason=routing_pb.RELEASE_REASON_OPTED_OUT,
                    request_id=f"{ev.event_id}:release",
                )
