"""Delivers every recorded outcome to each subscriber, at least once, from routing's outbox.

A subscriber is a name and a coroutine that hands one OutcomeEvent to a peer; RecordOutcome
writes one outbox row per entry of SUBSCRIBERS in its own transaction, so an outcome is never
lost between the commit and the call. Each subscriber's rows are retried on their own, with
backoff; subscribers must be idempotent on event_id (a lapsed lease redelivers).

Rows are not held in order per lead: a failing row is retried while the lead's later rows go
through (the coordinator applies a move older than one already applied to the timeline only,
WON stops a journey whatever came before, and intelligence learns an outcome once whenever it
arrives). So a row given up on frees no later row; what it stops is the relay spending a call
(up to call_timeout_s, one row at a time) on it every retry_max_s for ever. After `max_attempts`
counted failures (shared.outbox: all but UNAVAILABLE) the row moves to outcome_dead_letters, for
that subscriber only, and waits for ReplayDeadLetters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from services.routing.outcome_outbox import OutboxRow, OutcomeEvent, OutcomeQueue
from shared import outbox, timestamps, tracing
from shared.clients import CoordinatorClient, IntelligenceClient, PeerError, Peers

log = logging.getLogger(__name__)

DELIVERED = Counter("routing_outcomes_delivered_total", "Outcomes a subscriber accepted.", ["subscriber"])
FAILED = Counter("routing_outcome_failures_total", "Failed outcome deliveries.", ["subscriber", "code"])
DEAD_LETTERED = Counter(
    "routing_outcomes_dead_lettered_total",
    "Outcome outbox rows moved to the dead-letter table.",
    ["subscriber"],
)

Deliver = Callable[[Peers, OutcomeEvent, float], Awaitable[None]]


async def to_coordinator(peers: Peers, event: OutcomeEvent, budget_s: float) -> None:
    """WON stops the lead's journey; a reassignment is told to both agents; an offer to the
    agent offered it."""
    request = coordinator_pb.HandleOutcomeRequest(
        event_id=str(event.event_id),
        lead_id=str(event.lead_id),
        location_id=event.location_id,
        outcome=event.outcome,  # type: ignore[arg-type]
        occurred_time=timestamps.to_proto(event.occurred_time),
        agent_id=str(event.agent_id or ""),
    )
    if event.offer_deadline is not None:
        request.offer.CopyFrom(
            coordinator_pb.LeadOffer(
                accept_by_time=timestamps.to_proto(event.offer_deadline), group_size=event.offer_group
            )
        )
    elif event.is_move:
        request.reassignment.CopyFrom(
            coordinator_pb.LeadReassignment(
                previous_agent_id=str(event.previous_agent_id or ""),
                reason=event.move_reason,
                missed_deadline=event.missed_deadline,
            )
        )
    await CoordinatorClient(peers).handle_outcome(request, budget_s=budget_s)


async def to_intelligence(peers: Peers, event: OutcomeEvent, budget_s: float) -> None:
    """WON and LOST train the location's conversion model (idempotent on the event id)."""
    await IntelligenceClient(peers).observe_outcome(
        event.location_id,
        event.lead_id,
        event.outcome,
        timestamps.to_proto(event.occurred_time),
        request_id=str(event.event_id),
    )


# Who hears of every outcome: peer name -> delivery. A new subscriber is one entry here (and
# the peer in shared.main.DEPENDENCIES["routing"]); rows are written for it from then on.
SUBSCRIBERS: Mapping[str, Deliver] = {
    "coordinator": to_coordinator,
    "intelligence": to_intelligence,
}


@dataclass(frozen=True)
class RelaySettings:
    batch: int = 50
    poll_s: float = 1.0
    lease_s: float = 30.0
    call_timeout_s: float = 5.0
    retry_base_s: float = 0.5
    retry_max_s: float = 60.0
    # Counted failures after which a row is dead-lettered.
    max_attempts: int = 10


class OutcomeRelay:
    def __init__(
        self,
        queue: OutcomeQueue,
        peers: Peers,
        settings: RelaySettings,
        written: asyncio.Event,
        subscribers: Mapping[str, Deliver] = SUBSCRIBERS,
    ) -> None:
        self._queue = queue
        self._peers = peers
        self._settings = settings
        self._written = written
        self._subscribers = subscribers

    async def run(self) -> None:
        """Runs until cancelled; wakes on a recorded outcome, else every poll_s."""
        while True:
            self._written.clear()
            while await self.deliver_due() == self._settings.batch:
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._written.wait(), timeout=self._settings.poll_s)

    async def deliver_due(self) -> int:
        if not all(self._peers.connected(name) for name in self._subscribers):
            return 0  # tests wire peers after start; leasing now would only delay the rows
        rows = await self._queue.claim(self._settings.batch, self._settings.lease_s)
        for row in rows:  # in order: a lead's outcomes reach each subscriber as recorded
            await self._deliver(row)
        return len(rows)

    async def _deliver(self, row: OutboxRow) -> None:
        # The trace of the RecordOutcome (or sweep) that wrote the row goes on here.
        with tracing.start(
            "routing.outcome_outbox/deliver",
            {"traceparent": row.traceparent},
            kind=SpanKind.PRODUCER,
            attributes={
                "leadengine.event_id": str(row.event.event_id),
                "leadengine.subscriber": row.subscriber,
            },
        ):
            await self._deliver_traced(row)

    async def _deliver_traced(self, row: OutboxRow) -> None:
        deliver = self._subscribers.get(row.subscriber)
        if deliver is None:
            # A subscriber this release does not know (a newer one's, during a rollout, or one
            # removed from the code): keep the row, say so, and never count it toward the limit.
            await self._queue.mark_failed(
                row.id, "no such subscriber", self._settings.retry_max_s, counted=False
            )
            return
        try:
            await deliver(self._peers, row.event, self._settings.call_timeout_s)
        except PeerError as err:
            FAILED.labels(row.subscriber, err.code.name).inc()
            fields = {"subscriber": row.subscriber, "event_id": str(row.event.event_id)}
            if await outbox.record_failure(self._queue, row, err, self._settings, log=log, fields=fields):
                DEAD_LETTERED.labels(row.subscriber).inc()
            return
        await self._queue.mark_published(row.id)
        DELIVERED.labels(row.subscriber).inc()
