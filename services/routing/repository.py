"""SQL for the routing schema. Translates database outcomes into domain errors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.routing import selection
from shared import deadlines
from shared.db import Database
from shared.errors import AlreadyExists, NotFound

# Outcomes that close an assignment and free the agent's capacity.
CLOSING_OUTCOMES = frozenset({3, 4})  # OUTCOME_WON, OUTCOME_LOST


@dataclass(frozen=True)
class AgentFields:
    location_id: str
    external_user_id: str | None
    name: str
    email: str
    phone: str
    timezone: str
    capacity: int
    available: bool


def _agent_missing(agent_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"agent {agent_id} does not exist; list agents with ListAgents",
        reason="AGENT_NOT_FOUND",
        metadata={"agent_id": str(agent_id)},
    )


class RoutingRepository:
    def __init__(self, db: Database, *, default_capacity: int) -> None:
        self._db = db
        self.default_capacity = default_capacity

    async def upsert_agent(
        self, agent_id: uuid.UUID | None, fields: AgentFields, request_id: str | None
    ) -> tuple[asyncpg.Record, bool]:
        values = (
            fields.location_id,
            fields.external_user_id,
            fields.name,
            fields.email,
            fields.phone,
            fields.timezone,
            fields.capacity,
            fields.available,
        )
        async with self._db.transaction() as conn:
            if request_id:
                seen = await conn.fetchrow("SELECT * FROM agents WHERE request_id = $1", request_id)
                if seen is not None:
                    return seen, False
            if agent_id is not None:
                row = await conn.fetchrow(
                    "UPDATE agents SET external_user_id = $2, name = $3, email = $4, phone = $5,"
                    " timezone = $6, capacity = $7, available = $8, update_time = now()"
                    " WHERE location_id = $1 AND agent_id = $9 RETURNING *",
                    *values,
                    agent_id,
                    timeout=deadlines.timeout(5.0),
                )
                if row is None:
                    raise _agent_missing(agent_id)
                return row, False
            try:
                # xmax = 0 only on a freshly inserted row: tells create from update.
                row = await conn.fetchrow(
                    "INSERT INTO agents (location_id, external_user_id, name, email, phone, timezone,"
                    " capacity, available, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT (location_id, external_user_id) DO UPDATE SET name = EXCLUDED.name,"
                    " email = EXCLUDED.email, phone = EXCLUDED.phone, timezone = EXCLUDED.timezone,"
                    " capacity = EXCLUDED.capacity, available = EXCLUDED.available, update_time = now()"
                    " RETURNING *, (xmax = 0) AS inserted",
                    *values,
                    request_id,
                    timeout=deadlines.timeout(5.0),
                )
            except asyncpg.UniqueViolationError as err:
                raise AlreadyExists(
                    "another call with this request_id is creating this agent; retry to read it",
                    reason="REQUEST_IN_PROGRESS",
                ) from err
            assert row is not None
            return row, bool(row["inserted"])

    async def get_agent(self, agent_id: uuid.UUID) -> asyncpg.Record:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM agents WHERE agent_id = $1", agent_id, timeout=deadlines.timeout(2.0)
            )
        if row is None:
            raise _agent_missing(agent_id)
        return row

    async def list_agents(self, location_id: str, after: tuple[str, str] | None, limit: int) -> list[Any]:
        async with self._db.connection() as conn:
            rows: list[Any] = await conn.fetch(
                "SELECT * FROM agents WHERE location_id = $1"
                " AND ($2::text IS NULL OR (name, agent_id) > ($2, $3::uuid))"
                " ORDER BY name, agent_id LIMIT $4",
                location_id,
                after[0] if after else None,
                after[1] if after else None,
                limit + 1,
                timeout=deadlines.timeout(2.0),
            )
        return rows

    async def set_available(self, agent_id: uuid.UUID, available: bool) -> asyncpg.Record:
        async with self._db.transaction() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "UPDATE agents SET available = $2, update_time = now() WHERE agent_id = $1 RETURNING *",
                agent_id,
                available,
                timeout=deadlines.timeout(2.0),
            )
        if row is None:
            raise _agent_missing(agent_id)
        return row

    async def get_assignment(self, lead_id: uuid.UUID) -> asyncpg.Record | None:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT a.*, g.name AS agent_name FROM assignments a JOIN agents g USING (agent_id)"
                " WHERE a.lead_id = $1",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def route(
        self, lead_id: uuid.UUID, location_id: str
    ) -> tuple[asyncpg.Record | dict[str, Any], bool]:
        """Assign the lead, or return its existing assignment. Agents are locked while we
        choose so two leads routed at once cannot both take an agent's last slot."""
        async with self._db.transaction() as conn:
            existing = await conn.fetchrow(
                "SELECT a.*, g.name AS agent_name FROM assignments a JOIN agents g USING (agent_id)"
                " WHERE a.lead_id = $1",
                lead_id,
            )
            if existing is not None:
                return existing, False
            rows = await conn.fetch(
                "SELECT agent_id, name, available, capacity, active_lead_count, last_assign_time"
                " FROM agents WHERE location_id = $1 ORDER BY agent_id FOR UPDATE",
                location_id,
                timeout=deadlines.timeout(5.0),
            )
            decision = selection.choose(
                [
                    selection.Candidate(
                        agent_id=str(r["agent_id"]),
                        name=r["name"],
                        available=r["available"],
                        capacity=r["capacity"] or self.default_capacity,
                        active=r["active_lead_count"],
                        last_assign_time=r["last_assign_time"],
                    )
                    for r in rows
                ],
                location_id=location_id,
            )
            agent_id = uuid.UUID(decision.agent.agent_id)
            row = await conn.fetchrow(
                "INSERT INTO assignments (lead_id, location_id, agent_id, reasons) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (lead_id) DO NOTHING RETURNING *",
                lead_id,
                location_id,
                agent_id,
                decision.reasons,
            )
            if row is None:  # a concurrent RouteLead for the same lead won
                raced = await conn.fetchrow(
                    "SELECT a.*, g.name AS agent_name FROM assignments a JOIN agents g USING (agent_id)"
                    " WHERE a.lead_id = $1",
                    lead_id,
                )
                assert raced is not None
                return raced, False
            await conn.execute(
                "UPDATE agents SET active_lead_count = active_lead_count + 1, last_assign_time = now()"
                " WHERE agent_id = $1",
                agent_id,
            )
            return _with_name(row, decision.agent.name), True

    async def record_outcome(
        self, lead_id: uuid.UUID, outcome: int, occurred: datetime, request_id: str | None
    ) -> asyncpg.Record:
        async with self._db.transaction() as conn:
            assignment = await conn.fetchrow(
                "SELECT * FROM assignments WHERE lead_id = $1 FOR UPDATE",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
            if assignment is None:
                raise NotFound(
                    f"lead {lead_id} has no assignment; route it with RouteLead first",
                    reason="ASSIGNMENT_NOT_FOUND",
                    metadata={"lead_id": str(lead_id)},
                )
            inserted = await conn.fetchval(
                "INSERT INTO outcomes (lead_id, agent_id, outcome, occurred_time, request_id)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING RETURNING outcome_id",
                lead_id,
                assignment["agent_id"],
                outcome,
                occurred,
                request_id,
            )
            if inserted is not None and outcome in CLOSING_OUTCOMES and assignment["active"]:
                await conn.execute(
                    "UPDATE assignments SET active = false, update_time = now() WHERE lead_id = $1", lead_id
                )
                await conn.execute(
                    "UPDATE agents SET active_lead_count = greatest(active_lead_count - 1, 0)"
                    " WHERE agent_id = $1",
                    assignment["agent_id"],
                )
        found = await self.get_assignment(lead_id)
        assert found is not None
        return found


def _with_name(row: asyncpg.Record, agent_name: str) -> dict[str, Any]:
    return {**dict(row), "agent_name": agent_name}


__all__: Sequence[str] = ["AgentFields", "RoutingRepository"]
