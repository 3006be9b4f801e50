"""SQL for the intelligence schema: the latest score of each lead. Returns frozen dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import asyncpg

from services.intelligence.scoring import Factor, Score
from shared import deadlines
from shared.db import Database
from shared.keyset import Keyset


@dataclass(frozen=True)
class StoredScore:
    lead_id: uuid.UUID
    location_id: str
    score: float
    tier: str  # "cold", "warm", "hot"
    factors: tuple[Factor, ...]
    model_version: str
    score_time: datetime
    request_id: str | None  # the ScoreLead call that stored it


def _stored(row: asyncpg.Record) -> StoredScore:
    return StoredScore(
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        score=row["score"],
        tier=row["tier"],
        factors=tuple(Factor(f["name"], f["points"], f["description"]) for f in row["factors"]),
        model_version=row["model_version"],
        score_time=row["score_time"],
        request_id=row["request_id"],
    )


stored_from_row = _stored  # for the other repository modules of this schema


# ListHighIntentLeads: a location's scores highest first, lead_id breaking ties.
_HIGH_INTENT = Keyset(key="score", key_type="float8", id="lead_id", descending=True)


class ScoreRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, lead_id: uuid.UUID) -> StoredScore | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM scores WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        return None if row is None else _stored(row)

    async def save(
        self, lead_id: uuid.UUID, location_id: str, score: Score, score_time: datetime, request_id: str | None
    ) -> StoredScore:
        """Upsert; a computation older than the stored one never overwrites it, so
        two ScoreLeads racing leave the newer result."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
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
        return _stored(row)

    async def list_high_intent(
        self, location_id: str, min_score: float, after: tuple[float, uuid.UUID] | None, limit: int
    ) -> list[StoredScore]:
        """Up to limit + 1 of the location's scores of at least min_score after `after`, highest first."""
        async with self._db.connection() as conn:
            rows = await _HIGH_INTENT.fetch(
                conn,
                "SELECT * FROM scores WHERE location_id = $1 AND score >= $2",
                [location_id, min_score],
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [_stored(r) for r in rows]
