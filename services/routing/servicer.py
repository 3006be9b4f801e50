"""RoutingService handlers: proto in, domain calls, proto out. No SQL, no status codes."""

from __future__ import annotations

from typing import Any

from leadengine.routing.v1 import routing_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.routing.repository import AgentFields, RoutingRepository
from shared import contact, ids, pagination, timestamps
from shared.errors import FieldViolation, InvalidArgument, NotFound
from shared.rpc import Context


def agent_to_proto(row: Any) -> pb.Agent:
    return pb.Agent(
        agent_id=str(row["agent_id"]),
        location_id=row["location_id"],
        external_user_id=row["external_user_id"] or "",
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        timezone=row["timezone"],
        capacity=row["capacity"],
        available=row["available"],
        active_lead_count=row["active_lead_count"],
        create_time=timestamps.to_proto(row["create_time"]),
        update_time=timestamps.to_proto(row["update_time"]),
    )


def assignment_to_proto(row: Any) -> pb.Assignment:
    return pb.Assignment(
        lead_id=str(row["lead_id"]),
        agent_id=str(row["agent_id"]),
        location_id=row["location_id"],
        reasons=list(row["reasons"]),
        assign_time=timestamps.to_proto(row["assign_time"]),
        agent_name=row["agent_name"],
    )


def _agent_fields(agent: pb.Agent) -> AgentFields:
    if agent.capacity < 0:
        raise InvalidArgument(
            "agent.capacity must not be negative",
            violations=[FieldViolation("agent.capacity", "0 (default) or more")],
        )
    return AgentFields(
        location_id=ids.require_text(agent.location_id, "agent.location_id"),
        external_user_id=agent.external_user_id.strip() or None,
        name=ids.require_text(agent.name, "agent.name"),
        email=contact.normalize_email(agent.email, "agent.email"),
        phone=contact.normalize_phone(agent.phone, "agent.phone"),
        timezone=contact.check_timezone(agent.timezone, "agent.timezone"),
        capacity=agent.capacity,
        available=agent.available,
    )


class RoutingServicer(pb_grpc.RoutingServiceServicer):
    def __init__(self, repo: RoutingRepository) -> None:
        self._repo = repo

    async def UpsertAgent(self, request: pb.UpsertAgentRequest, context: Context) -> pb.UpsertAgentResponse:
        fields = _agent_fields(request.agent)
        agent_id = (
            ids.parse_uuid(request.agent.agent_id, "agent.agent_id") if request.agent.agent_id else None
        )
        row, created = await self._repo.upsert_agent(agent_id, fields, ids.request_key(request.request_id))
        return pb.UpsertAgentResponse(agent=agent_to_proto(row), created=created)

    async def GetAgent(self, request: pb.GetAgentRequest, context: Context) -> pb.GetAgentResponse:
        row = await self._repo.get_agent(ids.parse_uuid(request.agent_id, "agent_id", what="agent id"))
        return pb.GetAgentResponse(agent=agent_to_proto(row))

    async def ListAgents(self, request: pb.ListAgentsRequest, context: Context) -> pb.ListAgentsResponse:
        location_id = ids.require_text(request.location_id, "location_id")
        size = pagination.page_size(request.page_size)
        after = pagination.decode_cursor(
            request.page_token, lambda c: (c["name"], c["id"]), query=location_id
        )
        rows = await self._repo.list_agents(location_id, after, size)
        page, token = pagination.page_of(
            rows, size, lambda r: {"name": r["name"], "id": str(r["agent_id"])}, query=location_id
        )
        return pb.ListAgentsResponse(agents=[agent_to_proto(r) for r in page], next_page_token=token)

    async def SetAgentAvailability(
        self, request: pb.SetAgentAvailabilityRequest, context: Context
    ) -> pb.SetAgentAvailabilityResponse:
        row = await self._repo.set_available(ids.parse_uuid(request.agent_id, "agent_id"), request.available)
        return pb.SetAgentAvailabilityResponse(agent=agent_to_proto(row))

    async def RouteLead(self, request: pb.RouteLeadRequest, context: Context) -> pb.RouteLeadResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = ids.require_text(request.location_id, "location_id")
        row, created = await self._repo.route(lead_id, location_id)
        return pb.RouteLeadResponse(assignment=assignment_to_proto(row), created=created)

    async def GetAssignment(
        self, request: pb.GetAssignmentRequest, context: Context
    ) -> pb.GetAssignmentResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        row = await self._repo.get_assignment(lead_id)
        if row is None:
            raise NotFound(
                f"lead {lead_id} has not been routed",
                reason="ASSIGNMENT_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return pb.GetAssignmentResponse(assignment=assignment_to_proto(row))

    async def RecordOutcome(
        self, request: pb.RecordOutcomeRequest, context: Context
    ) -> pb.RecordOutcomeResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        if request.outcome == pb.OUTCOME_UNSPECIFIED or request.outcome not in pb.Outcome.values():
            raise InvalidArgument(
                "outcome is required",
                violations=[FieldViolation("outcome", "CONTACTED, APPOINTMENT, WON or LOST")],
            )
        occurred = timestamps.from_proto(request.occurred_time) or timestamps.now()
        row = await self._repo.record_outcome(
            lead_id, request.outcome, occurred, ids.request_key(request.request_id)
        )
        return pb.RecordOutcomeResponse(assignment=assignment_to_proto(row))
