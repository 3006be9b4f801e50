"""SQL for the transactional outbox: rows written with each change, leased and marked by the relay."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import deadlines
from shared.db import Conn, Database


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: uuid.UUID
    kind: int
    lead_id: uuid.UUID | None  # delivery reports and suppressions may name no lead
    location_id: str
    occurred_time: datetime
    behavior_type: str
    # The serialized envelope parts beyond the columns (facts, lead snapshot); b"" for none.
    payload: bytes
    attempts: int


def row_of(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        event_id=row["event_id"],
        kind=row["kind"],
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        occurred_time=row["occurred_time"],
        behavior_type=row["behavior_type"],
        payload=bytes(row["payload"]),
        attempts=row["attempts"],
    )


async def insert(
    conn: Conn,
    kind: int,
    lead_id: uuid.UUID | None,
    location_id: str,
    occurred: datetime,
    behavior_type: str,
    payload: bytes,
) -> None:
    await conn.execute(
        "INSERT INTO outbox (kind, lead_id, location_id, occurred_time, behavior_type, payload)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        kind,
        lead_id,
        location_id,
        occurred,
        behavior_type,
        payload,
        timeout=deadlines.timeout(5.0),
    )


class OutboxQueue:
    """The relay's side of the outbox."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, limit: int, lease_s: float) -> list[OutboxRow]:
        """Lease up to `limit` due rows. A row waits while an earlier row of the same lead is
        unpublished, so each lead's events reach the coordinator in the order they happened. Rows
        without a lead (delivery reports, suppressions of an unknown address) never wait: NULL
        equals nothing, so the NOT EXISTS below holds for them."""
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "WITH due AS ("
                " SELECT o.id FROM outbox o"
                " WHERE o.published_time IS NULL AND o.next_attempt_time <= now()"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lead_id = o.lead_id"
                "   AND p.published_time IS NULL AND p.id < o.id)"
                " ORDER BY o.next_attempt_time, o.id LIMIT $1 FOR UPDATE SKIP LOCKED)"
                " UPDATE outbox SET next_attempt_time = now() + make_interval(secs => $2)"
                " FROM due WHERE outbox.id = due.id RETURNING outbox.*",
                limit,
                lease_s,
                timeout=10.0,
            )
        return [row_of(r) for r in rows]

    async def mark_published(self, outbox_id: int) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET published_time = now(), attempts = attempts + 1, last_error = NULL"
                " WHERE id = $1",
                outbox_id,
                timeout=10.0,
            )

    async def mark_failed(self, outbox_id: int, error: str, retry_in_s: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
                " next_attempt_time = now() + make_interval(secs => $3) WHERE id = $1",
                outbox_id,
                error[:1000],
                retry_in_s,
                timeout=10.0,
            )
