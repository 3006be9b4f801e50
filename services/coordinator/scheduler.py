"""Sends messages that waited for the lead's sending window, rechecking every gate first.

Quiet hours, consent and the journey can all change between recording a message and
its window opening, so nothing decided at record time is trusted at send time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator import compliance, delivery
from services.coordinator.compliance import Action, SendWindow
from services.coordinator.repository import CoordinatorRepository
from shared import contact

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        repo: CoordinatorRepository,
        sender: delivery.Sender,
        *,
        window: SendWindow,
        poll_s: float,
        batch: int,
        lease: timedelta,
        max_attempts: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = repo
        self._sender = sender
        self._window = window
        self._poll_s = poll_s
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        self._clock = clock

    async def run(self) -> None:
        """The background loop: drain what is due, then wait a poll interval."""
        while True:
            while await self.run_once() == self._batch:
                pass  # a full batch: more may be due right now
            await asyncio.sleep(self._poll_s)

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim and settle one batch of due messages as of `now`; returns how many."""
        at = now or self._clock()
        rows = await self._repo.claim_due(at, at + self._lease, self._batch)
        for row in rows:
            await self._settle(row, at)
        return len(rows)

    async def _settle(self, row: asyncpg.Record, now: datetime) -> None:
        cid = row["communication_id"]
        if row["attempts"] > self._max_attempts:
            await self._repo.finish_communication(
                cid,
                pb.COMMUNICATION_STATUS_FAILED,
                f"delivery did not complete after {self._max_attempts} attempts",
            )
            return
        journey, facts = await self._repo.send_context(row["lead_id"])
        if journey is None or journey["state"] != pb.JOURNEY_STATE_ACTIVE:
            reason = journey["stop_reason"] if journey is not None else "no journey"
            await self._repo.settle_scheduled(
                cid, pb.COMMUNICATION_STATUS_BLOCKED, f"journey stopped: {reason}", None
            )
            return
        facts = facts or compliance.ContactFacts()
        channel = row["channel"]
        zone = contact.zone_for(facts.timezone, facts.phone) if channel == compliance.SMS else None
        decision = compliance.gate(channel, row["address"], facts, zone, now, self._window)
        if decision.action is Action.BLOCK:
            await self._repo.settle_scheduled(cid, pb.COMMUNICATION_STATUS_BLOCKED, decision.reason, None)
        elif decision.action is Action.SCHEDULE:
            await self._repo.settle_scheduled(
                cid, pb.COMMUNICATION_STATUS_SCHEDULED, decision.reason, decision.scheduled_time
            )
        else:
            result = await delivery.deliver(
                self._sender, channel, row["address"], row["subject"], row["body"]
            )
            await self._repo.finish_communication(
                cid, result.status, result.reason, result.provider_message_id
            )
            log.info(
                "scheduled message delivered",
                extra={"communication_id": str(cid), "status": pb.CommunicationStatus.Name(result.status)},
            )
