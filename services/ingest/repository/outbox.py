"""SQL for the transactional outbox: rows written with each change, leased and marked by the relay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import deadlines, tracing
from shared.db import Conn, Database
from shared.keyset import Keyset


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
    # Failures that count toward the attempt limit (see OutboxRelay).
    failures: int = 0
    # The W3C trace of the transaction that wrote it; "" outside a trace.
    traceparent: str = ""


@dataclass(frozen=True)
class DeadLetter:
    event_id: uuid.UUID
    kind: int
    lead_id: uuid.UUID | None
    location_id: str
    attempts: int
    last_error: str
    occurred_time: datetime
    dead_letter_time: datetime


# An ImportLeads batch committed leads to a location: the relay hands this kind to intelligence
# (RequestLocationScoring), never to the coordinator, so it is not a coordinator LeadEventKind.
# 60 keeps clear of those (1..9 today) so the kind column never means two things.
LEADS_IMPORTED = 60

_DEAD_BY_TIME = Keyset(key="dead_letter_time", key_type="timestamptz", id="event_id")


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
        failures=row["failures"],
        traceparent=row["traceparent"],
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
        "INSERT INTO outbox (kind, lead_id, location_id, occurred_time, behavior_type, payload, traceparent)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        kind,
        lead_id,
        location_id,
        occurred,
        behavior_type,
        payload,
        tracing.current_traceparent(),
        timeout=deadlines.timeout(5.0),
    )


class OutboxQueue:
    """The relay's side of the outbox."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(
        self,
        limit: int,
        lease_s: float,
        overtaking: Sequence[int] = (),
        *,
        skipped: Sequence[int] = (),
        only: Sequence[int] | None = None,
    ) -> list[OutboxRow]:
        """Lease up to `limit` due rows. A row waits while an earlier row of the same lead is
        unpublished, so each lead's events reach the coordinator in the order they happened. Rows
        without a lead (delivery reports, suppressions of an unknown address) never wait: NULL
        equals nothing, so the NOT EXISTS below holds for them. A row of an `overtaking` kind
        (an opt-out, or what may carry one) stops waiting once an earlier row of its lead has
        failed: it never queues behind a failing event, nor behind the rows stuck after it.
        Rows of a `skipped` kind, or (with `only`) of any other kind, are left for later: their
        peer is not wired yet."""
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "WITH due AS ("
                " SELECT o.id FROM outbox o"
                " WHERE o.published_time IS NULL AND o.next_attempt_time <= now()"
                " AND o.kind <> ALL($4::smallint[]) AND ($5::smallint[] IS NULL OR o.kind = ANY($5))"
                " AND (NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lead_id = o.lead_id"
                "   AND p.published_time IS NULL AND p.id < o.id)"
                "  OR (o.kind = ANY($3::smallint[]) AND EXISTS (SELECT 1 FROM outbox p"
                "   WHERE p.lead_id = o.lead_id AND p.published_time IS NULL AND p.id < o.id"
                "   AND p.attempts > 0)))"
                " ORDER BY o.next_attempt_time, o.id LIMIT $1 FOR UPDATE SKIP LOCKED)"
                " UPDATE outbox SET next_attempt_time = now() + make_interval(secs => $2)"
                " FROM due WHERE outbox.id = due.id RETURNING outbox.*",
                limit,
                lease_s,
                list(overtaking),
                list(skipped),
                list(only) if only is not None else None,
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

    async def mark_failed(self, outbox_id: int, error: str, retry_in_s: float, *, counted: bool) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, failures = failures + $4::int, last_error = $2,"
                " next_attempt_time = now() + make_interval(secs => $3) WHERE id = $1",
                outbox_id,
                error[:1000],
                retry_in_s,
                int(counted),
                timeout=10.0,
            )

    async def dead_letter(self, outbox_id: int, error: str) -> None:
        """Move the row to the dead-letter table, so the lead's later rows stop waiting for it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "WITH moved AS (DELETE FROM outbox WHERE id = $1 AND published_time IS NULL RETURNING *)"
                " INSERT INTO outbox_dead_letters (event_id, outbox_id, kind, lead_id, location_id,"
                " occurred_time, behavior_type, payload, attempts, last_error, create_time, replays,"
                " traceparent)"
                " SELECT event_id, id, kind, lead_id, location_id, occurred_time, behavior_type, payload,"
                " attempts + 1, $2, create_time, replays, traceparent FROM moved"
                " ON CONFLICT (event_id) DO NOTHING",
                outbox_id,
                error[:1000],
                timeout=10.0,
            )


class DeadLetters:
    """The operator's side of the dead-letter table: look, and put rows back on the outbox."""

    def __init__(self, db: Database, outbox_written: asyncio.Event) -> None:
        self._db = db
        self._outbox_written = outbox_written

    async def page(
        self, location_id: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[DeadLetter]:
        where, args = ("WHERE location_id = $1", [location_id]) if location_id else ("WHERE true", [])
        async with self._db.connection() as conn:
            rows = await _DEAD_BY_TIME.fetch(
                conn,
                "SELECT event_id, kind, lead_id, location_id, attempts, last_error, occurred_time,"
                f" dead_letter_time FROM outbox_dead_letters {where}",
                args,
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
        return [DeadLetter(**dict(r)) for r in rows]

    async def replay(self, event_ids: Sequence[uuid.UUID] | None, location_id: str | None) -> int:
        """Back onto the outbox with fresh counts, in their original order (`event_ids` None: all
        of them). Returns how many moved; a row replayed before is no longer here to move."""
        async with self._db.transaction() as conn:
            moved = await conn.fetchval(
                "WITH moved AS (DELETE FROM outbox_dead_letters WHERE ($1::uuid[] IS NULL"
                " OR event_id = ANY($1::uuid[])) AND ($2::text IS NULL OR location_id = $2) RETURNING *),"
                " inserted AS (INSERT INTO outbox (event_id, kind, lead_id, location_id, occurred_time,"
                " behavior_type, payload, replays, traceparent)"
                " SELECT event_id, kind, lead_id, location_id, occurred_time, behavior_type, payload,"
                " replays + 1, traceparent FROM moved ORDER BY outbox_id RETURNING 1)"
                " SELECT count(*) FROM inserted",
                list(event_ids) if event_ids is not None else None,
                location_id,
                timeout=deadlines.timeout(30.0),
            )
        if moved:
            self._outbox_written.set()
        return int(moved)
