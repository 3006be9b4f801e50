"""ObserveOutcome and GetModelStats: each location's conversion model learns from outcomes.

An outcome is stored once per request_id, with the lead's features as of when it occurred
and what the model predicted before learning from it (that prediction is the rolling
hold-out GetModelStats measures). A WON or LOST of a scored lead then refits the model on
the location's latest outcomes and stores it as the next version, all in one transaction
holding the model row, so concurrent outcomes of a location learn one after another.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from services.intelligence import conversion, score_parts
from services.intelligence.conversion import FEATURES, Model
from services.intelligence.repository import COLUMNS, stored
from services.intelligence.scoring import Points, Rules
from shared import deadlines, tenancy
from shared.db import Database

HOLD_OUT = 1000  # GetModelStats: the latest this many predictions


@dataclass(frozen=True)
class Observed:
    duplicate: bool
    trained: bool
    model_version: int


@dataclass(frozen=True)
class ModelStats:
    outcomes_seen: int
    auc: float
    brier: float
    calibration_error: float
    model_version: int


def model_from_row(row: object) -> Model:
    if row is None:
        return Model.prior()
    return Model.from_json(row["weights"], row["version"], row["outcomes_seen"])  # type: ignore[index]


class OutcomeRepository:
    def __init__(self, db: Database, rules: Rules) -> None:
        self._db = db
        self._rules = rules

    async def model(self, location_id: str) -> Model:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM conversion_models WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return model_from_row(row)

    async def observe(
        self,
        location_id: str,
        lead_id: uuid.UUID,
        outcome: str,
        converted: bool | None,
        occurred: datetime,
        request_id: str,
        points: Points,
    ) -> Observed:
        async with self._db.transaction() as conn:
            # Created on first use so that FOR UPDATE has a row to hold.
            await conn.execute(
                "INSERT INTO conversion_models (location_id, version, weights) VALUES ($1, 0, $2)"
                " ON CONFLICT (location_id) DO NOTHING",
                location_id,
                Model.prior().weights_json(),
            )
            model = model_from_row(
                await conn.fetchrow(
                    "SELECT * FROM conversion_models WHERE location_id = $1 FOR UPDATE", location_id
                )
            )
            owner = await conn.fetchval("SELECT location_id FROM outcomes WHERE request_id = $1", request_id)
            if owner is not None:
                tenancy.ensure_same_key_owner(request_id, owner, location_id)
                return Observed(True, False, model.version)
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM scores WHERE lead_id = $1 AND location_id = $2", lead_id, location_id
            )
            x = None
            if row is not None and converted is not None:
                lead = stored(row)
                key = score_parts.engagement_key(lead.parts.kinds, points)
                x = conversion.lead_features(lead.parts, key, occurred, self._rules)
            await conn.execute(
                "INSERT INTO outcomes (request_id, location_id, lead_id, outcome, occurred_time, converted,"
                " features, predicted, model_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                request_id,
                location_id,
                lead_id,
                outcome,
                occurred,
                converted,
                None if x is None else dict(zip(FEATURES, map(float, x), strict=True)),
                None if x is None else model.predict(x),
                None if x is None else model.version,
            )
            if x is None:
                return Observed(False, False, model.version)
            history = await conn.fetch(
                "SELECT features, converted FROM outcomes WHERE location_id = $1 AND predicted IS NOT NULL"
                " ORDER BY observe_time DESC, request_id DESC LIMIT $2",
                location_id,
                conversion.TRAINING_WINDOW,
            )
            xs = np.array([[h["features"].get(name, 0.0) for name in FEATURES] for h in history])
            ys = np.array([float(h["converted"]) for h in history])
            learnt = await asyncio.to_thread(model.learn, xs, ys)
            await conn.execute(
                "UPDATE conversion_models SET version = $2, weights = $3, outcomes_seen = $4,"
                " update_time = now() WHERE location_id = $1",
                location_id,
                learnt.version,
                learnt.weights_json(),
                learnt.outcomes_seen,
            )
        return Observed(False, True, learnt.version)

    async def stats(self, location_id: str) -> ModelStats:
        async with self._db.connection() as conn:
            model = model_from_row(
                await conn.fetchrow("SELECT * FROM conversion_models WHERE location_id = $1", location_id)
            )
            rows = await conn.fetch(
                "SELECT predicted, converted FROM outcomes WHERE location_id = $1 AND predicted IS NOT NULL"
                " ORDER BY observe_time DESC LIMIT $2",
                location_id,
                HOLD_OUT,
                timeout=deadlines.timeout(5.0),
            )
        predicted = [r["predicted"] for r in rows]
        labels = [bool(r["converted"]) for r in rows]
        return ModelStats(
            outcomes_seen=model.outcomes_seen,
            auc=conversion.auc(predicted, labels),
            brier=conversion.brier(predicted, labels),
            calibration_error=conversion.calibration_error(predicted, labels),
            model_version=model.version,
        )
