"""The rows of suggest-mode steps waiting for an agent, and taking one to send it.

The awaiting_approval flag is cleared by the same statement that takes the row, so of
any number of SendApprovedMessage calls for one draft exactly one proceeds."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.repository import Communication, communication_from_row
from shared import deadlines
from shared.db import Database

BLOCKED = pb.COMMUNICATION_STATUS_BLOCKED
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED


class ApprovalRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find_by_message(self, message_id: str) -> Communication | None:
        """The outbound step carrying content's message, if any."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM communications WHERE message_id = $1 AND message_id <> ''"
                " ORDER BY create_time LIMIT 1",
                message_id,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row) if row is not None else None

    async def take(
        self,
        communication_id: uuid.UUID,
        *,
        subject: str,
        body: str,
        address: str,
        reason: str,
        now: datetime,
        claim_until: datetime,
    ) -> Communication | None:
        """BLOCKED (awaiting) -> SCHEDULED now with the approved text, claimed by this caller
        until `claim_until` (the scheduler finishes it if we die first). None when another
        call took it, or it is no longer awaiting approval."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = $3, subject = $4, body = $5,"
                " address = $6, scheduled_time = $7, claim_until = $8, claim_token = gen_random_uuid(),"
                " attempts = attempts + 1, awaiting_approval = false, update_time = now()"
                " WHERE communication_id = $1 AND awaiting_approval AND status = $9 RETURNING *",
                communication_id,
                SCHEDULED,
                reason,
                subject,
                body,
                address,
                now,
                claim_until,
                BLOCKED,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row) if row is not None else None

    async def refuse(self, communication_id: uuid.UUID, reason: str) -> Communication | None:
        """An approved draft that must not go out: stays BLOCKED, now with why, for good."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "UPDATE communications SET status_reason = $2, awaiting_approval = false, update_time = now()"
                " WHERE communication_id = $1 AND awaiting_approval AND status = $3 RETURNING *",
                communication_id,
                reason,
                BLOCKED,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row) if row is not None else None

    async def get(self, communication_id: uuid.UUID) -> Communication:
        async with self._db.connection() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "SELECT * FROM communications WHERE communication_id = $1",
                communication_id,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row)
