"""CoordinatorService handlers for cadences and journey control: proto in, domain calls,
proto out. Mixed into CoordinatorServicer, which supplies journey_to_proto."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.journeys import recovery
from services.coordinator.journeys.cadence import FOLLOW_UP, Cadence, Step
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.control import JourneyControl, cadence_id_for
from services.coordinator.journeys.repository import CONVERTED, Journey
from services.coordinator.journeys.unreachable import OPTED_OUT_EVERYWHERE
from shared import inputs, pagination, tenancy, timestamps
from shared.rpc import Context


def cadence_to_proto(cadence: Cadence) -> pb.Cadence:
    steps = []
    for step in cadence.steps:
        out = pb.CadenceStep(channel=step.channel, purpose=step.purpose)
        out.delay.FromTimedelta(step.delay)
        steps.append(out)
    return pb.Cadence(
        cadence_id=str(cadence.cadence_id),
        location_id=cadence.location_id,
        name=cadence.name,
        steps=steps,
        is_default=cadence.is_default,
        create_time=timestamps.to_proto(cadence.create_time),
        update_time=timestamps.to_proto(cadence.update_time),
    )


def cadence_from_proto(given: pb.Cadence, request_id: str | None) -> Cadence:
    location = given.location_id.strip()
    return Cadence(
        cadence_id=(
            inputs.parse_uuid(given.cadence_id, "cadence.cadence_id", what="cadence id")
            if given.cadence_id
            else cadence_id_for(location, request_id)
        ),
        location_id=location,
        name=given.name.strip(),
        steps=tuple(
            Step(
                timedelta(seconds=s.delay.seconds, microseconds=s.delay.nanos // 1000),
                s.channel,
                s.purpose or FOLLOW_UP,
            )
            for s in given.steps
        ),
        is_default=given.is_default,
    )


def _cadence_cursor(cadence: Cadence) -> dict[str, str]:
    assert cadence.create_time is not None
    return {"t": cadence.create_time.isoformat(), "id": str(cadence.cadence_id)}


class CadenceHandlers:
    _control: JourneyControl
    _cadences: CadenceRepository
    # Defined by the servicer: a claimed location must own the lead's journey (NOT_FOUND else).
    _ensure_lead_in: Callable[[uuid.UUID, str], Awaitable[None]]

    def _journey_proto(self, journey: Journey) -> pb.Journey:
        raise NotImplementedError

    async def UpsertCadence(
        self, request: pb.UpsertCadenceRequest, context: Context
    ) -> pb.UpsertCadenceResponse:
        given = cadence_from_proto(request.cadence, inputs.request_key(request.request_id))
        return pb.UpsertCadenceResponse(cadence=cadence_to_proto(await self._control.upsert_cadence(given)))

    async def GetCadence(self, request: pb.GetCadenceRequest, context: Context) -> pb.GetCadenceResponse:
        cadence_id = inputs.parse_uuid(request.cadence_id, "cadence_id", what="cadence id")
        location = tenancy.required_location(request.location_id)
        found = await self._cadences.get_cadence(cadence_id)
        tenancy.ensure_owned(
            location,
            found.location_id,
            "cadence",
            found.cadence_id,
            "CADENCE_NOT_FOUND",
        )
        return pb.GetCadenceResponse(cadence=cadence_to_proto(found))

    async def ListCadences(
        self, request: pb.ListCadencesRequest, context: Context
    ) -> pb.ListCadencesResponse:
        location = inputs.require_text(request.location_id, "location_id")
        size = pagination.page_size(request.page_size)
        query = f"cadences:{location}"
        found = await self._cadences.list_cadences(
            location,
            pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query),
            size,
        )
        page, token = pagination.page_of(found, size, _cadence_cursor, query=query)
        return pb.ListCadencesResponse(cadences=[cadence_to_proto(c) for c in page], next_page_token=token)

    async def StopJourney(self, request: pb.StopJourneyRequest, context: Context) -> pb.StopJourneyResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        await self._ensure_lead_in(lead_id, tenancy.required_location(request.location_id))
        reason = recovery.refuse_engine_reason(
            inputs.require_text(request.reason, "reason"), (CONVERTED, OPTED_OUT_EVERYWHERE)
        )
        journey = await self._control.stop(lead_id, reason)
        return pb.StopJourneyResponse(journey=self._journey_proto(journey))

    async def PauseJourney(
        self, request: pb.PauseJourneyRequest, context: Context
    ) -> pb.PauseJourneyResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        await self._ensure_lead_in(lead_id, tenancy.required_location(request.location_id))
        journey = await self._control.pause(lead_id, inputs.require_text(request.reason, "reason"))
        return pb.PauseJourneyResponse(journey=self._journey_proto(journey))

    async def ResumeJourney(
        self, request: pb.ResumeJourneyRequest, context: Context
    ) -> pb.ResumeJourneyResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        await self._ensure_lead_in(lead_id, tenancy.required_location(request.location_id))
        journey = await self._control.resume(lead_id)
        return pb.ResumeJourneyResponse(journey=self._journey_proto(journey))
