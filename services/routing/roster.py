"""The agents of each location: UpsertAgent, GetAgent, ListAgents, SetAgentAvailability."""

from __future__ import annotations

import uuid

from services.routing.agents import AgentFields, agent_missing
from services.routing.repository import Agent, RoutingRepository
from shared import tenancy


class Roster:
    def __init__(self, repo: RoutingRepository) -> None:
        self._repo = repo

    async def upsert(
        self, agent_id: uuid.UUID | None, fields: AgentFields, request_id: str | None
    ) -> tuple[Agent, bool]:
        """Update the named agent, else create one (or update the one with this external_user_id).
        A retried request_id returns what its first call stored. True when created."""
        async with self._repo.transaction() as tx:
            await tx.bump_roster(fields.location_id, create=True)
            if request_id:
                seen = await tx.agent_by_request(request_id)
                if seen is not None:
                    tenancy.ensure_same_key_owner(request_id, seen.location_id, fields.location_id)
                    return seen, False
            if agent_id is not None:
                updated = await tx.update_agent(agent_id, fields)
                if updated is None:
                    raise agent_missing(agent_id)
                return updated, False
            return await tx.insert_agent(fields, request_id)

    async def get(self, agent_id: uuid.UUID, location_id: str) -> Agent:
        agent = await self._repo.get_agent(agent_id)
        if agent is None or agent.location_id != location_id:
            raise agent_missing(agent_id)
        return agent

    async def page(self, location_id: str, after: tuple[str, str] | None, limit: int) -> list[Agent]:
        """Up to limit + 1 agents after `after` (name, agent_id)."""
        return await self._repo.list_agents(location_id, after, limit)

    async def set_available(self, agent_id: uuid.UUID, location_id: str, available: bool) -> Agent:
        agent = await self._repo.set_available(agent_id, location_id, available)
        if agent is None:
            raise agent_missing(agent_id)
        return agent
