"""Lead events already handled: ingest's outbox delivers at least once."""

from __future__ import annotations

import uuid

from shared import deadlines
from shared.db import Database


class EventQueries:
    _db: Database

    async def event_processed(self, event_id: str) -> bool:
        async with self._db.connection() as conn:
            found = await conn.fetchval(
                "SELECT true FROM processed_events WHERE event_id = $1",
                event_id,
                timeout=deadlines.timeout(2.0),
            )
        return bool(found)

    async def mark_processed(self, event_id: str, lead_id: uuid.UUID | None, kind: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO processed_events (event_id, lead_id, kind) VALUES ($1, $2, $3)"
                " ON CONFLICT (event_id) DO NOTHING",
                event_id,
                lead_id,
                kind,
                timeout=deadlines.timeout(2.0),
            )
