"""How an open assignment ends without an outcome: the lead is deleted, opts out of every
channel, or goes quiet for the location's inactivity_days. Each frees the agent's slot.

Deletions and opt-outs arrive as ReleaseAssignment calls and activity as RecordLeadActivity
calls from the coordinator, which hears of them on ingest's event stream; routing reads no other
service's tables. The inactivity sweep runs in every routing replica: closing is a guarded
update, so two replicas closing one assignment free its slot once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing.assigning import assignment_missing
from services.routing.repository import Assignment, RoutingRepository
from shared import timestamps
from shared.errors import FieldViolation, InvalidArgument

log = logging.getLogger(__name__)

RELEASE_REASONS = {
    pb.RELEASE_REASON_OPTED_OUT: "the lead opted out of every channel",
    pb.RELEASE_REASON_DELETED: "the lead was deleted",
}


def release_reason(raw: int) -> str:
    why = RELEASE_REASONS.get(raw)  # type: ignore[call-overload]
    if why is None:
        raise InvalidArgument(
            "reason is required",
            reason="MISSING_FIELD",
            violations=[FieldViolation("reason", "RELEASE_REASON_OPTED_OUT or RELEASE_REASON_DELETED")],
        )
    return str(why)


class Lifecycle:
    def __init__(self, repo: RoutingRepository, *, default_inactivity_days: int, sweep_s: float) -> None:
        self._repo = repo
        self._default_days = default_inactivity_days
        self._sweep_s = sweep_s

    async def release(self, lead_id: uuid.UUID, location_id: str, why: str) -> Assignment:
        async with self._repo.transaction() as tx:
            await tx.bump_roster(location_id)
            held = await tx.find_assignment(lead_id, lock=True)
            if held is None or held.location_id != location_id:
                raise assignment_missing(lead_id)
            closed = await tx.close(lead_id, why)
        return closed or held

    async def touch(self, lead_id: uuid.UUID, location_id: str, at: datetime | None) -> Assignment:
        found = await self._repo.touch(lead_id, location_id, at or timestamps.now())
        if found is None:
            raise assignment_missing(lead_id)
        return found

    async def sweep_once(self, limit: int = 500) -> int:
        """Close up to `limit` assignments idle past their location's inactivity_days."""
        closed = 0
        for lead_id, location_id, days in await self._repo.idle_assignments(self._default_days, limit):
            async with self._repo.transaction() as tx:
                await tx.bump_roster(location_id)
                if await tx.close(lead_id, f"no lead activity for {days} days", idle_days=days):
                    closed += 1
        if closed:
            log.info("closed idle assignments", extra={"closed": closed})
        return closed

    async def run(self) -> None:
        while True:
            while await self.sweep_once() == 500:
                pass
            await asyncio.sleep(self._sweep_s)
