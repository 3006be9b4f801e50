"""SQL for routing's outcome outbox: one row per recorded outcome and subscriber, written in the
outcome's own transaction, leased and marked by the relay (relay.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared import deadlines, tracing
from shared.db import Conn, Database


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
                event=OutcomeEvent(
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
                ),
            )
            for r in sorted(rows, key=lambda r: r["id"])
        ]

    async def mark_published(self, row_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE outcome_outbox SET published_time = now() WHERE id = $1", row_id)

    async def mark_failed(self, row_id: int, error: str, delay_s: float) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outcome_outbox SET attempts = attempts + 1, last_error = $2,"
                " next_attempt_time = now() + make_interval(secs => $3) WHERE id = $1",
                row_id,
                error[:500],
                delay_s,
            )
