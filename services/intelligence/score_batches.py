"""SQL for reading many stored scores at once (campaign audiences filter on them)."""

from __future__ import annotations

import uuid

from services.intelligence.repository import COLUMNS, StoredScore, stored
from shared import deadlines
from shared.db import Database


class ScoreBatches:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_many(self, location_id: str, lead_ids: list[uuid.UUID]) -> list[StoredScore]:
        """The stored scores among lead_ids that belong to location_id; one index scan."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM scores WHERE lead_id = any($1::uuid[]) AND location_id = $2",
                lead_ids,
                location_id,
                timeout=deadlines.timeout(5.0),
            )
        return [stored(row) for row in rows]
