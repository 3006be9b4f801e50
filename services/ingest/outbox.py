"""The outbox relay: delivers every committed lead change to the coordinator, at least once.
A LEADS_IMPORTED row (an ImportLeads batch committed) goes to intelligence instead, which
scores the location in bulk; it retries and dead-letters like any other row.

Rows are leased (next_attempt_time pushed past the call) in one short transaction,
delivered with no transaction open, then marked. A relay that dies mid-call lets
its lease lapse and another replica resends: the coordinator dedups on event_id.
A failed row is retried with exponential backoff. After `max_attempts` failures that
count (every code but UNAVAILABLE: an unreachable coordinator says nothing about the
row) it moves to the dead-letter table, where it no longer holds back the lead's
later rows, and waits for ReplayDeadLetters. Nothing is ever dropped. Opt-outs
(suppressions, and inbound messages, which may carry a STOP) never wait behind a
row that has failed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from services.ingest.repository.imports import imported_ids
from services.ingest.repository.outbox import LEADS_IMPORTED, OutboxQueue, OutboxRow
from shared import outbox, timestamps, tracing
from shared.clients import CoordinatorClient, IntelligenceClient, PeerError, Peers

log = logging.getLogger(__name__)

DELIVERED = Counter("ingest_outbox_delivered_total", "Outbox rows the coordinator accepted.")
FAILED = Counter("ingest_outbox_failures_total", "Failed outbox deliveries, by status code.", ["code"])
DEAD_LETTERED = Counter("ingest_outbox_dead_lettered_total", "Outbox rows moved to the dead-letter table.")


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
    # Batches delivered at once. A new lead's row must not wait for the whole of the previous
    # batch (HandleLeadEvent of a new lead also sends, schedules and tells the agent), and the
    # claim already keeps each lead's rows in order across batches, as it does across replicas.
    in_flight: int = 4


# Kinds that may revoke consent: delivered even while an earlier row of the lead is failing.
OVERTAKING_KINDS = (
    coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION,
    coordinator_pb.LEAD_EVENT_KIND_INBOUND_MESSAGE,
)


# The parts of an envelope an outbox row keeps serialized in its payload column: the facts of a
# message, delivery report or suppression, and the lead snapshot of LEAD_CREATED / LEAD_UPDATED.
# A row written before snapshots existed has none, and its envelope simply lacks `lead`.
_FactField = Literal["message", "delivery", "suppression", "lead"]  # spelled as HasField accepts them
FACT_FIELDS: tuple[_FactField, ...] = ("message", "delivery", "suppression", "lead")


def envelope(row: OutboxRow) -> coordinator_pb.LeadEventEnvelope:
    result = coordinator_pb.LeadEventEnvelope(
        event_id=str(row.event_id),
        kind=row.kind,  # type: ignore[arg-type]
        # Delivery reports and suppressions may name no lead.
        lead_id=str(row.lead_id) if row.lead_id is not None else "",
        location_id=row.location_id,
        occurred_time=timestamps.to_proto(row.occurred_time),
        behavior_type=row.behavior_type,
    )
    if row.payload:
        # Only these parts are taken from the payload: identity always comes from the row.
        stored = coordinator_pb.LeadEventEnvelope.FromString(row.payload)
        for name in FACT_FIELDS:
            if stored.HasField(name):
                getattr(result, name).CopyFrom(getattr(stored, name))
    return result


class OutboxRelay:
    def __init__(
        self, queue: OutboxQueue, outbox_written: asyncio.Event, peers: Peers, settings: RelaySettings
    ) -> None:
        self._queue = queue
        self._outbox_written = outbox_written
        self._peers = peers
        self._settings = settings

    async def run(self) -> None:
        """Runs until cancelled. Claims again on a commit that wrote an outbox row, when a batch
        that leased rows finishes (its leads' next rows may be due now), else every poll_s;
        up to `in_flight` batches at once."""
        wake = self._outbox_written
        in_flight: set[asyncio.Task[int]] = set()
        claim = True
        try:
            while True:
                if claim and len(in_flight) < self._settings.in_flight:
                    wake.clear()  # before claiming, so a commit during the claim wakes the next one
                    in_flight.add(asyncio.create_task(self.deliver_due()))
                    claim = False
                # A claim still owed (every slot busy) waits for a free slot, not for commits:
                # a wake that stays set would otherwise spin this loop.
                woken = None if claim else asyncio.create_task(wake.wait())
                try:
                    done, _ = await asyncio.wait(
                        {*in_flight, woken} if woken is not None else set(in_flight),
                        timeout=self._settings.poll_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    if woken is not None:
                        woken.cancel()
                # A timeout is the poll: retries whose backoff ended are due now.
                claim = claim or not done or wake.is_set()
                for task in done - {woken}:
                    in_flight.discard(task)
                    if task.result() > 0:  # a failure to mark a row surfaces here
                        claim = True
        except asyncio.CancelledError:  # shutdown: their leases lapse and another relay resends
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise
        except Exception:
            # The other batches finish their calls and marks (each bounded by its timeouts)
            # rather than leave their rows leased until the lease lapses.
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise

    async def deliver_due(self) -> int:
        """Lease and deliver one batch; returns how many rows it leased."""
        # A peer without an address yet (tests wire peers after start, and only those they
        # run): leasing rows we cannot deliver would only delay them for a relay that can.
        to_coordinator = self._peers.connected("coordinator")
        to_intelligence = self._peers.connected("intelligence")
        if not to_coordinator and not to_intelligence:
            return 0
        coordinator = CoordinatorClient(self._peers)
        rows = await self._queue.claim(
            self._settings.batch,
            self._settings.lease_s,
            OVERTAKING_KINDS,
            skipped=() if to_intelligence else (LEADS_IMPORTED,),
            only=None if to_coordinator else (LEADS_IMPORTED,),
        )
        # Rows of one batch belong to different leads (see OutboxQueue.claim), so order is kept.
        # The exception: behind a failing row, its lead's opt-outs go together, in any order
        # (the coordinator orders keywords by their occurred_time).
        outcomes = await asyncio.gather(
            *(self._deliver(coordinator, row) for row in rows), return_exceptions=True
        )
        for outcome in outcomes:  # every delivery finished; now surface a failure to mark one
            if isinstance(outcome, BaseException):
                raise outcome
        return len(rows)

    async def _deliver(self, coordinator: CoordinatorClient, row: OutboxRow) -> None:
        # The trace of the change that wrote the row goes on here, however much later.
        with tracing.start(
            "ingest.outbox/deliver",
            {"traceparent": row.traceparent},
            kind=SpanKind.PRODUCER,
            attributes={"leadengine.event_id": str(row.event_id), "leadengine.event_kind": row.kind},
        ):
            await self._deliver_traced(coordinator, row)

    async def _deliver_traced(self, coordinator: CoordinatorClient, row: OutboxRow) -> None:
        try:
            if row.kind == LEADS_IMPORTED:
                await IntelligenceClient(self._peers).request_location_scoring(
                    row.location_id,
                    request_id=str(row.event_id),
                    lead_ids=imported_ids(row.payload),
                    budget_s=self._settings.call_timeout_s,
                )
            else:
                await coordinator.handle_lead_event(envelope(row), budget_s=self._settings.call_timeout_s)
        except PeerError as err:
            FAILED.labels(err.code.name).inc()
            fields = {"event_id": str(row.event_id), "lead_id": str(row.lead_id or ""), "kind": row.kind}
            if await outbox.record_failure(self._queue, row, err, self._settings, log=log, fields=fields):
                DEAD_LETTERED.inc()
            return
        await self._queue.mark_published(row.id)
        DELIVERED.inc()
