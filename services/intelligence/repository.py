"""SQL for the intelligence schema: the latest score of each lead."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import asyncpg

from services.intelligence.scoring import Score
from shared import deadlines
from shared.db import Database


class ScoreRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, lead_id: uuid.UUID) -> asyncpg.Record | None:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM scores WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        return row

    async def save(
        self, lead_id: uuid.UUID, location_id: str, score: Score, score_time: Any, request_id: str | None
    ) -> asyncpg.Record:
        """Upsert; a computation older than the stored one never overwrites it, so
        two ScoreLeads racing leave the newer result."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "INSERT INTO scores (lead_id, location_id, score, tier, factors, model_version,"
                " score_time, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (lead_id) DO UPDATE SET location_id = EXCLUDED.location_id,"
                " score = EXCLUDED.score, tier = EXCLUDED.tier, factors = EXCLUDED.factors,"
                " model_version = EXCLUDED.model_version, score_time = EXCLUDED.score_time,"
                " request_id = EXCLUDED.request_id"
                " WHERE scores.score_time <= EXCLUDED.score_time RETURNING *",
                lead_id,
                location_id,
                score.score,
                score.tier,
                [asdict(f) for f in score.factors],
                score.model_version,
                score_time,
                request_id,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:  # a newer score was stored meanwhile: that one stands
                row = await conn.fetchrow("SELECT * FROM scores WHERE lead_id = $1", lead_id)
        assert row is not None
        return row

    async def list_high_intent(
        self, location_id: str, min_score: float, after: tuple[float, uuid.UUID] | None, limit: int
    ) -> list[Any]:
        async with self._db.connection() as conn:
            rows: list[Any] = await conn.fetch(
                "SELECT * FROM scores WHERE location_id = $1 AND score >= $2"
                " AND ($3::float8 IS NULL OR (score, lead_id) < ($3, $4::uuid))"
                " ORDER BY score DESC, lead_id DESC LIMIT $5",
                location_id,
                min_score,
                after[0] if after else None,
                after[1] if after else None,
                limit + 1,
                timeout=deadlines.timeout(2.0),
            )
        return rows
