"""SQL for what routing keeps per location: settings, the success model's versions, and the
routing-time predictions scored against outcomes."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.routing.predictor import SuccessModel
from services.routing.settings import RoutingSettings
from shared import deadlines
from shared.db import Conn, Database

# Versions of a location's model kept besides the newest, so a bad update can be inspected.
KEPT_VERSIONS = 20


def settings_of(row: asyncpg.Record) -> RoutingSettings:
    return RoutingSettings(
        row["inactivity_days"],
        row["round_robin"],
        row["load_weight"],
        row["accept_sla_seconds"],
        row["max_reassignments"],
        row["claim_group_size"],
    )


class LocationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, location_id: str) -> RoutingSettings:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM routing_settings WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        if row is None:
            return RoutingSettings()
        return settings_of(row)

    async def set_settings(self, location_id: str, settings: RoutingSettings) -> RoutingSettings:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO routing_settings (location_id, inactivity_days, round_robin, load_weight,"
                " accept_sla_seconds, max_reassignments, claim_group_size)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (location_id) DO UPDATE SET inactivity_days = EXCLUDED.inactivity_days,"
                " round_robin = EXCLUDED.round_robin, load_weight = EXCLUDED.load_weight,"
                " accept_sla_seconds = EXCLUDED.accept_sla_seconds,"
                " max_reassignments = EXCLUDED.max_reassignments,"
                " claim_group_size = EXCLUDED.claim_group_size, update_time = now()",
                location_id,
                settings.inactivity_days,
                settings.round_robin,
                settings.load_weight,
                settings.accept_sla_seconds,
                settings.max_reassignments,
                settings.claim_group_size,
                timeout=deadlines.timeout(2.0),
            )
        return settings

    async def model_version(self, location_id: str) -> int:
        async with self._db.connection() as conn:
            version = await conn.fetchval(
                "SELECT max(version) FROM success_models WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return int(version or 0)

    async def model(self, location_id: str, version: int) -> SuccessModel:
        async with self._db.connection() as conn:
            weights = await conn.fetchval(
                "SELECT weights FROM success_models WHERE location_id = $1 AND version = $2",
                location_id,
                version,
                timeout=deadlines.timeout(2.0),
            )
        return SuccessModel() if weights is None else SuccessModel.from_json(weights)

    async def stats_rows(self, location_id: str, limit: int) -> list[tuple[float, bool]]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT predicted, won FROM prediction_results WHERE location_id = $1"
                " ORDER BY create_time DESC LIMIT $2",
                location_id,
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return [(r["predicted"], r["won"]) for r in rows]


async def learn_outcome(
    conn: Conn,
    location_id: str,
    lead_id: uuid.UUID,
    features: list[str],
    predicted: float,
    won: bool,
    occurred: datetime,
) -> int:
    """Inside the outcome's transaction: score the routing-time prediction, then take one
    learning step and store it as the location's next model version. A lead counts once (its
    first WON or LOST); returns the new version, or 0 when the lead had already counted."""
    first = await conn.fetchval(
        "INSERT INTO prediction_results (lead_id, location_id, predicted, won, occurred_time)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (lead_id) DO NOTHING RETURNING lead_id",
        lead_id,
        location_id,
        predicted,
        won,
        occurred,
    )
    if first is None or not features:
        return 0
    # One writer per location at a time: versions stay a sequence, and no step is lost.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('routing-model:' || $1))", location_id)
    row = await conn.fetchrow(
        "SELECT version, weights FROM success_models WHERE location_id = $1 ORDER BY version DESC LIMIT 1",
        location_id,
    )
    model = SuccessModel() if row is None else SuccessModel.from_json(row["weights"])
    version = 1 if row is None else row["version"] + 1
    model.learn(features, won)
    await conn.execute(
        "INSERT INTO success_models (location_id, version, weights, outcomes_seen) VALUES ($1, $2, $3, $4)",
        location_id,
        version,
        model.to_json(),
        model.outcomes_seen,
    )
    await conn.execute(
        "DELETE FROM success_models WHERE location_id = $1 AND version < $2",
        location_id,
        version - KEPT_VERSIONS,
    )
    return int(version)
