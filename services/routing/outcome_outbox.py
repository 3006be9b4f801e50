"""SQL for routing's outcome outbox: one row per recorded outcome and subscriber, written in the
outcome's own transaction, leased and marked by the relay (relay.py); and its dead letters, the
rows the relay gave up on, which the operator lists and puts back (ListDeadLetters,
ReplayDeadLetters)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import deadlines, tracing
from shared.db import Conn, Database
from shared.keyset import Keyset


@dataclass(frozen=True)
class OutcomeEvent:
    """What every subscriber hears of a recorded outcome."""

    event_id: uuid.UUID  # the outcome's id: the same for every subscriber and every redelivery
    lead_id: uuid.UUID
    location_id: str
    agent_id: uuid.UUID | None
    outcome: int  # routing Outcome; 0 for a reassignment
    occurred_time: datetime
    # Set when the event is a reassignment (agent_id is then the new holder, None: the pond).
    previous_agent_id: uuid.UUID | None = None
    move_reason: str = ""
    missed_deadline: bool = False
    # Set when the event offers the lead to agent_id among offer_group agents (first-to-claim).
    offer_deadline: datetime | None = None
    offer_group: int = 0

    @property
    def is_move(self) -> bool:
        """The lead changed hands (moved on, or left an offer: claimed or unclaimed)."""
        return self.previous_agent_id is not None or bool(self.move_reason)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    subscriber: str
    attempts: int
    event: OutcomeEvent
    traceparent: str = ""  # of the transaction that recorded the outcome
    # Failures that count toward the attempt limit (all but UNAVAILABLE, see shared.outbox).
    failures: int = 0


@dataclass(frozen=True)
class DeadLetter:
    dead_letter_id: uuid.UUID
    subscriber: str
    attempts: int
    last_error: str
    dead_letter_time: datetime
    event: OutcomeEvent


# What a row says of its event: moved whole between the outbox and the dead-letter table.
_EVENT_COLUMNS = (
    "event_id, subscriber, lead_id, location_id, agent_id, outcome, occurred_time, previous_agent_id,"
    " move_reason, missed_deadline, offer_deadline, offer_group, traceparent, replays"
)
_DEAD_BY_TIME = Keyset(key="dead_letter_time", key_type="timestamptz", id="dead_letter_id")


def _event(r: Any) -> OutcomeEvent:
    return OutcomeEvent(
        event_id=r["event_id"],
        lead_id=r["lead_id"],
        location_id=r["location_id"],
        agent_id=r["agent_id"],
        outcome=r["outcome"],
        occurred_time=r["occurred_time"],
        previous_agent_id=r["previous_agent_id"],
        move_reason=r["move_reason"],
        missed_deadline=r["missed_deadline"],
        offer_deadline=r["offer_deadline"],
        offer_group=r["offer_group"],
    )


async def publish(conn: Conn, event: OutcomeEvent, subscribers: Iterable[str]) -> None:
    traceparent = tracing.current_traceparent()
    for subscriber in subscribers:
        await conn.execute(
            "INSERT INTO outcome_outbox (event_id, subscriber, lead_id, location_id, agent_id, outcome,"
            " occurred_time, previous_agent_id, move_reason, missed_deadline, traceparent, offer_deadline,"
            " offer_group) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT DO NOTHING",
            event.event_id,
            subscriber,
            event.lead_id,
            event.location_id,
            event.agent_id,
            event.outcome,
            event.occurred_time,
            event.previous_agent_id,
            event.move_reason,
            event.missed_deadline,
            traceparent,
            event.offer_deadline,
            event.offer_group,
        )


class OutcomeQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, limit: int, lease_s: float) -> list[OutboxRow]:
        """Due rows, hidden from other relays for lease_s (a relay that dies lets them lapse)."""
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "UPDATE outcome_outbox SET next_attempt_time = now() + make_interval(secs => $2)"
                " WHERE id IN (SELECT id FROM outcome_outbox WHERE published_time IS NULL"
                " AND next_attempt_time <= now() ORDER BY next_attempt_time, id LIMIT $1"
                " FOR UPDATE SKIP LOCKED) RETURNING *",
                limit,
                lease_s,
                timeout=deadlines.timeout(5.0),
            )
        return [
            OutboxRow(
                id=r["id"],
                subscriber=r["subscriber"],
                attempts=r["attempts"],
                traceparent=r["traceparent"],
                failures=r["failures"],
                event=_event(r),
            )
            for r in sorted(rows, key=lambda r: r["id"])
        ]

    async def mark_published(self, row_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE outcome_outbox SET published_time = now() WHERE id = $1", row_id)

    async def mark_failed(self, row_id: int, error: str, retry_in_s: float, *, counted: bool) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outcome_outbox SET attempts = attempts + 1, failures = failures + $4::int,"
                " last_error = $2, next_attempt_time = now() + make_interval(secs => $3) WHERE id = $1",
                row_id,
                error[:500],
                retry_in_s,
                int(counted),
            )

    async def dead_letter(self, row_id: int, error: str) -> None:
        """Move the row to the dead-letter table: the relay stops spending calls on it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "WITH moved AS (DELETE FROM outcome_outbox WHERE id = $1 AND published_time IS NULL"
                f" RETURNING *) INSERT INTO outcome_dead_letters ({_EVENT_COLUMNS}, outbox_id, attempts,"
                f" last_error, create_time) SELECT {_EVENT_COLUMNS}, id, attempts + 1, $2, create_time"
                " FROM moved ON CONFLICT (event_id, subscriber) DO NOTHING",
                row_id,
                error[:500],
                timeout=10.0,
            )


class DeadLetters:
    """The operator's side of the dead-letter table: look, and put rows back on the outbox."""

    def __init__(self, db: Database, written: asyncio.Event) -> None:
        self._db = db
        self._written = written

    async def page(
        self,
        location_id: str | None,
        subscriber: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[DeadLetter]:
        async with self._db.connection() as conn:
            rows = await _DEAD_BY_TIME.fetch(
                conn,
                "SELECT * FROM outcome_dead_letters WHERE ($1::text IS NULL OR location_id = $1)"
                " AND ($2::text IS NULL OR subscriber = $2)",
                [location_id, subscriber],
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
        return [
            DeadLetter(
                dead_letter_id=r["dead_letter_id"],
                subscriber=r["subscriber"],
                attempts=r["attempts"],
                last_error=r["last_error"],
                dead_letter_time=r["dead_letter_time"],
                event=_event(r),
            )
            for r in rows
        ]

    async def replay(
        self, event_ids: Sequence[uuid.UUID] | None, location_id: str | None, subscriber: str | None
    ) -> int:
        """Back onto the outbox with fresh counts, in their original order, for the subscriber
        that refused each (`event_ids` None: all of them). Returns how many rows moved; a row
        replayed before is no longer here to move."""
        async with self._db.transaction() as conn:
            moved = await conn.fetchval(
                "WITH moved AS (DELETE FROM outcome_dead_letters WHERE ($1::uuid[] IS NULL"
                " OR event_id = ANY($1::uuid[])) AND ($2::text IS NULL OR location_id = $2)"
                " AND ($3::text IS NULL OR subscriber = $3) RETURNING *),"
                f" inserted AS (INSERT INTO outcome_outbox ({_EVENT_COLUMNS})"
                " SELECT event_id, subscriber, lead_id, location_id, agent_id, outcome, occurred_time,"
                " previous_agent_id, move_reason, missed_deadline, offer_deadline, offer_group,"
                " traceparent, replays + 1 FROM moved ORDER BY outbox_id RETURNING 1)"
                " SELECT count(*) FROM inserted",
                list(event_ids) if event_ids is not None else None,
                location_id,
                subscriber,
                timeout=deadlines.timeout(30.0),
            )
        if moved:
            self._written.set()
        return int(moved)
