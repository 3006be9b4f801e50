"""What people do to campaigns: start one, look at them, pause and resume them."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.campaigns import campaign as rules
from services.coordinator.campaigns.campaign import Campaign
from services.coordinator.campaigns.repository import CampaignRepository
from services.coordinator.journeys.cadence import Cadence
from services.coordinator.journeys.cadence_repository import CadenceRepository
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound


class CampaignControl:
    def __init__(
        self, repo: CampaignRepository, cadences: CadenceRepository, clock: Callable[[], datetime]
    ) -> None:
        self._repo = repo
        self._cadences = cadences
        self._clock = clock

    async def resolve(self, given: pb.Campaign, campaign_id: uuid.UUID) -> tuple[Campaign, Cadence | None]:
        """The validated campaign and its cadence (None: the location's recovery cadence,
        not created yet). Reads only, so a preview can use it."""
        cadence_id = None
        if given.cadence_id:
            try:
                cadence_id = uuid.UUID(given.cadence_id)
            except ValueError:
                raise _bad_cadence("is not a cadence id") from None
        c = rules.validated(given, campaign_id=campaign_id, cadence_id=cadence_id)
        if cadence_id is None:
            recovery = rules.recovery_cadence_id(c.location_id)
            try:
                found: Cadence | None = await self._cadences.get_cadence(recovery)
            except NotFound:
                found = None
            return c, found
        try:
            chosen = await self._cadences.get_cadence(cadence_id)
        except NotFound:
            raise _bad_cadence("names no cadence") from None
        if chosen.location_id != c.location_id:
            raise _bad_cadence("belongs to another location")
        return c, chosen

    async def start(self, given: pb.Campaign, request_id: str) -> Campaign:
        location = given.location_id.strip()
        campaign_id = rules.campaign_id_for(location, request_id)
        c, chosen = await self.resolve(given, campaign_id)
        if chosen is None:
            chosen = await self._cadences.upsert_cadence(
                Cadence(
                    cadence_id=rules.recovery_cadence_id(c.location_id),
                    location_id=c.location_id,
                    name=rules.RECOVERY_NAME,
                    steps=rules.RECOVERY_STEPS,
                    is_default=False,
                )
            )
        now = self._clock()
        ready = dataclasses.replace(
            c, cadence_id=chosen.cadence_id, inactive_since=rules.inactive_since(c.audience, now)
        )
        return await self._repo.create(ready, request_id, now)

    async def get(self, campaign_id: uuid.UUID) -> Campaign:
        return await self._repo.get(campaign_id)

    async def pause(self, campaign_id: uuid.UUID) -> Campaign:
        found = await self._repo.get(campaign_id)
        if found.state == rules.COMPLETED:
            raise FailedPrecondition(
                f"campaign {campaign_id} is completed; there is nothing left to pause",
                reason="CAMPAIGN_COMPLETED",
                metadata={"campaign_id": str(campaign_id)},
            )
        return await self._repo.pause(campaign_id, self._clock())

    async def resume(self, campaign_id: uuid.UUID) -> Campaign:
        return await self._repo.resume(campaign_id, self._clock())


def _bad_cadence(why: str) -> InvalidArgument:
    return InvalidArgument(
        f"campaign.cadence_id {why}",
        reason="INVALID_CAMPAIGN",
        violations=[FieldViolation("campaign.cadence_id", why)],
    )
