"""Notifications: messages to agents about their leads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared import deadlines
from shared.db import Database


class NotificationQueries:
    _db: Database

    async def add_notification(
        self,
        *,
        agent_id: uuid.UUID,
        lead_id: uuid.UUID,
        step_key: str,
        channel: int,
        status: int,
        status_reason: str,
        body: str,
        address: str,
    ) -> tuple[asyncpg.Record, bool]:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO notifications (agent_id, lead_id, step_key, channel, status, status_reason,"
                " body, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (lead_id, step_key) DO NOTHING RETURNING *",
                agent_id,
                lead_id,
                step_key,
                channel,
                status,
                status_reason,
                body,
                address,
                timeout=deadlines.timeout(2.0),
            )
            if row is not None:
                return row, True
            existing: asyncpg.Record = await conn.fetchrow(
                "SELECT * FROM notifications WHERE lead_id = $1 AND step_key = $2", lead_id, step_key
            )
        return existing, False

    async def finish_notification(
        self, notification_id: uuid.UUID, status: int, reason: str
    ) -> asyncpg.Record:
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE notifications SET status = $2, status_reason = $3, update_time = now()"
                " WHERE notification_id = $1 RETURNING *",
                notification_id,
                status,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def list_notifications(
        self,
        agent_id: uuid.UUID | None,
        lead_id: uuid.UUID | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        # One statement per filter so the planner always sees which index fits.
        where = "agent_id = $1" if agent_id is not None else "lead_id = $1"
        also = " AND lead_id = $5" if agent_id is not None and lead_id is not None else ""
        args: list[Any] = [
            agent_id if agent_id is not None else lead_id,
            after[0] if after else None,
            after[1] if after else None,
            limit + 1,
        ]
        if also:
            args.append(lead_id)
        async with self._db.connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                f"SELECT * FROM notifications WHERE {where}{also}"
                " AND ($2::timestamptz IS NULL OR (create_time, notification_id) < ($2, $3::uuid))"
                " ORDER BY create_time DESC, notification_id DESC LIMIT $4",
                *args,
                timeout=deadlines.timeout(2.0),
            )
        return rows
