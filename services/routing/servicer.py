"""RoutingService handlers: proto in, use-case calls, proto out. No rules, no SQL, no status codes."""

from __future__ import annotations

from leadengine.routing.v1 import routing_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.routing import agents, outcomes
from services.routing.assigning import Assigning
from services.routing.claiming import Claiming
from services.routing.claiming_servicer import ClaimingHandlers
from services.routing.dead_letter_servicer import DeadLetterHandlers
from services.routing.lifecycle import Lifecycle
from services.routing.lifecycle_servicer import LifecycleHandlers
from services.routing.location_store import LocationStore
from services.routing.manual import ManualReassignment
from services.routing.outcome_outbox import DeadLetters
from services.routing.outcomes import OutcomeRecording
from services.routing.repository import OFFERED, Agent, Assignment
from services.routing.roster import Roster
from services.routing.rule_store import RuleStore
from services.routing.rules_servicer import RuleHandlers
from shared import inputs, pagination, timestamps
from shared.rpc import Context


def agent_to_proto(agent: Agent) -> pb.Agent:
    return pb.Agent(
        agent_id=str(agent.agent_id),
        location_id=agent.location_id,
        external_user_id=agent.external_user_id or "",
        name=agent.name,
        email=agent.email,
        phone=agent.phone,
        timezone=agent.timezone,
        capacity=agent.capacity,
        available=agent.available,
        active_lead_count=agent.active_lead_count,
        create_time=timestamps.to_proto(agent.create_time),
        update_time=timestamps.to_proto(agent.update_time),
        languages=list(agent.languages),
        specialties=list(agent.specialties),
        territories=list(agent.territories),
        min_price_usd=agent.min_price_usd,
        max_price_usd=agent.max_price_usd,
        working_hours=[
            pb.WorkingHours(
                day_of_week=w.day_of_week,
                start_time=f"{w.start_minute // 60:02d}:{w.start_minute % 60:02d}",
                end_time=f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}",
            )
            for w in agent.working_hours
        ],
        team_id=agent.team_id,
        team_lead=agent.team_lead,
        notify_channel=agent.notify_channel,  # type: ignore[arg-type]
        median_response_seconds=agent.response_median_s,
        response_count=agent.response_count,
    )


def assignment_to_proto(assignment: Assignment) -> pb.Assignment:
    return pb.Assignment(
        lead_id=str(assignment.lead_id),
        agent_id=str(assignment.agent_id or ""),
        location_id=assignment.location_id,
        reasons=list(assignment.reasons),
        assign_time=timestamps.to_proto(assignment.assign_time),
        agent_name=assignment.agent_name,
        predicted_success=assignment.predicted_success,
        candidates=[
            pb.AssignmentCandidate(
                agent_id=c["agent_id"],
                predicted_success=c["predicted_success"],
                active_lead_count=c["active_lead_count"],
                score=c["score"],
                reasons=c["reasons"],
            )
            for c in assignment.candidates
        ],
        state=assignment.state,  # type: ignore[arg-type]
        end_reason=assignment.end_reason,
        last_activity_time=timestamps.to_proto(assignment.last_activity_time),
        accept_by_time=timestamps.to_proto(assignment.accept_by_time),
        accept_time=timestamps.to_proto(assignment.accept_time),
        reassign_count=assignment.reassign_count,
        offered_agent_ids=[str(a) for a in assignment.offered_agents] if assignment.state == OFFERED else [],
    )


def _agent_fields(agent: pb.Agent) -> agents.AgentFields:
    return agents.agent_fields(
        location_id=agent.location_id,
        external_user_id=agent.external_user_id,
        name=agent.name,
        email=agent.email,
        phone=agent.phone,
        timezone=agent.timezone,
        capacity=agent.capacity,
        available=agent.available,
        languages=agent.languages,
        specialties=agent.specialties,
        territories=agent.territories,
        min_price_usd=agent.min_price_usd,
        max_price_usd=agent.max_price_usd,
        working_hours=[
            agents.window(w.day_of_week, w.start_time, w.end_time, i)
            for i, w in enumerate(agent.working_hours)
        ],
        team_id=agent.team_id,
        team_lead=agent.team_lead,
        notify_channel=agent.notify_channel,
    )


def _location(raw: str) -> str:
    return inputs.require_text(raw, "location_id")


class RoutingServicer(
    LifecycleHandlers, RuleHandlers, ClaimingHandlers, DeadLetterHandlers, pb_grpc.RoutingServiceServicer
):
    def __init__(
        self,
        roster: Roster,
        assigning: Assigning,
        outcome_recording: OutcomeRecording,
        lifecycle: Lifecycle,
        store: LocationStore,
        rule_store: RuleStore,
        claiming: Claiming,
        manual: ManualReassignment,
        dead_letters: DeadLetters,
    ) -> None:
        self._roster = roster
        self._assigning = assigning
        self._outcomes = outcome_recording
        self._lifecycle = lifecycle
        self._store = store
        self._rule_store = rule_store
        self._claiming = claiming
        self._manual = manual
        self._dead_letters = dead_letters

    def _assignment_proto(self, assignment: Assignment) -> pb.Assignment:
        return assignment_to_proto(assignment)

    async def UpsertAgent(self, request: pb.UpsertAgentRequest, context: Context) -> pb.UpsertAgentResponse:
        fields = _agent_fields(request.agent)
        agent_id = (
            inputs.parse_uuid(request.agent.agent_id, "agent.agent_id") if request.agent.agent_id else None
        )
        agent, created = await self._roster.upsert(agent_id, fields, inputs.request_key(request.request_id))
        return pb.UpsertAgentResponse(agent=agent_to_proto(agent), created=created)

    async def GetAgent(self, request: pb.GetAgentRequest, context: Context) -> pb.GetAgentResponse:
        agent_id = inputs.parse_uuid(request.agent_id, "agent_id", what="agent id")
        agent = await self._roster.get(agent_id, _location(request.location_id))
        return pb.GetAgentResponse(agent=agent_to_proto(agent))

    async def ListAgents(self, request: pb.ListAgentsRequest, context: Context) -> pb.ListAgentsResponse:
        location_id = _location(request.location_id)
        size = pagination.page_size(request.page_size)
        after = pagination.decode_cursor(
            request.page_token, lambda c: (c["name"], c["id"]), query=location_id
        )
        found = await self._roster.page(location_id, after, size)
        page, token = pagination.page_of(
            found, size, lambda a: {"name": a.name, "id": str(a.agent_id)}, query=location_id
        )
        return pb.ListAgentsResponse(agents=[agent_to_proto(a) for a in page], next_page_token=token)

    async def SetAgentAvailability(
        self, request: pb.SetAgentAvailabilityRequest, context: Context
    ) -> pb.SetAgentAvailabilityResponse:
        agent_id = inputs.parse_uuid(request.agent_id, "agent_id")
        agent = await self._roster.set_available(agent_id, _location(request.location_id), request.available)
        return pb.SetAgentAvailabilityResponse(agent=agent_to_proto(agent))

    async def RouteLead(self, request: pb.RouteLeadRequest, context: Context) -> pb.RouteLeadResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = _location(request.location_id)
        snapshot = request.lead if request.HasField("lead") else None
        routed = await self._assigning.route_once(lead_id, location_id, request.score, snapshot)
        return pb.RouteLeadResponse(
            assignment=assignment_to_proto(routed.assignment),
            created=routed.created,
            agent=agent_to_proto(routed.agent) if routed.agent is not None else None,
        )

    async def GetAssignment(
        self, request: pb.GetAssignmentRequest, context: Context
    ) -> pb.GetAssignmentResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        found = await self._assigning.get(lead_id, _location(request.location_id))
        return pb.GetAssignmentResponse(assignment=assignment_to_proto(found))

    async def RecordOutcome(
        self, request: pb.RecordOutcomeRequest, context: Context
    ) -> pb.RecordOutcomeResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        assignment = await self._outcomes.record(
            lead_id,
            _location(request.location_id),
            outcomes.require_outcome(request.outcome),
            timestamps.from_proto(request.occurred_time),
            inputs.request_key(request.request_id),
        )
        return pb.RecordOutcomeResponse(assignment=assignment_to_proto(assignment))
