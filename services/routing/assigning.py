"""Giving a lead to an agent (RouteLead) and reading who holds it (GetAssignment).

The lead comes from the caller's snapshot or from ingest; the choice is `matching.screen` and
`selection.decide`, pure, over the location's agents read without locks. The slot is then taken
with a guarded single-row update in the transaction that stores the assignment: if another
route took the last slot first, the next-ranked agent is tried, so the count never passes
capacity however many routes run at once. Nobody eligible: the lead goes to the pond, with the
reasons stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.routing import matching, offers, ranking, rules, selection
from services.routing.location_store import LocationStore
from services.routing.matching import AgentProfile, LeadProfile
from services.routing.predictor import SuccessModel
from services.routing.ranking import RosterMatrix
from services.routing.repository import (
    POND,
    Agent,
    Assignment,
    NewAssignment,
    RoutingRepository,
    RoutingTx,
)
from services.routing.route_context import RouteContext
from services.routing.rule_store import RuleStore
from services.routing.settings import RoutingSettings
from shared import timestamps
from shared.clients import IngestClient
from shared.errors import FieldViolation, InvalidArgument, NotFound


@dataclass(frozen=True)
class Routed:
    assignment: Assignment
    agent: Agent | None  # as GetAgent shows it once the assignment is stored; None in the pond
    created: bool  # False: the lead already had this assignment


def assignment_missing(lead_id: uuid.UUID) -> NotFound:
    # The same answer for a lead of another location: never confirm another tenant's ids.
    return NotFound(
        f"lead {lead_id} has not been routed in this location",
        reason="ASSIGNMENT_NOT_FOUND",
        metadata={"lead_id": str(lead_id)},
    )


def profile(agent: Agent, default_capacity: int) -> AgentProfile:
    """The agent as a decision sees it."""
    return AgentProfile(
        agent_id=agent.agent_id,
        name=agent.name,
        available=agent.available,
        capacity=agent.capacity or default_capacity,
        active=agent.active_lead_count,
        last_assign_time=agent.last_assign_time,
        timezone=agent.timezone,
        languages=frozenset(agent.languages),
        specialties=frozenset(agent.specialties),
        territories=frozenset(agent.territories),
        min_price_usd=agent.min_price_usd,
        max_price_usd=agent.max_price_usd,
        working_hours=agent.working_hours,
        team_id=agent.team_id,
        team_lead=agent.team_lead,
        response_s=agent.response_median_s,
    )


@dataclass(frozen=True)
class Taken:
    new: NewAssignment
    agent: Agent | None  # whose slot was taken, as the update left it; None: the pond


@dataclass(frozen=True)
class Plan:
    order: Sequence[tuple[AgentProfile, float, float]]  # (agent, predicted success, score), best first
    reasons: list[str]
    features: list[str]  # the lead's own features
    fallback: bool = False  # the order is the team-lead fallback, nobody eligible


class Roster:
    """A location's agents for RouteLead, held in memory as a `ranking.RosterMatrix` with the
    roster version it reflects. When the version moved, only the agents changed since (each
    row carries the version that last changed it, migration 0190) are read, and the matrix is
    patched in place when only their loads moved: a route over 1,000 agents neither reads nor
    decodes the roster, and never uses a stale attribute."""

    def __init__(self, repo: RoutingRepository, default_capacity: int) -> None:
        self._repo = repo
        self._default_capacity = default_capacity
        # location -> (roster version, the roster as arrays).
        self._rosters: dict[str, tuple[int, RosterMatrix]] = {}

    async def matrix(self, location_id: str, version: int | None = None) -> RosterMatrix:
        """The roster as of its current version (`version`, when the caller just read it), or
        newer; read from Postgres only when that moved."""
        if version is None:
            version = await self._repo.roster_version(location_id)
        held = self._rosters.get(location_id)
        if held is not None and held[0] >= version:
            return held[1]
        since = held[0] if held is not None else -1
        current, changed = await self._repo.roster_changes(location_id, since)
        # Another route may have moved the held roster meanwhile, never backwards: what was
        # read is every agent changed since `since`, as of `current`, so it applies on top.
        held = self._rosters.get(location_id)
        if held is not None and held[0] >= current:
            return held[1]
        profiles = [profile(a, self._default_capacity) for a in changed]
        matrix = RosterMatrix(profiles) if since == -1 or held is None else _merged(held[1], profiles)
        self._rosters[location_id] = (current, matrix)
        return matrix

    async def profiles(self, location_id: str) -> list[AgentProfile]:
        return list((await self.matrix(location_id)).profiles)

    def took_slot(self, location_id: str, agent: Agent, version: int) -> None:
        """After a committed route: when its slot was the only change since the roster held
        here, apply it now; else the next route reads the changes it missed."""
        held = self._rosters.get(location_id)
        if held is None or held[0] != version - 1:
            return
        if held[1].update(profile(agent, self._default_capacity)):
            self._rosters[location_id] = (version, held[1])


def _merged(held: RosterMatrix, changed: list[AgentProfile]) -> RosterMatrix:
    """The roster after `changed`: `held` patched in place when they are all its agents and
    only their loads moved, else a new matrix."""
    same = all(
        (row := held.index.get(a.agent_id)) is not None
        and ranking.static(held.profiles[row]) == ranking.static(a)
        for a in changed
    )
    if same:
        for a in changed:
            held.update(a)
        return held
    by_id = {a.agent_id: a for a in held.profiles}
    by_id.update((a.agent_id, a) for a in changed)
    return RosterMatrix(list(by_id.values()))


def _offer(
    lead: LeadProfile,
    plan: Plan,
    index: int,
    entry: tuple[AgentProfile, float, float],
    settings: RoutingSettings,
    snapshot: bytes,
) -> NewAssignment:
    """The assignment to store if the `index`-th agent of the plan still has a slot."""
    agent, p, score = entry
    pick = selection.explain(lead, plan.features, agent, p, score)
    why = list(plan.reasons)
    if index:
        why.insert(0, f"{agent.name}: the {index} agent(s) ranked above filled up meanwhile")
    kept = plan.order[index : index + selection.KEPT_CANDIDATES]
    return NewAssignment(
        lead.lead_id,
        lead.location_id,
        agent.agent_id,
        why,
        pick.predicted,
        [selection.candidate(lead, plan.features, e) for e in kept],
        list(pick.features),
        accept_sla_s=settings.accept_sla_seconds,
        agent_name=agent.name,
        lead_snapshot=snapshot,
        score=lead.score,
    )


def _pond(lead: LeadProfile, plan: Plan) -> NewAssignment:
    reasons = plan.reasons
    if plan.order:
        reasons = [*reasons, "every eligible agent filled up while the lead was being routed"]
    return NewAssignment(lead.lead_id, lead.location_id, None, reasons, 0.0, [], [], score=lead.score)


class Assigning:
    def __init__(
        self,
        repo: RoutingRepository,
        store: LocationStore,
        rule_store: RuleStore,
        ingest: IngestClient,
        *,
        default_capacity: int,
    ) -> None:
        self._repo = repo
        self._store = store
        self._rules = rule_store
        self._ingest = ingest
        self._default_capacity = default_capacity
        self._models: dict[str, tuple[int, SuccessModel]] = {}
        self._roster = Roster(repo, default_capacity)

    @property
    def default_capacity(self) -> int:
        return self._default_capacity

    async def model(self, location_id: str, version: int | None = None) -> SuccessModel:
        """The location's newest model (`version`, when the caller just read it), read again
        only when its version moved."""
        if version is None:
            version = await self._store.model_version(location_id)
        cached = self._models.get(location_id)
        if cached is None or cached[0] != version:
            cached = (version, await self._store.model(location_id, version))
            self._models[location_id] = cached
        return cached[1]

    async def lead(
        self, lead_id: uuid.UUID, location_id: str, snapshot: ingest_pb.Lead | None
    ) -> ingest_pb.Lead:
        if snapshot is not None:
            if snapshot.lead_id != str(lead_id) or snapshot.location_id != location_id:
                raise InvalidArgument(
                    "lead must be the lead named by lead_id, in location_id",
                    reason="LEAD_MISMATCH",
                    violations=[
                        FieldViolation("lead", "lead.lead_id and lead.location_id as in the request")
                    ],
                )
            return snapshot
        found = await self._ingest.get_lead(lead_id, location_id)
        if found is None or found.location_id != location_id:
            raise NotFound(
                f"lead {lead_id} does not exist in this location",
                reason="LEAD_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return found

    async def plan(
        self,
        lead: LeadProfile,
        location_id: str,
        settings: RoutingSettings,
        passed: frozenset[uuid.UUID],
        context: RouteContext | None = None,
    ) -> Plan:
        """Who may take the lead, best first, and why; agents in `passed` (declined it, or let
        its acceptance time run out) are not asked again. `context`: the versions RouteLead
        just read, so that cached roster and model need no read of their own."""
        if context is not None:
            model = await self.model(location_id, context.model_version)
            roster = await self._roster.matrix(location_id, context.roster_version)
            location_rules = await self._rules.active(location_id) if context.has_rules else []
        else:
            # Independent reads, each on its own pool connection: a route waits for the slowest,
            # not the sum (no transaction is open here).
            model, roster, location_rules = await asyncio.gather(
                self.model(location_id), self._roster.matrix(location_id), self._rules.active(location_id)
            )
        considered = np.ones(len(roster), dtype=np.bool_)
        for agent_id in passed:
            if (row := roster.index.get(agent_id)) is not None:
                considered[row] = False
        agents = roster.profiles if not passed else [a for a in roster.profiles if a.agent_id not in passed]
        features = matching.lead_features(lead)
        rule = rules.first_match(location_rules, lead)
        if rule is not None and rule.target == rules.POND:
            return Plan([], [f"rule '{rule.name}' sends these leads to the pond"], features)
        screened = ranking.screen(
            lead,
            roster,
            timestamps.now(),
            considered,
            (lambda a: rules.allowed(rule, lead, a)) if rule else None,
            # An offer to several agents may reach one off the clock (offers.py).
            hours=not settings.first_to_claim,
        )
        # A team shares its leads round-robin (as peers' lead-flow groups do).
        round_robin = settings.round_robin or (rule is not None and rule.target == rules.TEAM)
        ranked = ranking.rank(
            lead,
            features,
            roster,
            screened.eligible,
            model,
            load_weight=settings.load_weight,
            round_robin=round_robin,
        )
        decision = selection.decide(
            lead,
            features,
            agents,
            screened,
            model,
            load_weight=settings.load_weight,
            round_robin=round_robin,
            order=ranked,
        )
        order: Sequence[tuple[AgentProfile, float, float]] = decision.order
        reasons = decision.reasons
        if rule is not None:
            reasons.insert(0, f"rule '{rule.name}' matched")
        if not order:
            order = selection.team_leads(lead, features, agents, model, rules.team_of(rule, agents))
            if order:
                reasons.insert(0, f"fallback to team lead {order[0][0].name}: nobody eligible could take it")
                return Plan(order, reasons, features, fallback=True)
        return Plan(order, reasons, features)

    async def take_first(
        self, tx: RoutingTx, lead: LeadProfile, plan: Plan, settings: RoutingSettings, snapshot: bytes
    ) -> Taken:
        """In the caller's transaction: a slot of the best agent in the plan who still has one
        (guarded, so never past capacity), and the assignment to store; no agent: the pond."""
        new, taken = await self._take_first(tx, lead, plan, settings, snapshot)
        return Taken(new, taken)

    def committed(self, taken: Taken, version: int) -> None:
        """The transaction that bumped the roster to `version` and ran take_first committed:
        let the roster cache catch up."""
        if taken.agent is not None:
            self._roster.took_slot(taken.agent.location_id, taken.agent, version)

    async def _take_first(
        self, tx: RoutingTx, lead: LeadProfile, plan: Plan, settings: RoutingSettings, snapshot: bytes
    ) -> tuple[NewAssignment, Agent | None]:
        """In the caller's transaction: a slot of the best agent in the plan who still has one
        (guarded, so never past capacity), and the assignment to store; no agent: the pond."""
        for index, entry in enumerate(plan.order):
            taken = await tx.take_slot(entry[0].agent_id, entry[0].capacity)
            if taken is None:
                continue  # another route took its last slot since we read: next in rank
            return _offer(lead, plan, index, entry, settings, snapshot), taken
        return _pond(lead, plan), None

    async def route(
        self, lead_id: uuid.UUID, location_id: str, score: float, snapshot: ingest_pb.Lead | None
    ) -> Routed:
        """Assign the lead, or return its existing assignment. Idempotent per lead; a lead in
        the pond is tried again."""
        context = await self._repo.route_context(location_id, lead_id)
        if context.assignment_state is not None:
            if context.assignment_location != location_id:
                raise assignment_missing(lead_id)
            if context.assignment_state != POND:
                existing = await self._repo.get_assignment(lead_id)
                assert existing is not None  # assignments are never deleted
                return await self._existing(existing)
        settings = context.settings
        found = await self.lead(lead_id, location_id, snapshot)
        lead = LeadProfile.of(found, score)
        plan = await self.plan(lead, location_id, settings, frozenset(), context)
        raw = found.SerializeToString()
        if settings.first_to_claim and plan.order and not plan.fallback:
            return await self._offer(lead, plan, settings, raw, created=context.assignment_state is None)
        async with self._repo.transaction() as tx:
            version, taken, stored = 0, None, None
            for index, entry in enumerate(plan.order):
                new = _offer(lead, plan, index, entry, settings, raw)
                version, taken, stored = await tx.route_to(entry[0].agent_id, entry[0].capacity, new)
                if taken is not None:
                    break  # else another route took its last slot since we read: next in rank
            if taken is None:
                stored = await tx.store_assignment(_pond(lead, plan))
            if stored is None:
                raise _Raced  # rolls back the slot just taken
        if taken is not None:
            self._roster.took_slot(location_id, taken, version)
        return Routed(stored, taken, created=taken is not None or context.assignment_state is None)

    async def _offer(
        self, lead: LeadProfile, plan: Plan, settings: RoutingSettings, snapshot: bytes, *, created: bool
    ) -> Routed:
        async with self._repo.transaction() as tx:
            stored = await tx.store_assignment(offers.offered(lead, plan, settings, snapshot))
            if stored is None:
                raise _Raced
            await offers.publish(tx.conn, stored)
        return Routed(stored, None, created=created)

    async def _existing(self, assignment: Assignment) -> Routed:
        agent = await self._repo.get_agent(assignment.agent_id) if assignment.agent_id else None
        return Routed(assignment, agent, created=False)

    async def route_once(
        self, lead_id: uuid.UUID, location_id: str, score: float, snapshot: ingest_pb.Lead | None
    ) -> Routed:
        """route(); a concurrent route of the same lead that stored first wins, and its
        assignment is the answer (the loser's transaction, slot included, rolled back)."""
        try:
            return await self.route(lead_id, location_id, score, snapshot)
        except _Raced:
            found = await self._repo.get_assignment(lead_id)
            assert found is not None
            return await self._existing(found)

    async def get(self, lead_id: uuid.UUID, location_id: str) -> Assignment:
        found = await self._repo.get_assignment(lead_id)
        if found is None or found.location_id != location_id:
            raise assignment_missing(lead_id)
        return found


class _Raced(Exception):
    """Another RouteLead stored the lead's assignment first; raised to roll back our slot."""
