"""Journeys and the lead events already handled (ingest's outbox delivers at least once).
Each method is one short transaction; none spans a call to another service.

A lead has one current journey (ACTIVE until something ends it); the journeys before it
ended, and a recovery campaign (journeys/recovery.py) or a new inquiry (journeys/inquiry.py)
started the current one. Everything keyed by lead here acts on the current journey."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.journeys import keys
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import NotFound

ACTIVE = pb.JOURNEY_STATE_ACTIVE
STOPPED = pb.JOURNEY_STATE_STOPPED
COMPLETED = pb.JOURNEY_STATE_COMPLETED
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
BLOCKED = pb.COMMUNICATION_STATUS_BLOCKED
# The stop reason of a journey whose lead converted: campaigns count these as converted.
CONVERTED = "lead converted (outcome WON)"


@dataclass(frozen=True)
class Journey:
    journey_id: uuid.UUID
    lead_id: uuid.UUID
    location_id: str
    state: pb.JourneyState.ValueType
    stop_reason: str
    # None with agent_reason saying why (e.g. no agent could take the lead).
    agent_id: uuid.UUID | None
    agent_reason: str
    score: float | None
    first_touch_time: datetime | None
    create_time: datetime
    update_time: datetime
    # Where the journey stands on its cadence (see journeys/cadence.py).
    cadence_id: uuid.UUID | None = None
    step_index: int = 0
    next_step_time: datetime | None = None
    pause_reason: str = ""
    pause_end_time: datetime | None = None
    # Which of the lead's journeys this is (1: its first), and the campaign that started it.
    generation: int = 1
    campaign_id: uuid.UUID | None = None

    def key(self, step_key: str) -> str:
        """`step_key` scoped to this journey (see journeys/keys.py)."""
        return keys.scoped(self.generation, step_key)

    @property
    def active(self) -> bool:
        return self.state == ACTIVE

    @property
    def stopped(self) -> bool:
        """Stopped for good (a COMPLETED journey only ran out of steps)."""
        return self.state == STOPPED

    def paused_at(self, now: datetime) -> bool:
        return bool(self.pause_reason) and (self.pause_end_time is None or self.pause_end_time > now)


# Advisory lock class of "a lead's journeys are being created or retired" (with the lead's hash).
_JOURNEY_LOCK = 8230


async def lock_lead_journeys(conn: Conn, lead_id: uuid.UUID) -> None:
    """Serialize what may create a lead's journey (a lead event, a stop, a campaign enrolment)
    until the transaction ends. The unique indexes already forbid two current or two active
    journeys; the lock turns a close race into a wait, so the loser finds the winner's journey
    instead of failing on an index it does not arbitrate on."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        _JOURNEY_LOCK,
        str(lead_id),
        timeout=deadlines.timeout(5.0),
    )


def journey_from_row(row: asyncpg.Record) -> Journey:
    return Journey(
        journey_id=row["journey_id"],
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        state=row["state"],
        stop_reason=row["stop_reason"],
        agent_id=row["agent_id"],
        agent_reason=row["agent_reason"],
        score=row["score"],
        first_touch_time=row["first_touch_time"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        cadence_id=row["cadence_id"],
        step_index=row["step_index"],
        next_step_time=row["next_step_time"],
        pause_reason=row["pause_reason"],
        pause_end_time=row["pause_end_time"],
        generation=row["generation"],
        campaign_id=row["campaign_id"],
    )


class JourneyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def event_processed(self, event_id: str) -> bool:
        async with self._db.connection() as conn:
            found = await conn.fetchval(
                "SELECT true FROM processed_events WHERE event_id = $1",
                event_id,
                timeout=deadlines.timeout(2.0),
            )
        return bool(found)

    async def mark_processed(
        self, event_id: str, lead_id: uuid.UUID | None, kind: pb.LeadEventKind.ValueType
    ) -> None:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "INSERT INTO processed_events (event_id, lead_id, kind) VALUES ($1, $2, $3)"
                " ON CONFLICT (event_id) DO NOTHING",
                event_id,
                lead_id,
                kind,
                timeout=deadlines.timeout(2.0),
            )

    async def find_journey(self, lead_id: uuid.UUID) -> Journey | None:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM journeys WHERE lead_id = $1 AND current",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row) if row is not None else None

    async def find_journey_by_id(self, journey_id: uuid.UUID) -> Journey | None:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM journeys WHERE journey_id = $1", journey_id, timeout=deadlines.timeout(2.0)
            )
        return journey_from_row(row) if row is not None else None

    async def journey_of(self, lead_id: uuid.UUID, journey_id: uuid.UUID | None) -> Journey | None:
        """The journey a message belongs to (a lead may have had several), else the current one."""
        if journey_id is not None:
            return await self.find_journey_by_id(journey_id)
        return await self.find_journey(lead_id)

    async def list_journeys(self, lead_id: uuid.UUID) -> list[Journey]:
        """Every journey of the lead, newest first (a handful at most: one per recovery)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM journeys WHERE lead_id = $1 ORDER BY generation DESC",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
        return [journey_from_row(r) for r in rows]

    async def get_journey(self, lead_id: uuid.UUID) -> Journey:
        journey = await self.find_journey(lead_id)
        if journey is None:
            raise NotFound(
                f"lead {lead_id} has no journey; it starts when ingest reports the lead",
                reason="JOURNEY_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return journey

    async def start_journey(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        agent_id: uuid.UUID | None,
        agent_reason: str,
        score: float,
    ) -> Journey:
        """Create the journey ACTIVE, or refresh agent and score of the current one.
        Never reactivates an ended journey."""
        async with self._db.transaction() as conn:
            await lock_lead_journeys(conn, lead_id)
            row: asyncpg.Record = await conn.fetchrow(
                "INSERT INTO journeys (lead_id, location_id, state, agent_id, agent_reason, score)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (lead_id) WHERE current DO UPDATE SET agent_id = EXCLUDED.agent_id,"
                " agent_reason = EXCLUDED.agent_reason, score = EXCLUDED.score, update_time = now()"
                " RETURNING *",
                lead_id,
                location_id,
                ACTIVE,
                agent_id,
                agent_reason,
                score,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row)

    async def set_score(self, lead_id: uuid.UUID, score: float) -> None:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "UPDATE journeys SET score = $2, update_time = now() WHERE lead_id = $1 AND current",
                lead_id,
                score,
                timeout=deadlines.timeout(2.0),
            )

    async def set_first_touch(self, journey_id: uuid.UUID, at: datetime) -> Journey:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE journeys SET first_touch_time = coalesce(first_touch_time, $2), update_time = now()"
                " WHERE journey_id = $1 RETURNING *",
                journey_id,
                at,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row)

    async def stop_journey(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        reason: str,
        *,
        only_over: Sequence[str] | None = None,
    ) -> Journey:
        """Stop the journey (creating it stopped if the lead never had one, so a late
        LEAD_CREATED cannot start it) and block everything still waiting to go out.

        only_over: when given, a journey already stopped keeps its reason unless that is
        one of these (a reply after a deletion must not hide why the journey stopped;
        an opt-out may replace "lead replied")."""
        async with self._db.transaction() as conn:
            await lock_lead_journeys(conn, lead_id)
            row: asyncpg.Record = await conn.fetchrow(
                "INSERT INTO journeys (lead_id, location_id, state, stop_reason) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (lead_id) WHERE current DO UPDATE SET state = EXCLUDED.state,"
                " stop_reason = CASE WHEN $5 AND journeys.state = EXCLUDED.state"
                " AND NOT journeys.stop_reason = any($6::text[]) THEN journeys.stop_reason"
                " ELSE EXCLUDED.stop_reason END, update_time = now()"
                " RETURNING *",
                lead_id,
                location_id,
                STOPPED,
                reason,
                only_over is not None,
                list(only_over or ()),
                timeout=deadlines.timeout(2.0),
            )
            await conn.execute(
                "UPDATE communications SET status = $2, status_reason = $3, claim_until = NULL,"
                " update_time = now() WHERE lead_id = $1 AND status = $4",
                lead_id,
                BLOCKED,
                f"journey stopped: {reason}",
                SCHEDULED,
                timeout=deadlines.timeout(5.0),
            )
        return journey_from_row(row)
