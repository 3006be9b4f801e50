"""HandleLeadEvent: dedup on event_id, then the handler for the event's kind.

Ingest's outbox delivers at least once. An event is marked handled only after all of
its work succeeded, so a failure part-way is finished by the redelivery; every
handler's steps are idempotent for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.envelope import LEAD_KINDS, Envelope
from services.coordinator.inbound import MessageHandler
from services.coordinator.journey import JourneyRunner
from services.coordinator.reports import ReportHandler
from services.coordinator.repository import CoordinatorRepository


@dataclass(frozen=True)
class Outcome:
    journey: asyncpg.Record | None
    duplicate: bool


class EventHandler:
    def __init__(
        self,
        repo: CoordinatorRepository,
        journeys: JourneyRunner,
        messages: MessageHandler,
        reports: ReportHandler,
    ) -> None:
        self._repo = repo
        self._journeys = journeys
        self._messages = messages
        self._reports = reports

    async def handle(self, ev: Envelope) -> Outcome:
        journey: asyncpg.Record | None
        if await self._repo.event_processed(ev.event_id):
            journey = await self._repo.find_journey(ev.lead_id) if ev.lead_id is not None else None
            return Outcome(journey, duplicate=True)
        if ev.kind in LEAD_KINDS:
            journey = await self._journeys.handle(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_INBOUND_MESSAGE:
            journey = await self._messages.inbound(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE:
            journey = await self._messages.outbound(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_DELIVERY_STATUS:
            journey = await self._reports.delivery(ev)
        else:
            journey = await self._reports.suppression(ev)
        await self._repo.mark_processed(ev.event_id, ev.lead_id, ev.kind)
        return Outcome(journey, duplicate=False)
