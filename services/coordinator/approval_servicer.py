"""CoordinatorService handler for suggest mode: sending a draft an agent approved.
Mixed into CoordinatorServicer; app.py calls init_approvals()."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.repository import Communication
from services.coordinator.journeys.approved import ApprovedSends
from shared import inputs, tenancy
from shared.rpc import Context


class ApprovalHandlers:
    def _communication_proto(self, message: Communication) -> pb.Communication:
        raise NotImplementedError  # CoordinatorServicer's

    def init_approvals(self, sends: ApprovedSends) -> None:
        self._approved_sends = sends

    async def SendApprovedMessage(
        self, request: pb.SendApprovedMessageRequest, context: Context
    ) -> pb.SendApprovedMessageResponse:
        message_id = inputs.require_text(request.message_id, "message_id")
        # Required (#15): the agent's tool or the operator sending an approved draft knows the
        # lead's location; no service of the mesh makes this call.
        sent = await self._approved_sends.send(message_id, tenancy.required_location(request.location_id))
        return pb.SendApprovedMessageResponse(communication=self._communication_proto(sent))
