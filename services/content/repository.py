"""SQL for the content schema: the messages written for each lead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.content.writer import Draft, Written
from shared import deadlines
from shared.db import Database


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_request(self, request_id: str) -> asyncpg.Record | None:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM messages WHERE request_id = $1", request_id, timeout=deadlines.timeout(2.0)
            )
        return row

    async def add(
        self, draft: Draft, location_id: str, written: Written, request_id: str | None
    ) -> asyncpg.Record:
        """Store a message; with a request_id already stored, the first message wins
        and is returned (concurrent identical calls all get the same one)."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "INSERT INTO messages (lead_id, location_id, channel, purpose, subject, body, generator,"
                " model, input_tokens, output_tokens, cost_micros_usd, request_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                " ON CONFLICT (request_id) DO NOTHING RETURNING *",
                uuid.UUID(draft.lead_id),
                location_id,
                draft.channel,
                draft.purpose,
                written.subject,
                written.body,
                written.generator,
                written.model,
                written.input_tokens,
                written.output_tokens,
                written.cost_micros_usd,
                request_id,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:  # a concurrent call with this request_id stored first
                row = await conn.fetchrow("SELECT * FROM messages WHERE request_id = $1", request_id)
        assert row is not None
        return row

    async def conversation(
        self, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Any]:
        async with self._db.connection() as conn:
            rows: list[Any] = await conn.fetch(
                "SELECT * FROM messages WHERE lead_id = $1"
                " AND ($2::timestamptz IS NULL OR (create_time, message_id) > ($2, $3::uuid))"
                " ORDER BY create_time, message_id LIMIT $4",
                lead_id,
                after[0] if after else None,
                after[1] if after else None,
                limit + 1,
                timeout=deadlines.timeout(2.0),
            )
        return rows
