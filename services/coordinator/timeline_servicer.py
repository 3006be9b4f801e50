"""CoordinatorService.GetLeadTimeline: the decision log of one lead, oldest first.
Mixed into CoordinatorServicer."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import struct_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.journeys.repository import JourneyRepository
from services.coordinator.timeline import entries
from services.coordinator.timeline.repository import Decision, DecisionLog
from shared import inputs, pagination, tenancy, timestamps
from shared.rpc import Context


def entry_to_proto(decision: Decision) -> pb.TimelineEntry:
    kind, summary = entries.summarize(decision)
    details = struct_pb2.Struct()
    details.update(entries.readable_details(decision))
    return pb.TimelineEntry(
        time=timestamps.to_proto(decision.occur_time), kind=kind, summary=summary, details=details
    )


def _cursor(decision: Decision) -> dict[str, str]:
    return {"t": decision.occur_time.isoformat(), "id": str(decision.entry_id)}


def _time_and_entry(cursor: dict[str, str]) -> tuple[datetime, int]:
    return datetime.fromisoformat(cursor["t"]), int(cursor["id"])


class TimelineHandlers:
    _decisions: DecisionLog
    _journeys: JourneyRepository

    async def GetLeadTimeline(
        self, request: pb.GetLeadTimelineRequest, context: Context
    ) -> pb.GetLeadTimelineResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location = tenancy.required_location(request.location_id)
        size = pagination.page_size(request.page_size)
        query = f"timeline:{lead_id}"
        after = pagination.decode_cursor(request.page_token, _time_and_entry, query=query)
        journey = await self._journeys.find_journey(lead_id)
        tenancy.ensure_owned(
            location, journey.location_id if journey else "", "lead", lead_id, "JOURNEY_NOT_FOUND"
        )
        found = await self._decisions.list_decisions(lead_id, after, size)
        if not found and after is None:
            # Nothing logged: a lead the coordinator never heard of (NOT_FOUND, as GetJourney).
            await self._journeys.get_journey(lead_id)
        page, token = pagination.page_of(found, size, _cursor, query=query)
        return pb.GetLeadTimelineResponse(entries=[entry_to_proto(d) for d in page], next_page_token=token)
