"""SQL for agents and assignments. Returns frozen dataclasses; translates database outcomes into
domain errors.

Single statements are methods of `RoutingRepository`. What must happen in one transaction
(taking a slot and storing the assignment, closing an assignment and freeing its slot) runs on a
`RoutingTx` from `RoutingRepository.transaction()`, so the use-cases decide and this module only
reads and writes.

The open-lead count of an agent changes only here, and only together with the assignment row
that causes it: +1 when an open assignment is stored (guarded so it never passes capacity), -1
when one stops being open (guarded so only the one statement that closes it counts). Both are
single-row updates, so the count stays exact whatever runs concurrently, and it is in Postgres,
so it survives restarts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.routing import route_context
from services.routing.agents import AgentFields, Window
from services.routing.route_context import RouteContext
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import AlreadyExists
from shared.keyset import Keyset

OPEN, CLOSED, POND, OFFERED = 1, 2, 3, 4


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
    languages: tuple[str, ...] = ()
    specialties: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    min_price_usd: int = 0
    max_price_usd: int = 0
    working_hours: tuple[Window, ...] = ()
    team_id: str = ""
    team_lead: bool = False
    notify_channel: int = 0  # AgentNotifyChannel; 0: text when a phone is on file, else email
    # Median seconds to answer recent offers (see record_response); None: never answered one.
    response_median_s: float | None = None
    response_count: int = 0


@dataclass(frozen=True)
class Assignment:
    lead_id: uuid.UUID
    location_id: str
    agent_id: uuid.UUID | None  # None in the pond
    agent_name: str
    reasons: tuple[str, ...]
    active: bool
    assign_time: datetime
    state: int = OPEN
    end_reason: str = ""
    last_activity_time: datetime | None = None
    predicted_success: float = 0.0
    candidates: tuple[dict[str, Any], ...] = ()
    features: tuple[str, ...] = ()
    accept_by_time: datetime | None = None
    accept_time: datetime | None = None
    reassign_count: int = 0
    passed_agents: frozenset[uuid.UUID] = frozenset()
    lead_snapshot: bytes | None = None
    score: float = 0.0
    # First-to-claim: the agents offered the lead at once, in rank order (kept after the claim).
    offered_agents: tuple[uuid.UUID, ...] = ()


# How many of an agent's latest answers its median response time is taken over.
RECENT_RESPONSES = 20


@dataclass(frozen=True)
class NewAssignment:
    lead_id: uuid.UUID
    location_id: str
    agent_id: uuid.UUID | None
    reasons: list[str]
    predicted_success: float
    candidates: list[dict[str, Any]]
    features: list[str]
    accept_sla_s: int = 0  # 0: no acceptance deadline (pond)
    agent_name: str = ""  # of agent_id, as the assignment shows it
    lead_snapshot: bytes | None = None
    score: float = 0.0
    # First-to-claim: offered to these agents at once (agent_id None, state OFFERED).
    offered: tuple[uuid.UUID, ...] = ()


def _windows(raw: list[dict[str, int]]) -> tuple[Window, ...]:
    return tuple(Window(w["day"], w["start"], w["end"]) for w in raw)


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
        languages=tuple(row["languages"]),
        specialties=tuple(row["specialties"]),
        territories=tuple(row["territories"]),
        min_price_usd=row["min_price_usd"],
        max_price_usd=row["max_price_usd"],
        working_hours=_windows(row["working_hours"]),
        team_id=row["team_id"],
        team_lead=row["team_lead"],
        notify_channel=row["notify_channel"],
        response_median_s=row["response_median_s"],
        response_count=row["response_count"],
    )


def _assignment(row: asyncpg.Record) -> Assignment:
    return Assignment(
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        agent_id=row["agent_id"],
        agent_name=row["agent_name"] or "",
        reasons=tuple(row["reasons"]),
        active=row["active"],
        assign_time=row["assign_time"],
        state=row["state"],
        end_reason=row["end_reason"],
        last_activity_time=row["last_activity_time"],
        predicted_success=row["predicted_success"],
        candidates=tuple(row["candidates"]),
        features=tuple(row["features"]),
        accept_by_time=row["accept_by_time"],
        accept_time=row["accept_time"],
        reassign_count=row["reassign_count"],
        passed_agents=frozenset(row["passed_agents"]),
        lead_snapshot=row["lead_snapshot"],
        score=row["score"],
        offered_agents=tuple(row["offered_agents"]),
    )


_ASSIGNMENT = (
    "SELECT a.*, g.name AS agent_name FROM assignments a LEFT JOIN agents g USING (agent_id)"
    " WHERE a.lead_id = $1"
)
# ListAgents: a location's agents by name, agent_id breaking ties.
_AGENT_PAGES = Keyset(key="name", key_type="text", id="agent_id", descending=False)
_AGENT_COLUMNS = (
    "location_id, external_user_id, name, email, phone, timezone, capacity, available,"
    " languages, specialties, territories, min_price_usd, max_price_usd, working_hours, team_id, team_lead,"
    " notify_channel"
)


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
        list(fields.languages),
        list(fields.specialties),
        list(fields.territories),
        fields.min_price_usd,
        fields.max_price_usd,
        [{"day": w.day_of_week, "start": w.start_minute, "end": w.end_minute} for w in fields.working_hours],
        fields.team_id,
        fields.team_lead,
        fields.notify_channel,
    )


# The columns an assignment is stored with ($4 on, see _stored), and what a re-route of a
# lead in the pond replaces; shared by store_assignment's callers.
_STORE_COLUMNS = (
    "lead_id, location_id, agent_id, reasons, state, active, predicted_success, candidates, features,"
    " accept_by_time, lead_snapshot, score, offered_agents"
)
_REPLACE_POND = (
    " ON CONFLICT (lead_id) DO UPDATE SET agent_id = EXCLUDED.agent_id, reasons = EXCLUDED.reasons,"
    " state = EXCLUDED.state, active = EXCLUDED.active,"
    " predicted_success = EXCLUDED.predicted_success,"
    " candidates = EXCLUDED.candidates, features = EXCLUDED.features, assign_time = now(),"
    " accept_by_time = EXCLUDED.accept_by_time, lead_snapshot = EXCLUDED.lead_snapshot,"
    " score = EXCLUDED.score, offered_agents = EXCLUDED.offered_agents,"
    " last_activity_time = now(), end_reason = '', update_time = now()"
    f" WHERE assignments.state = {POND}"
)
# RouteLead's write. The roster update runs first: the agents update is gated on it by a
# one-time filter, evaluated before the agent row is scanned (and locked), and the assignment
# insert reads the agents update; so the lock order is that of every other agent-changing
# transaction (roster, agent, assignment) and routes never deadlock with them.
_ROUTE_TO = (
    "WITH r AS (UPDATE rosters SET version = version + 1 WHERE location_id = $1 RETURNING version),"
    " s AS (UPDATE agents SET active_lead_count = active_lead_count + 1, last_assign_time = now()"
    " WHERE agent_id = $2 AND available AND active_lead_count < $3"
    " AND (SELECT version FROM r) IS NOT NULL RETURNING *),"
    f" a AS (INSERT INTO assignments ({_STORE_COLUMNS})"
    f" SELECT $4, $1, s.agent_id, $5, {OPEN}, true, $6, $7, $8,"
    " CASE WHEN $9 > 0 THEN now() + make_interval(secs => $9) END, $10, $11, '{}' FROM s"
    f"{_REPLACE_POND} RETURNING *)"
    " SELECT (SELECT version FROM r) AS roster_version, s.*, a.state AS a_state,"
    " a.assign_time AS a_assign_time, a.last_activity_time AS a_last_activity_time,"
    " a.accept_by_time AS a_accept_by_time, a.accept_time AS a_accept_time,"
    " a.reassign_count AS a_reassign_count, a.passed_agents AS a_passed_agents"
    " FROM (SELECT 1) one LEFT JOIN s ON true LEFT JOIN a ON true"
)


def _state(new: NewAssignment) -> tuple[int, bool]:
    """(state, holds a slot) of an assignment about to be stored."""
    if new.offered:
        return OFFERED, False
    return (OPEN, True) if new.agent_id is not None else (POND, False)


def _stored(new: NewAssignment) -> tuple[Any, ...]:
    """$4.. of _ROUTE_TO."""
    return (
        new.lead_id,
        new.reasons,
        new.predicted_success,
        new.candidates,
        new.features,
        float(new.accept_sla_s),
        new.lead_snapshot,
        new.score,
    )


class RoutingTx:
    """Statements that run inside one transaction opened by `RoutingRepository.transaction()`."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    @property
    def conn(self) -> Conn:
        """For the other stores' statements that belong in this transaction (outbox, model)."""
        return self._conn

    async def agent_by_request(self, request_id: str) -> Agent | None:
        row = await self._conn.fetchrow("SELECT * FROM agents WHERE request_id = $1", request_id)
        return None if row is None else _agent(row)

    async def update_agent(self, agent_id: uuid.UUID, fields: AgentFields) -> Agent | None:
        sets = ", ".join(f"{c.strip()} = ${i + 2}" for i, c in enumerate(_AGENT_COLUMNS.split(",")[1:]))
        row = await self._conn.fetchrow(
            f"UPDATE agents SET {sets}, update_time = now()"
            " WHERE location_id = $1 AND agent_id = $18 RETURNING *",
            *_values(fields),
            agent_id,
            timeout=deadlines.timeout(5.0),
        )
        return None if row is None else _agent(row)

    async def insert_agent(self, fields: AgentFields, request_id: str | None) -> tuple[Agent, bool]:
        """Insert, or update the agent with the same (location_id, external_user_id); True if inserted."""
        updates = ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _AGENT_COLUMNS.split(",")[2:])
        try:
            # xmax = 0 only on a freshly inserted row: tells create from update.
            row = await self._conn.fetchrow(
                f"INSERT INTO agents ({_AGENT_COLUMNS}, request_id) VALUES"
                " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                f" ON CONFLICT (location_id, external_user_id) DO UPDATE SET {updates}, update_time = now()"
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

    async def find_assignment(self, lead_id: uuid.UUID, *, lock: bool = False) -> Assignment | None:
        row = await self._conn.fetchrow(_ASSIGNMENT + (" FOR UPDATE OF a" if lock else ""), lead_id)
        return None if row is None else _assignment(row)

    async def take_slot(self, agent_id: uuid.UUID, capacity: int) -> Agent | None:
        """One more open lead for the agent, unless that would pass `capacity` (the effective
        one) or the agent stopped being available; None then. The row lock this takes is held
        to the end of the transaction, so two routes cannot both take a last slot."""
        row = await self._conn.fetchrow(
            "UPDATE agents SET active_lead_count = active_lead_count + 1, last_assign_time = now()"
            " WHERE agent_id = $1 AND available AND active_lead_count < $2 RETURNING *",
            agent_id,
            capacity,
        )
        return None if row is None else _agent(row)

    async def bump_roster(self, location_id: str, *, create: bool = False) -> int:
        """The first statement of every transaction that changes the location's agents: moves
        the roster version (RouteLead's cache key) and takes the roster row's lock, which every
        such transaction takes first, so they never deadlock on agents and assignments. Returns
        the new version (0: the location has no roster yet, hence no agents)."""
        sql = (
            "INSERT INTO rosters AS r (location_id, version) VALUES ($1, 1)"
            " ON CONFLICT (location_id) DO UPDATE SET version = r.version + 1 RETURNING version"
            if create
            else "UPDATE rosters SET version = version + 1 WHERE location_id = $1 RETURNING version"
        )
        return int(await self._conn.fetchval(sql, location_id) or 0)

    async def store_assignment(self, new: NewAssignment) -> Assignment | None:
        """Insert (or turn a pond assignment into) this one. None when the lead already holds an
        open or closed assignment (a concurrent RouteLead stored it)."""
        state, active = _state(new)
        row = await self._conn.fetchrow(
            f"INSERT INTO assignments ({_STORE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " CASE WHEN $10 > 0 THEN now() + make_interval(secs => $10) END, $11, $12, $14)"
            f"{_REPLACE_POND} RETURNING *, $13::text AS agent_name",
            new.lead_id,
            new.location_id,
            new.agent_id,
            new.reasons,
            state,
            active,
            new.predicted_success,
            new.candidates,
            new.features,
            float(new.accept_sla_s),
            new.lead_snapshot,
            new.score,
            new.agent_name,
            list(new.offered),
        )
        return None if row is None else _assignment(row)

    async def route_to(
        self, agent_id: uuid.UUID, capacity: int, new: NewAssignment
    ) -> tuple[int, Agent | None, Assignment | None]:
        """bump_roster, take_slot and store_assignment as one statement (one round trip, in
        the same lock order: roster row, agent row, assignment row): (the new roster version,
        the agent as the slot left it or None when it had none, the stored assignment or None
        when the lead already holds an open or closed one, whose slot the caller rolls back)."""
        row = await self._conn.fetchrow(_ROUTE_TO, new.location_id, agent_id, capacity, *_stored(new))
        assert row is not None
        version = int(row["roster_version"] or 0)
        if row["agent_id"] is None:
            return version, None, None
        taken = _agent(row)
        if row["a_state"] is None:
            return version, taken, None
        return (
            version,
            taken,
            Assignment(
                lead_id=new.lead_id,
                location_id=new.location_id,
                agent_id=taken.agent_id,
                agent_name=taken.name,
                reasons=tuple(new.reasons),
                active=True,
                assign_time=row["a_assign_time"],
                state=row["a_state"],
                end_reason="",
                last_activity_time=row["a_last_activity_time"],
                predicted_success=new.predicted_success,
                candidates=tuple(new.candidates),
                features=tuple(new.features),
                accept_by_time=row["a_accept_by_time"],
                accept_time=row["a_accept_time"],
                reassign_count=row["a_reassign_count"],
                passed_agents=frozenset(row["a_passed_agents"]),
                lead_snapshot=new.lead_snapshot,
                score=new.score,
            ),
        )

    async def accept(self, lead_id: uuid.UUID, agent_id: uuid.UUID) -> bool:
        """Mark the open assignment accepted by its agent; False when it is not theirs (or not
        open). Accepting again keeps the first accept_time."""
        row = await self._conn.fetchrow(
            "UPDATE assignments SET accept_time = coalesce(accept_time, now()), accept_by_time = NULL,"
            " update_time = now() WHERE lead_id = $1 AND agent_id = $2 AND active RETURNING lead_id",
            lead_id,
            agent_id,
        )
        return row is not None

    async def move(
        self, held: Assignment, new: NewAssignment, why: str, *, passed: uuid.UUID | None
    ) -> Assignment | None:
        """Move an open, unaccepted assignment from `held.agent_id` (or an unclaimed offer, from
        its group) to `new` (an agent, a new group, or the pond), freeing the old agent's slot;
        the caller has already taken the new agent's. None when the assignment changed since it
        was read (accepted, claimed, closed, moved, an offer declined): nothing moves."""
        state, _ = _state(new)
        offer = held.state == OFFERED
        guard = (
            f"state = {OFFERED} AND offered_agents = $11::uuid[]"
            if offer
            else "agent_id = $11::uuid AND active AND accept_time IS NULL"
        )
        row = await self._conn.fetchrow(
            "UPDATE assignments SET agent_id = $2, state = $3, active = $4, reasons = $5,"
            " predicted_success = $6, candidates = $7, features = $8,"
            " accept_by_time = CASE WHEN $9 > 0 THEN now() + make_interval(secs => $9) END,"
            + (
                " passed_agents = passed_agents || offered_agents,"
                if offer
                else " passed_agents = array_append(passed_agents, $11::uuid),"
            )
            + f" reassign_count = reassign_count + CASE WHEN $3::smallint = {POND} THEN 0 ELSE 1 END,"
            " offered_agents = $12, end_reason = $10, assign_time = now(), update_time = now()"
            f" WHERE lead_id = $1 AND {guard} RETURNING lead_id",
            held.lead_id,
            new.agent_id,
            state,
            state == OPEN,
            new.reasons,
            new.predicted_success,
            new.candidates,
            new.features,
            float(new.accept_sla_s),
            why if state == POND else "",
            list(held.offered_agents) if offer else passed,
            list(new.offered),
        )
        if row is None:
            return None
        if not offer:
            await self._conn.execute(
                "UPDATE agents SET active_lead_count = active_lead_count - 1 WHERE agent_id = $1",
                held.agent_id,
            )
        return await self.find_assignment(held.lead_id)

    async def reassign(
        self,
        held: Assignment,
        agent_id: uuid.UUID,
        reasons: list[str],
        predicted: float,
        features: list[str],
        accept_sla_s: int,
    ) -> bool:
        """An operator's move of `held` (open, offered or in the pond) to `agent_id`, awaiting
        their accept; the previous holder's slot is given back. False, nothing changed, when the
        assignment changed since it was read. The caller took the new agent's slot."""
        row = await self._conn.fetchrow(
            f"UPDATE assignments SET agent_id = $2, state = {OPEN}, active = true, reasons = $3,"
            " predicted_success = $4, features = $5,"
            " accept_by_time = now() + make_interval(secs => $6), accept_time = NULL,"
            " reassign_count = reassign_count + 1, end_reason = '', assign_time = now(),"
            " last_activity_time = now(), update_time = now()"
            " WHERE lead_id = $1 AND state = $7 AND agent_id IS NOT DISTINCT FROM $8 RETURNING lead_id",
            held.lead_id,
            agent_id,
            reasons,
            predicted,
            features,
            float(accept_sla_s),
            held.state,
            held.agent_id,
        )
        if row is None:
            return False
        if held.state == OPEN:
            await self._conn.execute(
                "UPDATE agents SET active_lead_count = active_lead_count - 1 WHERE agent_id = $1",
                held.agent_id,
            )
        return True

    async def claim(
        self,
        lead_id: uuid.UUID,
        agent_id: uuid.UUID,
        predicted: float,
        features: list[str],
        reasons: list[str],
    ) -> bool:
        """The offered lead becomes `agent_id`'s, accepted now; False when it is no longer
        offered to them (claimed first by another, moved on, declined). The caller took the
        agent's slot in this transaction."""
        row = await self._conn.fetchrow(
            f"UPDATE assignments SET state = {OPEN}, active = true, agent_id = $2, accept_time = now(),"
            " accept_by_time = NULL, predicted_success = $3, features = $4, reasons = $5,"
            " last_activity_time = now(), update_time = now()"
            f" WHERE lead_id = $1 AND state = {OFFERED} AND $2 = ANY(offered_agents) RETURNING lead_id",
            lead_id,
            agent_id,
            predicted,
            features,
            reasons,
        )
        return row is not None

    async def decline_offer(self, lead_id: uuid.UUID, agent_id: uuid.UUID) -> list[uuid.UUID] | None:
        """Take the agent out of the lead's open offer; the agents still offered it, or None
        when it was not offered to them (any more)."""
        row = await self._conn.fetchrow(
            "UPDATE assignments SET offered_agents = array_remove(offered_agents, $2),"
            " passed_agents = array_append(passed_agents, $2), update_time = now()"
            f" WHERE lead_id = $1 AND state = {OFFERED} AND $2 = ANY(offered_agents)"
            " RETURNING offered_agents",
            lead_id,
            agent_id,
        )
        return None if row is None else list(row["offered_agents"])

    async def close(self, lead_id: uuid.UUID, reason: str, *, idle_days: int = 0) -> Assignment | None:
        """Close the lead's open assignment and give its agent the slot back, or close its open
        first-to-claim offer (no slot, nobody can claim it any more); None when it was neither
        (already closed, in the pond, or absent): nothing changes then. With idle_days, only
        while the lead is still that idle (activity may have arrived since the sweep read)."""
        row = await self._conn.fetchrow(
            f"UPDATE assignments SET active = false, state = {CLOSED}, end_reason = $2, update_time = now()"
            f" WHERE lead_id = $1 AND (active OR state = {OFFERED})"
            " AND ($3 = 0 OR last_activity_time < now() - make_interval(days => $3)) RETURNING agent_id",
            lead_id,
            reason,
            idle_days,
        )
        if row is None:
            return None
        if row["agent_id"] is not None:  # an offer names no agent and holds no slot
            await self._conn.execute(
                "UPDATE agents SET active_lead_count = active_lead_count - 1 WHERE agent_id = $1",
                row["agent_id"],
            )
        return await self.find_assignment(lead_id)

    async def add_outcome(
        self,
        lead_id: uuid.UUID,
        agent_id: uuid.UUID | None,
        outcome: int,
        occurred: datetime,
        request_id: str | None,
    ) -> uuid.UUID | None:
        """The new outcome's id; None when this request_id's outcome is already stored."""
        inserted: uuid.UUID | None = await self._conn.fetchval(
            "INSERT INTO outcomes (lead_id, agent_id, outcome, occurred_time, request_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING RETURNING outcome_id",
            lead_id,
            agent_id,
            outcome,
            occurred,
            request_id,
        )
        return inserted

    async def record_response(self, held: Assignment, kind: str, *, recent: int = RECENT_RESPONSES) -> bool:
        """The holder of `held` answered its offer now (`kind`: accepted, declined, missed): store
        it once per offer and refresh the agent's median over its `recent` last answers. Runs in
        a transaction that bumped the roster, so the next route reads the new median. False
        when this offer's answer was already stored (a retry)."""
        assert held.agent_id is not None
        stored = await self._conn.fetchval(
            "INSERT INTO agent_responses (lead_id, agent_id, location_id, offer_time, kind, seconds)"
            " VALUES ($1, $2, $3, $4, $5, greatest(0, extract(epoch FROM clock_timestamp() - $4)))"
            " ON CONFLICT DO NOTHING RETURNING true",
            held.lead_id,
            held.agent_id,
            held.location_id,
            held.assign_time,
            kind,
        )
        if not stored:
            return False
        await self._conn.execute(
            "UPDATE agents SET (response_median_s, response_count) = (SELECT"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), count(*) FROM (SELECT seconds"
            " FROM agent_responses WHERE agent_id = $1 ORDER BY response_time DESC LIMIT $2) r)"
            " WHERE agent_id = $1",
            held.agent_id,
            recent,
        )
        return True

    async def outcome_lead(self, request_id: str) -> uuid.UUID | None:
        """The lead whose outcome was stored under this request_id."""
        lead: uuid.UUID | None = await self._conn.fetchval(
            "SELECT lead_id FROM outcomes WHERE request_id = $1", request_id
        )
        return lead


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

    async def route_context(self, location_id: str, lead_id: uuid.UUID) -> RouteContext:
        return await route_context.read(self._db, location_id, lead_id)

    async def roster_version(self, location_id: str) -> int:
        async with self._db.connection() as conn:
            version = await conn.fetchval(
                "SELECT version FROM rosters WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return int(version or 0)

    async def roster_changes(self, location_id: str, since: int) -> tuple[int, list[Agent]]:
        """The location's roster version and its agents changed after version `since` (every
        agent when `since` is -1), read in one snapshot, unlocked: RouteLead ranks on them,
        then takes a slot with a guarded update, so a stale read can only cost a retry."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT r.version AS current_version, a.* FROM rosters r LEFT JOIN agents a"
                " ON a.location_id = r.location_id AND a.roster_version > $2 WHERE r.location_id = $1",
                location_id,
                since,
                timeout=deadlines.timeout(2.0),
            )
        if not rows:
            return 0, []
        return int(rows[0]["current_version"]), [_agent(r) for r in rows if r["agent_id"] is not None]

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

    async def set_available(self, agent_id: uuid.UUID, location_id: str, available: bool) -> Agent | None:
        async with self.transaction() as tx:
            await tx.bump_roster(location_id)
            row = await tx.conn.fetchrow(
                "UPDATE agents SET available = $3, update_time = now()"
                " WHERE agent_id = $1 AND location_id = $2 RETURNING *",
                agent_id,
                location_id,
                available,
                timeout=deadlines.timeout(2.0),
            )
        return None if row is None else _agent(row)

    async def get_assignment(self, lead_id: uuid.UUID) -> Assignment | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(_ASSIGNMENT, lead_id, timeout=deadlines.timeout(2.0))
        return None if row is None else _assignment(row)

    async def touch(self, lead_id: uuid.UUID, location_id: str, at: datetime) -> Assignment | None:
        """Move the assignment's last activity forward to `at` (never back)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE assignments SET last_activity_time = greatest(last_activity_time, $3)"
                " WHERE lead_id = $1 AND location_id = $2",
                lead_id,
                location_id,
                at,
                timeout=deadlines.timeout(2.0),
            )
            row = await conn.fetchrow(_ASSIGNMENT, lead_id)
        return None if row is None or row["location_id"] != location_id else _assignment(row)

    async def unaccepted_due(self, limit: int) -> list[uuid.UUID]:
        """Open assignments whose acceptance deadline passed, oldest first."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT lead_id FROM assignments WHERE (active OR state = {OFFERED})"
                " AND accept_by_time < now() ORDER BY accept_by_time LIMIT $1",
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return [r["lead_id"] for r in rows]

    async def idle_assignments(self, default_days: int, limit: int) -> list[tuple[uuid.UUID, str, int]]:
        """Open assignments whose lead has been inactive longer than its location allows, with
        the days allowed; oldest first."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT a.lead_id, a.location_id, coalesce(s.inactivity_days, $1) AS days FROM assignments a"
                " LEFT JOIN routing_settings s USING (location_id)"
                " WHERE a.active AND a.last_activity_time"
                " < now() - make_interval(days => coalesce(s.inactivity_days, $1))"
                " ORDER BY a.last_activity_time LIMIT $2",
                default_days,
                limit,
                timeout=deadlines.timeout(10.0),
            )
        return [(r["lead_id"], r["location_id"], r["days"]) for r in rows]


__all__: Sequence[str] = [
    "Agent",
    "Assignment",
    "NewAssignment",
    "RoutingRepository",
    "RoutingTx",
]
