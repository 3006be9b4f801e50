"""Who holds a journey's lead after routing moved it (HandleOutcome with a reassignment: an SLA
sweep or a decline): the journey names the new agent (or none, with the reason, when the lead
went to the pond) and the timeline says "reassigned from X to Y (reason)".

Once per move: the timeline entry's dedupe key is routing's event id, and the journey changes
only in the transaction that logged it, so a redelivered relay changes nothing. Moves can
arrive out of order (the relay retries a failed row while later ones go through), so a move
older than one already applied leaves the journey's agent alone; its timeline entry still
lands at the move's own time."""

from __future__ import annotations

import uuid
from datetime import datetime

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.timeline import entries
from shared import deadlines, inputs, timestamps
from shared.clients import RoutingClient
from shared.db import Database

POND_REASON = "routing moved the lead to the pond"


class JourneyHolder:
    def __init__(self, db: Database, routing: RoutingClient) -> None:
        self._db = db
        self._routing = routing

    async def _name(self, agent_id: uuid.UUID | None, location_id: str) -> str:
        if agent_id is None:
            return ""
        agent = await self._routing.get_agent(agent_id, location_id=location_id)
        return agent.name if agent is not None else ""

    async def moved(self, request: pb.HandleOutcomeRequest, lead_id: uuid.UUID, location_id: str) -> bool:
        """Apply routing's move to the lead's journey; False when this move was already applied.
        Agent names are looked up before the transaction (never await a peer inside one)."""
        move = request.reassignment
        # Checked before anything is written: a malformed relay changes nothing.
        # Empty when the lead leaves an offer to several agents (first-to-claim).
        previous = (
            inputs.parse_uuid(move.previous_agent_id, "reassignment.previous_agent_id", what="agent id")
            if move.previous_agent_id
            else None
        )
        new = inputs.parse_uuid(request.agent_id, "agent_id", what="agent id") if request.agent_id else None
        details = {
            "event_id": request.event_id,
            "from_agent_id": str(previous or ""),
            "from_agent_name": await self._name(previous, location_id),
            "to_agent_id": str(new or ""),
            "to_agent_name": await self._name(new, location_id),
            "reason": move.reason,
            "missed_deadline": move.missed_deadline,
        }
        at: datetime = (
            timestamps.from_proto(request.occurred_time) if request.HasField("occurred_time") else None
        ) or timestamps.now()
        async with self._db.transaction() as conn:
            logged = await conn.fetchval(
                "INSERT INTO decisions (lead_id, kind, details, dedupe_key, occur_time)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (lead_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING"
                " RETURNING entry_id",
                lead_id,
                entries.REASSIGNED,
                details,
                f"reassigned:{request.event_id}",
                at,
                timeout=deadlines.timeout(2.0),
            )
            if logged is None:
                return False
            await conn.execute(
                "UPDATE journeys SET agent_id = $3, agent_reason = $4, update_time = now()"
                " WHERE lead_id = $1 AND location_id = $2 AND current"
                " AND NOT EXISTS (SELECT 1 FROM decisions d"
                " WHERE d.lead_id = $1 AND d.kind = $5 AND d.occur_time > $6)",
                lead_id,
                location_id,
                new,
                "" if new else (f"{POND_REASON}: {move.reason}" if move.reason else POND_REASON),
                entries.REASSIGNED,
                at,
                timeout=deadlines.timeout(2.0),
            )
        return True
