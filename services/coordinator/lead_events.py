"""HandleLeadEvent: dedup on event_id, then the handler for the event's kind.

Ingest's outbox delivers at least once. An event is marked handled only after all of
its work succeeded, so a failure part-way is finished by the redelivery; every
handler's steps are idempotent for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.assignment_sync import AssignmentSync
from services.coordinator.delivery.credentials import HighLevelCredentials
from services.coordinator.delivery.reports import ReportHandler
from services.coordinator.envelope import LEAD_KINDS, Envelope
from services.coordinator.inbound.messages import MessageHandler
from services.coordinator.inbound.unknown_sender import UnknownSenders
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.journeys.runner import JourneyRunner
from services.coordinator.timeline import observed
from services.coordinator.timeline.repository import DecisionLog


@dataclass(frozen=True)
class HandledEvent:
    """What HandleLeadEvent answers: the lead's journey as it now stands (None when the
    event names no lead, or one without a journey), and whether the event was a replay."""

    journey: Journey | None
    duplicate: bool


class EventHandler:
    def __init__(
        self,
        journeys: JourneyRepository,
        runner: JourneyRunner,
        messages: MessageHandler,
        reports: ReportHandler,
        unknown_senders: UnknownSenders,
        *,
        decisions: DecisionLog | None = None,
        assignments: AssignmentSync | None = None,
        highlevel: HighLevelCredentials | None = None,
    ) -> None:
        self._highlevel = highlevel
        self._decisions = decisions
        self._journeys = journeys
        self._runner = runner
        self._messages = messages
        self._reports = reports
        self._unknown_senders = unknown_senders
        self._assignments = assignments

    async def handle(self, ev: Envelope) -> HandledEvent:
        journey: Journey | None
        if await self._journeys.event_processed(ev.event_id):
            journey = await self._journeys.find_journey(ev.lead_id) if ev.lead_id is not None else None
            return HandledEvent(journey, duplicate=True)
        if self._decisions is not None:
            await observed.record_event(self._decisions, ev)
        if ev.kind in LEAD_KINDS:
            journey = await self._runner.handle(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_INBOUND_MESSAGE and ev.lead_id is None:
            await self._unknown_senders.inbound(ev)
            journey = None
        elif ev.kind == pb.LEAD_EVENT_KIND_INBOUND_MESSAGE:
            journey = await self._messages.inbound(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE:
            journey = await self._messages.outbound(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_DELIVERY_STATUS:
            journey = await self._reports.delivery(ev)
        elif ev.kind == pb.LEAD_EVENT_KIND_APP_UNINSTALLED:
            journey = None
            if self._highlevel is not None:
                await self._highlevel.uninstalled(ev.location_id, ev.occurred_time)
        else:
            journey = await self._reports.suppression(ev)
        if self._assignments is not None:  # before marking: a failure here is redelivered too
            await self._assignments.after(ev)
        await self._journeys.mark_processed(ev.event_id, ev.lead_id, ev.kind)
        return HandledEvent(journey, duplicate=False)
