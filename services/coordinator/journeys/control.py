"""What people do to journeys and cadences: stop, pause, resume; define cadences.

Stopping blocks every step still waiting (as a reply does). Pausing leaves waiting
steps where they are: the scheduler skips a paused journey's messages, so once the
pause ends (ResumeJourney, or a timed pause running out) they go out from where they
were, through the gates again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.coordinator.journeys import cadence
from services.coordinator.journeys.cadence import Cadence
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.repository import Journey, JourneyRepository
from shared.errors import FailedPrecondition

# Cadence ids derived from (location, request_id), so a retried create makes one cadence.
_CADENCE_IDS = uuid.UUID("6f1c1c2e-8f51-4d0e-9a57-6a1d4f0c5b21")
HUMAN_TOUCH = "a person wrote to the lead from the CRM"


def cadence_id_for(location_id: str, request_id: str | None) -> uuid.UUID:
    return uuid.uuid5(_CADENCE_IDS, f"{location_id}:{request_id}") if request_id else uuid.uuid4()


class JourneyControl:
    def __init__(self, journeys: JourneyRepository, cadences: CadenceRepository) -> None:
        self._journeys = journeys
        self._cadences = cadences

    async def upsert_cadence(self, given: Cadence) -> Cadence:
        cadence.validate(given.steps, given.location_id)
        return await self._cadences.upsert_cadence(given)

    async def stop(self, lead_id: uuid.UUID, reason: str) -> Journey:
        """A journey already stopped keeps the reason it stopped for."""
        journey = await self._journeys.get_journey(lead_id)
        return await self._journeys.stop_journey(lead_id, journey.location_id, reason, only_over=())

    async def pause(self, lead_id: uuid.UUID, reason: str, until: timedelta | None = None) -> Journey:
        journey = await self._journeys.get_journey(lead_id)
        paused = await self._cadences.pause(lead_id, reason, until)
        if paused is None:
            raise FailedPrecondition(
                f"lead {lead_id}'s journey stopped ({journey.stop_reason}); a stopped journey cannot pause",
                reason="JOURNEY_STOPPED",
                metadata={"lead_id": str(lead_id)},
            )
        return paused

    async def human_touch(self, lead_id: uuid.UUID, hours: float) -> Journey | None:
        """A person's message from the CRM holds automation for `hours` (none: no journey)."""
        return await self._cadences.pause(lead_id, HUMAN_TOUCH, timedelta(hours=hours))

    async def resume(self, lead_id: uuid.UUID) -> Journey:
        await self._journeys.get_journey(lead_id)
        resumed = await self._cadences.resume(lead_id)
        assert resumed is not None
        return resumed
