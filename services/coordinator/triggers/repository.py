"""How many behaviour-timed touches a lead has had lately: the rows the per-rule
suppression window and the per-lead cap count. Touches are ordinary communications
whose step_key starts with "trigger:"."""

from __future__ import annotations

import uuid
from datetime import datetime

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared import deadlines
from shared.db import Database


class TriggerTouchRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def count_since(self, lead_id: uuid.UUID, step_key_prefix: str, since: datetime) -> int:
        """Touches of the lead whose step_key starts with the prefix, recorded since `since`
        and not BLOCKED (a touch a gate refused never reached the lead)."""
        async with self._db.connection() as conn:
            found: int = await conn.fetchval(
                "SELECT count(*) FROM communications WHERE lead_id = $1 AND starts_with(step_key, $2)"
                " AND status <> $3 AND create_time >= $4",
                lead_id,
                step_key_prefix,
                pb.COMMUNICATION_STATUS_BLOCKED,
                since,
                timeout=deadlines.timeout(2.0),
            )
        return found
