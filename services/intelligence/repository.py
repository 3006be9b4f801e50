"""SQL for the intelligence schema: each lead's score parts. Returns frozen dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import asyncpg

from services.intelligence import score_parts
from services.intelligence.score_parts import Parts
from services.intelligence.scoring import Score
from shared import deadlines
from shared.db import Database


@dataclass(frozen=True)
class StoredScore:
    lead_id: uuid.UUID
    location_id: str
    parts: Parts
    fit: float  # indexed: fit points under the location's points
    eng_key: float  # indexed: see score_parts
    config_version: int
    score_time: datetime  # when the parts were computed
    request_id: str | None  # the ScoreLead call that stored it


def stored(row: asyncpg.Record) -> StoredScore:
    return StoredScore(
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        parts=Parts(score_parts.profile_from_json(row["profile"]), score_parts.kinds_from_json(row["kinds"])),
        fit=row["fit"],
        eng_key=row["eng_key"],
        config_version=row["config_version"],
        score_time=row["score_time"],
        request_id=row["request_id"],
    )


COLUMNS = "lead_id, location_id, profile, kinds, fit, eng_key, config_version, score_time, request_id"


class ScoreRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, lead_id: uuid.UUID) -> StoredScore | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM scores WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        return None if row is None else stored(row)

    async def save(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        parts: Parts,
        indexed: tuple[float, float, int],
        score: Score,
        score_time: datetime,
        request_id: str | None,
    ) -> StoredScore:
        """Upsert; a computation older than the stored one never overwrites it, so two ScoreLeads
        racing leave the newer result. `indexed` is (fit, eng_key, config_version)."""
        fit, key, version = indexed
        async with self._db.connection() as conn:  # one write; reads back only if a newer score stood
            row = await conn.fetchrow(
                "INSERT INTO scores (lead_id, location_id, score, tier, factors, model_version, score_time,"
                " request_id, profile, kinds, fit, eng_key, config_version)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT (lead_id) DO UPDATE SET location_id = EXCLUDED.location_id,"
                " score = EXCLUDED.score, tier = EXCLUDED.tier, factors = EXCLUDED.factors,"
                " model_version = EXCLUDED.model_version, score_time = EXCLUDED.score_time,"
                " request_id = EXCLUDED.request_id, profile = EXCLUDED.profile, kinds = EXCLUDED.kinds,"
                " fit = EXCLUDED.fit, eng_key = EXCLUDED.eng_key, config_version = EXCLUDED.config_version"
                f" WHERE scores.score_time <= EXCLUDED.score_time RETURNING {COLUMNS}",
                lead_id,
                location_id,
                score.score,
                score.tier,
                [asdict(f) for f in score.factors],
                score.model_version,
                score_time,
                request_id,
                score_parts.profile_to_json(parts.profile),
                score_parts.kinds_to_json(parts.kinds),
                fit,
                key,
                version,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:  # a newer score was stored meanwhile: that one stands
                row = await conn.fetchrow(f"SELECT {COLUMNS} FROM scores WHERE lead_id = $1", lead_id)
        assert row is not None
        return stored(row)

    async def forget_any(self, lead_id: uuid.UUID) -> str | None:
        """Remove the lead's score wherever it is; its location, or None when it had none."""
        async with self._db.transaction() as conn:
            location: str | None = await conn.fetchval(
                "DELETE FROM scores WHERE lead_id = $1 RETURNING location_id", lead_id
            )
        return location

    async def forget(self, lead_id: uuid.UUID, location_id: str) -> bool:
        async with self._db.transaction() as conn:
            status: str = await conn.execute(
                "DELETE FROM scores WHERE lead_id = $1 AND location_id = $2",
                lead_id,
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return status != "DELETE 0"
