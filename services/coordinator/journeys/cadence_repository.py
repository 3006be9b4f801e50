"""Cadences, and where each journey stands on its cadence (step, pause, the context its
later steps are written with). Each method is one short transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import asyncpg

from services.coordinator.journeys.cadence import DEFAULT_NAME, DEFAULT_STEPS, Cadence, Step
from services.coordinator.journeys.repository import ACTIVE, COMPLETED, Journey, journey_from_row
from shared import deadlines
from shared.db import Database
from shared.errors import FailedPrecondition, NotFound
from shared.keyset import Keyset

_PAGE = Keyset("create_time", "timestamptz", "cadence_id")


def _steps_json(steps: tuple[Step, ...]) -> str:
    return json.dumps(
        [{"delay_s": s.delay.total_seconds(), "channel": s.channel, "purpose": s.purpose} for s in steps]
    )


def cadence_from_row(row: asyncpg.Record) -> Cadence:
    raw = json.loads(row["steps"])
    return Cadence(
        cadence_id=row["cadence_id"],
        location_id=row["location_id"],
        name=row["name"],
        steps=tuple(Step(timedelta(seconds=s["delay_s"]), s["channel"], s["purpose"]) for s in raw),
        is_default=row["is_default"],
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


async def _lock_location(conn: asyncpg.Connection, location_id: str) -> None:
    """Serialises default changes per location (the partial unique index backs it)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cadence:' || $1))", location_id)


class CadenceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert_cadence(self, cadence: Cadence) -> Cadence:
        """Insert or replace; a new default clears the location's old one in the same
        transaction. A cadence never moves to another location."""
        async with self._db.transaction() as conn:
            await _lock_location(conn, cadence.location_id)
            if cadence.is_default:
                await conn.execute(
                    "UPDATE cadences SET is_default = false, update_time = now()"
                    " WHERE location_id = $1 AND is_default AND cadence_id <> $2",
                    cadence.location_id,
                    cadence.cadence_id,
                    timeout=deadlines.timeout(2.0),
                )
            row = await conn.fetchrow(
                "INSERT INTO cadences (cadence_id, location_id, name, steps, is_default)"
                " VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (cadence_id) DO UPDATE"
                " SET name = EXCLUDED.name, steps = EXCLUDED.steps, is_default = EXCLUDED.is_default,"
                " update_time = now() WHERE cadences.location_id = EXCLUDED.location_id RETURNING *",
                cadence.cadence_id,
                cadence.location_id,
                cadence.name,
                _steps_json(cadence.steps),
                cadence.is_default,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:
                raise FailedPrecondition(
                    f"cadence {cadence.cadence_id} belongs to another location",
                    reason="CADENCE_LOCATION_MISMATCH",
                    metadata={"cadence_id": str(cadence.cadence_id)},
                )
        return cadence_from_row(row)

    async def get_cadence(self, cadence_id: uuid.UUID) -> Cadence:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM cadences WHERE cadence_id = $1", cadence_id, timeout=deadlines.timeout(2.0)
            )
        if row is None:
            raise NotFound(
                f"no cadence {cadence_id}",
                reason="CADENCE_NOT_FOUND",
                metadata={"cadence_id": str(cadence_id)},
            )
        return cadence_from_row(row)

    async def cadence_and_context(
        self, cadence_id: uuid.UUID, journey_id: uuid.UUID
    ) -> tuple[Cadence, bytes]:
        """get_cadence() and message_context() in one statement: what a due step is written with."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT c.*, (SELECT message_context FROM journeys WHERE journey_id = $2) AS message_context"
                " FROM cadences c WHERE c.cadence_id = $1",
                cadence_id,
                journey_id,
                timeout=deadlines.timeout(2.0),
            )
        if row is None:
            raise NotFound(
                f"no cadence {cadence_id}",
                reason="CADENCE_NOT_FOUND",
                metadata={"cadence_id": str(cadence_id)},
            )
        return cadence_from_row(row), bytes(row["message_context"] or b"")

    async def list_cadences(
        self, location_id: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Cadence]:
        async with self._db.connection() as conn:
            rows = await _PAGE.fetch(
                conn,
                "SELECT * FROM cadences WHERE location_id = $1",
                [location_id],
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [cadence_from_row(row) for row in rows]

    async def default_cadence_id(self, location_id: str) -> uuid.UUID:
        """The location's default cadence's id: one plain read when it has one (every
        journey after its first), else default_cadence()'s locked create."""
        async with self._db.connection() as conn:
            found: uuid.UUID | None = await conn.fetchval(
                "SELECT cadence_id FROM cadences WHERE location_id = $1 AND is_default",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return found if found is not None else (await self.default_cadence(location_id)).cadence_id

    async def default_cadence(self, location_id: str) -> Cadence:
        """The location's default, created (once, even under concurrent first journeys)
        from DEFAULT_STEPS if it has none."""
        async with self._db.transaction() as conn:
            await _lock_location(conn, location_id)
            row = await conn.fetchrow(
                "SELECT * FROM cadences WHERE location_id = $1 AND is_default", location_id
            ) or await conn.fetchrow(
                "INSERT INTO cadences (cadence_id, location_id, name, steps, is_default)"
                " VALUES ($1, $2, $3, $4::jsonb, true) RETURNING *",
                uuid.uuid4(),
                location_id,
                DEFAULT_NAME,
                _steps_json(DEFAULT_STEPS),
                timeout=deadlines.timeout(2.0),
            )
        return cadence_from_row(row)

    async def begin_walk(self, journey_id: uuid.UUID, cadence_id: uuid.UUID, context: bytes) -> Journey:
        """Pin the journey to its cadence (once) and keep what later steps are written with."""
        return await self._update(
            "cadence_id = coalesce(cadence_id, $2), message_context = coalesce(message_context, $3)",
            journey_id,
            cadence_id,
            context,
        )

    async def set_next_step(self, journey_id: uuid.UUID, index: int, due: datetime | None) -> Journey:
        return await self._update(
            "step_index = greatest(step_index, $2), next_step_time = CASE WHEN step_index <= $2"
            " THEN $3 ELSE next_step_time END",
            journey_id,
            index,
            due,
        )

    async def complete_walk(self, journey_id: uuid.UUID, steps: int, reason: str) -> Journey:
        """The cadence ran out: an ACTIVE journey becomes COMPLETED with `reason`; one that
        stopped meanwhile keeps its state and reason."""
        return await self._update(
            "step_index = greatest(step_index, $2), next_step_time = NULL,"
            f" stop_reason = CASE WHEN state = {ACTIVE} THEN $3 ELSE stop_reason END,"
            f" state = CASE WHEN state = {ACTIVE} THEN {COMPLETED} ELSE state END",
            journey_id,
            steps,
            reason,
        )

    async def pause(self, lead_id: uuid.UUID, reason: str, until: timedelta | None) -> Journey | None:
        """Pause an active journey (None when the lead has none, or it stopped). A timed
        pause never shortens a longer one already running."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row = await conn.fetchrow(
                "UPDATE journeys SET pause_reason = $2, pause_end_time = CASE"
                " WHEN $3::interval IS NULL THEN NULL"
                " WHEN pause_reason <> '' AND pause_end_time IS NULL THEN NULL"
                " ELSE greatest(pause_end_time, now() + $3::interval) END, update_time = now()"
                " WHERE lead_id = $1 AND state = 1 RETURNING *",
                lead_id,
                reason,
                until,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row) if row is not None else None

    async def resume(self, lead_id: uuid.UUID) -> Journey | None:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row = await conn.fetchrow(
                "UPDATE journeys SET pause_reason = '', pause_end_time = NULL, update_time = now()"
                " WHERE lead_id = $1 AND current RETURNING *",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row) if row is not None else None

    async def message_context(self, journey_id: uuid.UUID) -> bytes:
        async with self._db.connection() as conn:
            found = await conn.fetchval(
                "SELECT message_context FROM journeys WHERE journey_id = $1",
                journey_id,
                timeout=deadlines.timeout(2.0),
            )
        return bytes(found or b"")

    async def _update(self, assignments: str, journey_id: uuid.UUID, *args: object) -> Journey:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row: asyncpg.Record = await conn.fetchrow(
                f"UPDATE journeys SET {assignments}, update_time = now() WHERE journey_id = $1 RETURNING *",
                journey_id,
                *args,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row)
