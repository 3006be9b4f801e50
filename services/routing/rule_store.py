"""SQL for routing rules."""

from __future__ import annotations

import uuid

import asyncpg

from services.routing.rules import Conditions, Rule
from shared import deadlines
from shared.db import Database
from shared.errors import NotFound
from shared.keyset import Keyset

# ListRoutingRules: evaluation order, rule_id breaking ties.
_RULE_PAGES = Keyset(key="position", key_type="integer", id="rule_id", descending=False)


def _rule(row: asyncpg.Record) -> Rule:
    return Rule(
        rule_id=row["rule_id"],
        location_id=row["location_id"],
        position=row["position"],
        name=row["name"],
        conditions=Conditions.from_json(row["conditions"]),
        target=row["target"],
        agent_id=row["agent_id"],
        team_id=row["team_id"],
        require_territory=row["require_territory"],
        require_specialty=row["require_specialty"],
        require_price=row["require_price"],
        active=row["active"],
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


class RuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert(self, rule: Rule) -> Rule | None:
        """Insert, or replace the rule with this id in the same location; None when the id
        belongs to another location, or the named agent is not one of this location's."""
        async with self._db.transaction() as conn:
            if rule.agent_id is not None:
                owner = await conn.fetchval(
                    "SELECT location_id FROM agents WHERE agent_id = $1", rule.agent_id
                )
                if owner != rule.location_id:
                    raise NotFound(
                        f"agent {rule.agent_id} does not exist in this location",
                        reason="AGENT_NOT_FOUND",
                        metadata={"agent_id": str(rule.agent_id)},
                    )
            row = await conn.fetchrow(
                "INSERT INTO routing_rules (rule_id, location_id, position, name, conditions, target,"
                " agent_id, team_id, require_territory, require_specialty, require_price, active)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                " ON CONFLICT (rule_id) DO UPDATE SET position = EXCLUDED.position, name = EXCLUDED.name,"
                " conditions = EXCLUDED.conditions, target = EXCLUDED.target, agent_id = EXCLUDED.agent_id,"
                " team_id = EXCLUDED.team_id, require_territory = EXCLUDED.require_territory,"
                " require_specialty = EXCLUDED.require_specialty, require_price = EXCLUDED.require_price,"
                " active = EXCLUDED.active, update_time = now()"
                " WHERE routing_rules.location_id = EXCLUDED.location_id RETURNING *",
                rule.rule_id,
                rule.location_id,
                rule.position,
                rule.name,
                rule.conditions.to_json(),
                rule.target,
                rule.agent_id,
                rule.team_id,
                rule.require_territory,
                rule.require_specialty,
                rule.require_price,
                rule.active,
                timeout=deadlines.timeout(2.0),
            )
        return None if row is None else _rule(row)

    async def page(self, location_id: str, after: tuple[int, str] | None, limit: int) -> list[Rule]:
        async with self._db.connection() as conn:
            rows = await _RULE_PAGES.fetch(
                conn,
                "SELECT * FROM routing_rules WHERE location_id = $1",
                [location_id],
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [_rule(r) for r in rows]

    async def active(self, location_id: str) -> list[Rule]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM routing_rules WHERE location_id = $1 AND active ORDER BY position, rule_id",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return [_rule(r) for r in rows]

    async def delete(self, location_id: str, rule_id: uuid.UUID) -> bool:
        async with self._db.transaction() as conn:
            deleted = await conn.fetchval(
                "DELETE FROM routing_rules WHERE location_id = $1 AND rule_id = $2 RETURNING rule_id",
                location_id,
                rule_id,
                timeout=deadlines.timeout(2.0),
            )
        return deleted is not None
