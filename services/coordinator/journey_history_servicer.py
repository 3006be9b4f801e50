"""CoordinatorService.ListJourneys: every journey a lead had, newest first. GetJourney shows the
current one; the ended ones before it stay readable, with their generation and the campaign
that started each (journeys/recovery.py). Mixed into CoordinatorServicer."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.journeys.repository import Journey, JourneyRepository
from shared import inputs, tenancy
from shared.errors import NotFound
from shared.rpc import Context


class JourneyHistoryHandlers:
    _journeys: JourneyRepository

    def _journey_proto(self, journey: Journey) -> pb.Journey:
        raise NotImplementedError

    async def ListJourneys(
        self, request: pb.ListJourneysRequest, context: Context
    ) -> pb.ListJourneysResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location = tenancy.required_location(request.location_id)
        journeys = await self._journeys.list_journeys(lead_id)
        if not journeys:
            raise NotFound(
                f"lead {lead_id} has no journey; it starts when ingest reports the lead",
                reason="JOURNEY_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        # Every journey of a lead is in the lead's location.
        tenancy.ensure_owned(
            location,
            journeys[0].location_id,
            "lead",
            lead_id,
            "JOURNEY_NOT_FOUND",
        )
        return pb.ListJourneysResponse(journeys=[self._journey_proto(j) for j in journeys])
