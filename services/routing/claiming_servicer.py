"""RoutingService handlers for accepting and declining assignments. Mixed into RoutingServicer,
which supplies _claiming and _assignment_proto."""

from __future__ import annotations

import uuid

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing.claiming import Claiming
from services.routing.manual import ManualReassignment
from services.routing.repository import Assignment
from shared import inputs
from shared.rpc import Context


class ClaimingHandlers:
    _claiming: Claiming
    _manual: ManualReassignment

    def _assignment_proto(self, assignment: Assignment) -> pb.Assignment:
        raise NotImplementedError

    async def AcceptAssignment(
        self, request: pb.AcceptAssignmentRequest, context: Context
    ) -> pb.AcceptAssignmentResponse:
        accepted = await self._claiming.accept(
            *_lead_location_agent(request),
        )
        return pb.AcceptAssignmentResponse(assignment=self._assignment_proto(accepted))

    async def DeclineAssignment(
        self, request: pb.DeclineAssignmentRequest, context: Context
    ) -> pb.DeclineAssignmentResponse:
        moved = await self._claiming.decline(
            *_lead_location_agent(request),
        )
        return pb.DeclineAssignmentResponse(assignment=self._assignment_proto(moved))

    async def ReassignLead(
        self, request: pb.ReassignLeadRequest, context: Context
    ) -> pb.ReassignLeadResponse:
        moved = await self._manual.reassign(
            *_lead_location_agent(request),
            inputs.require_text(request.reason, "reason"),
        )
        return pb.ReassignLeadResponse(assignment=self._assignment_proto(moved))


def _lead_location_agent(
    request: pb.AcceptAssignmentRequest | pb.DeclineAssignmentRequest | pb.ReassignLeadRequest,
) -> tuple[uuid.UUID, str, uuid.UUID]:
    """The lead, the caller's location and the agent every claiming call names."""
    return (
        inputs.parse_uuid(request.lead_id, "lead_id", what="lead id"),
        inputs.require_text(request.location_id, "location_id"),
        inputs.parse_uuid(request.agent_id, "agent_id", what="agent id"),
    )
