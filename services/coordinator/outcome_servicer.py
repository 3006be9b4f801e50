"""CoordinatorService.HandleOutcome: routing's outbox relay hands over every recorded outcome.
A WON lead converted: its automated journey stops. A reassignment moves the journey to the
new agent (journeys/holder.py) and is told to both agents. Mixed into CoordinatorServicer."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.journeys import recovery
from services.coordinator.journeys.holder import JourneyHolder
from services.coordinator.journeys.repository import CONVERTED, Journey, JourneyRepository
from services.coordinator.notifications.moves import AgentMoves
from shared import inputs
from shared.errors import FailedPrecondition
from shared.rpc import Context


class OutcomeHandlers:
    _journeys: JourneyRepository
    _agent_moves: AgentMoves | None = None
    _journey_holder: JourneyHolder | None = None

    def init_notifications(self, moves: AgentMoves, holder: JourneyHolder | None = None) -> None:
        self._agent_moves = moves
        self._journey_holder = holder

    def _journey_proto(self, journey: Journey) -> pb.Journey:
        raise NotImplementedError

    async def HandleOutcome(
        self, request: pb.HandleOutcomeRequest, context: Context
    ) -> pb.HandleOutcomeResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = inputs.require_text(request.location_id, "location_id")
        inputs.require_text(request.event_id, "event_id")
        if request.HasField("offer"):
            if self._agent_moves is None:
                raise FailedPrecondition(
                    "this coordinator cannot notify agents of offers; deploy the current release",
                    reason="OFFER_UNSUPPORTED",
                )
            await self._agent_moves.offered(request, lead_id, location_id)
        if request.HasField("reassignment"):
            if self._journey_holder is not None:
                await self._journey_holder.moved(request, lead_id, location_id)
            if self._agent_moves is None:
                raise FailedPrecondition(
                    "this coordinator cannot notify agents of reassignments; deploy the current release",
                    reason="REASSIGNMENT_UNSUPPORTED",
                )
            await self._agent_moves.handle(request, lead_id, location_id)
        if request.outcome == routing_pb.OUTCOME_WON:
            # Stopping is idempotent (a redelivery changes nothing) and keeps an earlier stop's
            # reason, except "lead replied": a recovery may follow a reply, never a conversion
            # (journeys/recovery.py). A lead with no journey gets one already stopped, so none
            # can start.
            journey = await self._journeys.stop_journey(
                lead_id, location_id, CONVERTED, only_over=(recovery.LEAD_REPLIED,)
            )
            return pb.HandleOutcomeResponse(journey=self._journey_proto(journey))
        found = await self._journeys.find_journey(lead_id)
        return pb.HandleOutcomeResponse(journey=self._journey_proto(found) if found else None)
