"""What RouteLead reads before deciding, in one statement on one connection.

A route needs the lead's existing assignment (idempotency), the location's settings, and the
versions of its roster and success model (both cached in memory, re-read only when they moved),
and whether the location has any active rule. Read separately that was five pool acquisitions,
each a query and a reset round trip; together it is one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.routing.location_store import settings_of
from services.routing.settings import RoutingSettings
from shared import deadlines
from shared.db import Database

_CONTEXT = (
    "SELECT r.version AS roster_version, m.version AS model_version, s.*,"
    " a.state AS assignment_state, a.location_id AS assignment_location,"
    " EXISTS (SELECT 1 FROM routing_rules WHERE location_id = $1 AND active) AS has_rules"
    " FROM (SELECT $1::text AS location_id) l"
    " LEFT JOIN rosters r ON r.location_id = l.location_id"
    " LEFT JOIN routing_settings s ON s.location_id = l.location_id"
    " LEFT JOIN LATERAL (SELECT max(version) AS version FROM success_models"
    " WHERE location_id = l.location_id) m ON true"
    " LEFT JOIN assignments a ON a.lead_id = $2"
)


@dataclass(frozen=True)
class RouteContext:
    roster_version: int  # 0: the location has no agents yet
    model_version: int  # 0: no outcome learned yet (the prior)
    settings: RoutingSettings
    has_rules: bool
    # The lead's assignment, when it has one: its state and location.
    assignment_state: int | None
    assignment_location: str | None


async def read(db: Database, location_id: str, lead_id: uuid.UUID) -> RouteContext:
    async with db.connection() as conn:
        row = await conn.fetchrow(_CONTEXT, location_id, lead_id, timeout=deadlines.timeout(2.0))
    return RouteContext(
        roster_version=int(row["roster_version"] or 0),
        model_version=int(row["model_version"] or 0),
        settings=RoutingSettings() if row["inactivity_days"] is None else settings_of(row),
        has_rules=bool(row["has_rules"]),
        assignment_state=row["assignment_state"],
        assignment_location=row["assignment_location"],
    )
