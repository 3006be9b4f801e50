"""SQL for the routing schema. Returns frozen dataclasses; translates database outcomes into domain errors.

Single statements are methods of `RoutingRepository`. What must happen under one
lock (choosing an agent, closing an assignment) runs on a `RoutingTx` from
`RoutingRepository.transaction()`, so the use-cases decide and this module only reads and writes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.routing.agents import AgentFields
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import AlreadyExists
from shared.keyset import Keyset


@dataclass(frozen=True)
class Agent:
    agent_id: uuid.UUID
    location_id: str
    external_user_id: str | None
    name: str
    email: str
    phone: str
    timezone: str
    capacity: int  # 0: the location default applies
    available: bool
    active_lead_count: int
    last_assign_time: datetime | None
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class AgentLoad:
    """What choosing an agent needs, read with the agent's row locked."""

    agent_id: uuid.UUID
    name: str
    available: bool
    capacity: int  # 0: the location default applies
    active_lead_count: int
    last_assign_time: datetime | None


@dataclass(frozen=True)
class Assignment:
    lead_id: uuid.UUID
    location_id: str
    agent_id: uuid.UUID
    agent_name: str
    reasons: tuple[str, ...]
    active: bool
    assign_time: datetime


@dataclass(frozen=True)
class HeldLead:
    """An assignment locked while an outcome is recorded against it."""

    agent_id: uuid.UUID
    active: bool


def _agent(row: asyncpg.Record) -> Agent:
    return Agent(
        agent_id=row["agent_id"],
        location_id=row["location_id"],
        external_user_id=row["external_user_id"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        timezone=row["timezone"],
        capacity=row["capacity"],
        available=row["available"],
        active_lead_count=row["active_lead_count"],
        last_assign_time=row["last_assign_time"],
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


def _assignment(row: asyncpg.Record, agent_name: str | None = None) -> Assignment:
    return Assignment(
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        agent_id=row["agent_id"],
        agent_name=row["agent_name"] if agent_name is None else agent_name,
        reasons=tuple(row["reasons"]),
        active=row["active"],
        assign_time=row["assign_time"],
    )


_ASSIGNMENT_WITH_NAME = (
    "SELECT a.*, g.name AS agent_name FROM assignments a JOIN agents g USING (agent_id) WHERE a.lead_id = $1"
)
# ListAgents: a location's agents by name, agent_id breaking ties.
_AGENT_PAGES = Keyset(key="name", key_type="text", id="agent_id", descending=False)


class RoutingTx:
    """Statements that run inside one transaction opened by `RoutingRepository.transaction()`."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    async def agent_by_request(self, request_id: str) -> Agent | None:
        row = await self._conn.fetchrow("SELECT * FROM agents WHERE request_id = $1", request_id)
        return None if row is None else _agent(row)

    async def update_agent(self, agent_id: uuid.UUID, fields: AgentFields) -> Agent | None:
        row = await self._conn.fetchrow(
            "UPDATE agents SET external_user_id = $2, name = $3, email = $4, phone = $5,"
            " timezone = $6, capacity = $7, available = $8, update_time = now()"
            " WHERE location_id = $1 AND agent_id = $9 RETURNING *",
            *_values(fields),
            agent_id,
            timeout=deadlines.timeout(5.0),
        )
        return None if row is None else _agent(row)

    async def insert_agent(self, fields: AgentFields, request_id: str | None) -> tuple[Agent, bool]:
        """Insert, or update the agent with the same (location_id, external_user_id); True if inserted."""
        try:
            # xmax = 0 only on a freshly inserted row: tells create from update.
            row = await self._conn.fetchrow(
                "INSERT INTO agents (location_id, external_user_id, name, email, phone, timezone,"
                " capacity, available, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (location_id, external_user_id) DO UPDATE SET name = EXCLUDED.name,"
                " email = EXCLUDED.email, phone = EXCLUDED.phone, timezone = EXCLUDED.timezone,"
                " capacity = EXCLUDED.capacity, available = EXCLUDED.available, update_time = now()"
                " RETURNING *, (xmax = 0) AS inserted",
                *_values(fields),
                request_id,
                timeout=deadlines.timeout(5.0),
            )
        except asyncpg.UniqueViolationError as err:
            raise AlreadyExists(
                "another call with this request_id is creating this agent; retry to read it",
                reason="REQUEST_IN_PROGRESS",
            ) from err
        assert row is not None
        return _agent(row), bool(row["inserted"])

    async def agent(self, agent_id: uuid.UUID) -> Agent:
        """An agent an assignment names: the foreign key guarantees it exists."""
        row = await self._conn.fetchrow("SELECT * FROM agents WHERE agent_id = $1", agent_id)
        assert row is not None
        return _agent(row)

    async def find_assignment(self, lead_id: uuid.UUID) -> Assignment | None:
        row = await self._conn.fetchrow(_ASSIGNMENT_WITH_NAME, lead_id)
        return None if row is None else _assignment(row)

    async def lock_agents(self, location_id: str) -> list[AgentLoad]:
        """Every agent of the location, locked (in agent_id order, so lockers never deadlock)
        until the transaction ends: two leads routed at once cannot both take a last slot."""
        rows = await self._conn.fetch(
            "SELECT agent_id, name, available, capacity, active_lead_count, last_assign_time"
            " FROM agents WHERE location_id = $1 ORDER BY agent_id FOR UPDATE",
            location_id,
            timeout=deadlines.timeout(5.0),
        )
        return [
            AgentLoad(
                agent_id=r["agent_id"],
                name=r["name"],
                available=r["available"],
                capacity=r["capacity"],
                active_lead_count=r["active_lead_count"],
                last_assign_time=r["last_assign_time"],
            )
            for r in rows
        ]

    async def insert_assignment(
        self, lead_id: uuid.UUID, location_id: str, agent_id: uuid.UUID, agent_name: str, reasons: list[str]
    ) -> Assignment | None:
        """None when the lead already has an assignment (a concurrent RouteLead stored it)."""
        row = await self._conn.fetchrow(
            "INSERT INTO assignments (lead_id, location_id, agent_id, reasons) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (lead_id) DO NOTHING RETURNING *",
            lead_id,
            location_id,
            agent_id,
            reasons,
        )
        return None if row is None else _assignment(row, agent_name)

    async def take_slot(self, agent_id: uuid.UUID) -> Agent:
        """Count one more open lead for the agent; returns the agent as GetAgent will show it."""
        row = await self._conn.fetchrow(
            "UPDATE agents SET active_lead_count = active_lead_count + 1, last_assign_time = now()"
            " WHERE agent_id = $1 RETURNING *",
            agent_id,
        )
        assert row is not None
        return _agent(row)

    async def hold_assignment(self, lead_id: uuid.UUID) -> HeldLead | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM assignments WHERE lead_id = $1 FOR UPDATE",
            lead_id,
            timeout=deadlines.timeout(2.0),
        )
        return None if row is None else HeldLead(agent_id=row["agent_id"], active=row["active"])

    async def add_outcome(
        self,
        lead_id: uuid.UUID,
        agent_id: uuid.UUID,
        outcome: int,
        occurred: datetime,
        request_id: str | None,
    ) -> bool:
        """False when this request_id's outcome is already stored."""
        inserted = await self._conn.fetchval(
            "INSERT INTO outcomes (lead_id, agent_id, outcome, occurred_time, request_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING RETURNING outcome_id",
            lead_id,
            agent_id,
            outcome,
            occurred,
            request_id,
        )
        return inserted is not None

    async def close_assignment(self, lead_id: uuid.UUID, agent_id: uuid.UUID) -> None:
        """Mark the assignment closed and give its agent the slot back."""
        await self._conn.execute(
            "UPDATE assignments SET active = false, update_time = now() WHERE lead_id = $1", lead_id
        )
        await self._conn.execute(
            "UPDATE agents SET active_lead_count = greatest(active_lead_count - 1, 0) WHERE agent_id = $1",
            agent_id,
        )


class RoutingRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RoutingTx]:
        async with self._db.transaction() as conn:
            yield RoutingTx(conn)

    async def get_agent(self, agent_id: uuid.UUID) -> Agent | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM agents WHERE agent_id = $1", agent_id, timeout=deadlines.timeout(2.0)
            )
        return None if row is None else _agent(row)

    async def list_agents(self, location_id: str, after: tuple[str, str] | None, limit: int) -> list[Agent]:
        """Up to limit + 1 agents after `after` (name, agent_id), by name."""
        async with self._db.connection() as conn:
            rows = await _AGENT_PAGES.fetch(
                conn,
                "SELECT * FROM agents WHERE location_id = $1",
                [location_id],
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [_agent(r) for r in rows]

    async def set_available(self, agent_id: uuid.UUID, available: bool) -> Agent | None:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE agents SET available = $2, update_time = now() WHERE agent_id = $1 RETURNING *",
                agent_id,
                available,
                timeout=deadlines.timeout(2.0),
            )
        return None if row is None else _agent(row)

    async def get_assignment(self, lead_id: uuid.UUID) -> Assignment | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(_ASSIGNMENT_WITH_NAME, lead_id, timeout=deadlines.timeout(2.0))
        return None if row is None else _assignment(row)


def _values(fields: AgentFields) -> tuple[Any, ...]:
    return (
        fields.location_id,
        fields.external_user_id,
        fields.name,
        fields.email,
        fields.phone,
        fields.timezone,
        fields.capacity,
        fields.available,
    )


__all__: Sequence[str] = ["Agent", "AgentLoad", "Assignment", "HeldLead", "RoutingRepository", "RoutingTx"]
