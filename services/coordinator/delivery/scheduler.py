"""Sends messages that waited for the lead's sending window, rechecking every gate first.

Quiet hours, consent and the journey can all change between recording a message and
its window opening, so nothing decided at record time is trusted at send time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance import reply_keys
from services.coordinator.compliance.checks import ComplianceChecks
from services.coordinator.compliance.gates import Action, ContactFacts
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.delivery.dispatch import Dispatcher
from services.coordinator.delivery.repository import Communication, CommunicationRepository
from services.coordinator.journeys.repository import JourneyRepository
from services.coordinator.journeys.steps import CadenceWalker, step_index
from services.coordinator.notifications import held_for_review
from services.coordinator.notifications.held_later import HeldNotices

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        communications: CommunicationRepository,
        journeys: JourneyRepository,
        consents: ConsentRepository,
        dispatcher: Dispatcher,
        *,
        checks: ComplianceChecks,
        poll_s: float,
        batch: int,
        lease: timedelta,
        max_attempts: int,
        clock: Callable[[], datetime],
        steps: CadenceWalker | None = None,
        held: HeldNotices | None = None,
    ) -> None:
        self._repo = communications
        self._journeys = journeys
        self._consents = consents
        self._dispatcher = dispatcher
        self._checks = checks
        self._poll_s = poll_s
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        self._clock = clock
        # Writes cadence steps when due and schedules the next; None: first touches only.
        self._steps = steps
        # Tells the lead's agent of a hold for review; None: no notifications (tests of sends).
        self._held = held

    async def run(self) -> None:
        """The background loop: drain what is due, then wait a poll interval."""
        while True:
            while await self.run_once() == self._batch:
                pass  # a full batch: more may be due right now
            await asyncio.sleep(self._poll_s)

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and settle one batch of due messages as of `now`; returns how many."""
        at = now or self._clock()
        # Calls a dead worker left without an outcome are settled before anything is claimed.
        await self._dispatcher.reconcile_stale(at, self._batch)
        claimed = await self._repo.claim_due(at, at + self._lease, self._batch)
        for message in claimed:
            await self.settle(message, at)
        return len(claimed)

    async def settle(
        self, message: Communication, now: datetime, *, retry: bool = True, approved: bool = False
    ) -> None:
        """Gate and send one claimed message. retry=False: inside an RPC deadline, a provider
        asking us to wait hands it back to the loop. approved: an agent released this draft
        (SendApprovedMessage), which may still go out after the cadence ran out; a journey
        stopped for good refuses it like any other message."""
        cid = message.communication_id
        if message.attempts > self._max_attempts:
            await self._repo.finish_communication(
                cid,
                pb.COMMUNICATION_STATUS_FAILED,
                f"delivery did not complete after {self._max_attempts} attempts",
            )
            return
        if reply_keys.answers_the_lead(message.step_key):
            await self._dispatcher.dispatch(message, now)  # a reply the lead asked for: no gates
            return
        journey = await self._journeys.journey_of(message.lead_id, message.journey_id)
        if journey is None or not (journey.active or (approved and not journey.stopped)):
            reason = journey.stop_reason if journey is not None else "no journey"
            await self._repo.settle_scheduled(
                cid, pb.COMMUNICATION_STATUS_BLOCKED, f"journey stopped: {reason}", None
            )
            return
        facts = await self._consents.find_facts(message.lead_id) or ContactFacts()
        channel = message.channel
        # A cadence step not yet written goes to the lead's address as it is now.
        unwritten = self._steps is not None and step_index(message) is not None and not message.body
        address = facts.address(channel) if unwritten else message.address
        decision = (
            await self._checks.check(
                lead_id=message.lead_id,
                location_id=journey.location_id,
                step_key=message.step_key or "",
                channel=channel,
                address=address,
                facts=facts,
                now=now,
            )
        ).decision
        if decision.action is Action.HOLD:
            # Held for review, not dropped; the walk goes on (email still goes). The agent is
            # told first: if that fails, the claim lapses and the next claim tells again.
            if self._held is not None:
                await self._held.held(journey, message, decision.reason)
            await self._checks.hold(cid, decision.reason)
            if self._steps is not None:
                await self._steps.after_settled(message)
            return
        if decision.action is Action.SCHEDULE:
            await self._repo.settle_scheduled(
                cid, pb.COMMUNICATION_STATUS_SCHEDULED, decision.reason, decision.scheduled_time
            )
            return
        if decision.action is Action.BLOCK:
            await self._repo.settle_scheduled(cid, pb.COMMUNICATION_STATUS_BLOCKED, decision.reason, None)
        else:
            if unwritten and self._steps is not None:
                written, refused, pending = await self._steps.write(message, journey)
                if written is None:
                    if pending:  # suggest mode: SendApprovedMessage sends it once approved
                        await self._repo.await_approval(cid, pending, refused, address)
                    else:
                        await self._repo.settle_scheduled(cid, pb.COMMUNICATION_STATUS_BLOCKED, refused, None)
                    await self._steps.after_settled(message)
                    return
                message = await self._repo.fill_step(
                    cid, address, written.subject, written.body, written.message_id
                )
            # The gates are checked again under the row lock just before the call.
            done = await self._dispatcher.dispatch(message, now, retry=retry)
            if self._held is not None and held_for_review.is_held(done) and done.status_reason:
                # Held under the row lock (the facts changed since the check above). The hold
                # is committed and no longer claimable, so a failed notice here is not retried.
                await self._held.held(journey, done, done.status_reason)
            log.info(
                "scheduled message handed on",
                extra={"communication_id": str(cid), "status": pb.CommunicationStatus.Name(done.status)},
            )
        if self._steps is not None:
            await self._steps.after_settled(message)
