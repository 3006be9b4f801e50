"""The campaign enroller, a background loop beside the message scheduler: it gathers
each new campaign's audience a page at a time, then enrols the members whose time has
come, never more in a campaign day than its daily_limit.

Everything it does is in the database, so a restart loses nothing: the audience page
token moves on in the same transaction that adds the page's members, and a member is
claimed for a lease (as the scheduler claims messages), so one whose enroller died is
taken again when the lease runs out. The clock is injected: tests and benchmarks
compress days by calling run_once(now) with later and later times.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from services.coordinator.campaigns import campaign as rules
from services.coordinator.campaigns.audience import AudienceReader
from services.coordinator.campaigns.campaign import Campaign, CampaignNotActive, Standing
from services.coordinator.campaigns.repository import CampaignRepository
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.runner import JourneyRunner
from shared import contact
from shared.clients import IngestClient, PeerError

log = logging.getLogger(__name__)


class Enroller:
    def __init__(
        self,
        repo: CampaignRepository,
        audience: AudienceReader,
        cadences: CadenceRepository,
        runner: JourneyRunner,
        ingest: IngestClient,
        *,
        window: rules.SendWindow,
        poll_s: float,
        batch: int,
        concurrency: int,
        lease: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = repo
        self._audience = audience
        self._cadences = cadences
        self._runner = runner
        self._ingest = ingest
        self._window = window
        self._poll_s = poll_s
        self._batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._clock = clock

    async def run(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except PeerError as err:  # a peer is down: try again next round, the work is durable
                log.warning("campaign round failed", extra={"peer": err.peer, "code": err.code.name})
                busy = 0
            if not busy:
                await asyncio.sleep(self._poll_s)

    async def run_once(self, now: datetime | None = None) -> int:
        """One round as of `now`: gather one audience page per building campaign, enrol
        one batch of due members, complete finished campaigns. Returns the work done."""
        at = now or self._clock()
        work = 0
        for c in await self._repo.building():
            work += await self._gather(c)
        claimed = await self._repo.claim_due(at, self._lease, self._batch)
        results = await asyncio.gather(*(self._enrol(c, lead_id, at) for c, lead_id in claimed))
        work += len(claimed)
        if any(results) or not claimed:
            await self._repo.complete_finished()
        return work

    async def _gather(self, c: Campaign) -> int:
        token = c.audience_token or ""
        page = await self._audience.page(c, c.inactive_since, token)
        assert c.start_time is not None
        start = c.start_time
        zones = {uuid.UUID(lead.lead_id): contact.zone_for(lead.timezone, lead.phone) for lead in page.leads}

        def due(position: int, lead_id: uuid.UUID) -> datetime:
            return rules.due_time(start, position, c.daily_limit, zones[lead_id], self._window)

        added = await self._repo.add_members(c.campaign_id, token, list(zones), due, page.next_token or None)
        log.info(
            "campaign audience page",
            extra={"campaign_id": str(c.campaign_id), "added": added, "excluded": dict(page.excluded)},
        )
        return 1

    async def _enrol(self, c: Campaign, lead_id: uuid.UUID, now: datetime) -> bool:
        """Enrol one member; True when it left the waiting state (enrolled or skipped)."""
        async with self._slots:
            try:
                why = await self._enrol_member(c, lead_id)
            except CampaignNotActive:  # paused meanwhile: the member waits for the resume
                await self._repo.release_member(c.campaign_id, lead_id)
                return False
            except PeerError as err:  # the lease runs out and another round retries it
                log.warning(
                    "enrolment failed; will retry",
                    extra={"campaign_id": str(c.campaign_id), "lead_id": str(lead_id), "code": err.code.name},
                )
                return False
            await self._repo.finish_member(c.campaign_id, lead_id, now, why)
            return True

    async def _enrol_member(self, c: Campaign, lead_id: uuid.UUID) -> str:
        """ "" when enrolled, else why the member was skipped. Everything is re-checked now:
        the lead may have opted out, been suppressed, deleted, replied or started a journey
        since the audience was gathered."""
        lead = await self._ingest.get_lead(lead_id, c.location_id)
        if lead is None:
            return rules.DELETED
        standing = (
            await self._repo.standing([(lead_id, lead.phone, lead.email)], c.campaign_id, c.inactive_since)
        ).get(lead_id, Standing())
        # The journey check is the insert below: it is what holds under concurrency.
        why = rules.exclusion(
            lead, Standing(False, standing.in_campaign, standing.opted_out, standing.suppressed), None, 0
        )
        if why:
            return why
        journey = await self._repo.enrol_journey(c, lead_id)
        if journey is None:
            return rules.IN_JOURNEY
        assert c.cadence_id is not None
        cadence = await self._cadences.get_cadence(c.cadence_id)
        await self._runner.enrol(journey, lead, cadence.steps[0].purpose)
        return ""
