"""The decision log table: append an entry, page a lead's entries oldest first.

Most entries are written by triggers on the rows that hold the decision (see
migrations/0030_decision_log.sql); this is for what the coordinator is told rather
than decides itself (an event from ingest, a score, a route, a message written)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared import deadlines
from shared.db import Database
from shared.keyset import Keyset

_PAGE = Keyset("occur_time", "timestamptz", "entry_id", id_type="bigint", descending=False)


@dataclass(frozen=True)
class Decision:
    entry_id: int
    lead_id: uuid.UUID
    kind: str
    details: dict[str, Any]
    occur_time: datetime


def _decision(row: asyncpg.Record) -> Decision:
    return Decision(
        entry_id=row["entry_id"],
        lead_id=row["lead_id"],
        kind=row["kind"],
        details=dict(row["details"]),
        occur_time=row["occur_time"],
    )


class DecisionLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        lead_id: uuid.UUID,
        kind: str,
        details: dict[str, Any],
        *,
        dedupe_key: str,
        at: datetime | None = None,
    ) -> None:
        """Append once per (lead, dedupe_key): a redelivered event or a retried call
        records nothing twice. `at` defaults to now (the database's clock)."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "INSERT INTO decisions (lead_id, kind, details, dedupe_key, occur_time)"
                " VALUES ($1, $2, $3, $4, coalesce($5, clock_timestamp()))"
                " ON CONFLICT (lead_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
                lead_id,
                kind,
                details,  # the pool's jsonb codec encodes it
                dedupe_key,
                at,
                timeout=deadlines.timeout(2.0),
            )

    async def list_decisions(
        self, lead_id: uuid.UUID, after: tuple[datetime, int] | None, limit: int
    ) -> list[Decision]:
        async with self._db.connection() as conn:
            rows = await _PAGE.fetch(
                conn,
                "SELECT * FROM decisions WHERE lead_id = $1",
                [lead_id],
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
        return [_decision(row) for row in rows]
