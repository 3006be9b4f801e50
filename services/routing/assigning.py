"""Giving a lead to an agent (RouteLead) and reading who holds it (GetAssignment).

The choice itself is `selection.choose`, pure; this module reads the location's agents
locked, lets it choose, and stores the assignment in that same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.routing import selection
from services.routing.repository import Agent, AgentLoad, Assignment, RoutingRepository
from shared.errors import NotFound


@dataclass(frozen=True)
class Routed:
    assignment: Assignment
    agent: Agent  # as GetAgent shows it once the assignment is stored
    created: bool  # False: the lead already had this assignment


def candidate(agent: AgentLoad, default_capacity: int) -> selection.Candidate:
    return selection.Candidate(
        agent_id=str(agent.agent_id),
        name=agent.name,
        available=agent.available,
        capacity=agent.capacity or default_capacity,
        active=agent.active_lead_count,
        last_assign_time=agent.last_assign_time,
    )


class Assigning:
    def __init__(self, repo: RoutingRepository, *, default_capacity: int) -> None:
        self._repo = repo
        self._default_capacity = default_capacity

    async def route(self, lead_id: uuid.UUID, location_id: str) -> Routed:
        """Assign the lead, or return its existing assignment. Idempotent per lead."""
        async with self._repo.transaction() as tx:
            existing = await tx.find_assignment(lead_id)
            if existing is not None:
                return Routed(existing, await tx.agent(existing.agent_id), created=False)
            agents = await tx.lock_agents(location_id)
            decision = selection.choose(
                [candidate(a, self._default_capacity) for a in agents], location_id=location_id
            )
            agent_id = uuid.UUID(decision.agent.agent_id)
            stored = await tx.insert_assignment(
                lead_id, location_id, agent_id, decision.agent.name, decision.reasons
            )
            if stored is None:  # a concurrent RouteLead for the same lead won
                raced = await tx.find_assignment(lead_id)
                assert raced is not None
                return Routed(raced, await tx.agent(raced.agent_id), created=False)
            return Routed(stored, await tx.take_slot(agent_id), created=True)

    async def get(self, lead_id: uuid.UUID) -> Assignment:
        found = await self._repo.get_assignment(lead_id)
        if found is None:
            raise NotFound(
                f"lead {lead_id} has not been routed",
                reason="ASSIGNMENT_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return found
