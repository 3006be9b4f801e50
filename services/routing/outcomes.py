"""Recording what became of a lead (RecordOutcome); a closing outcome frees the agent's slot."""

from __future__ import annotations

import uuid
from datetime import datetime

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing.repository import Assignment, RoutingRepository
from shared import timestamps
from shared.errors import FieldViolation, InvalidArgument, NotFound

# Outcomes that close an assignment and free the agent's capacity.
CLOSING_OUTCOMES = frozenset({pb.OUTCOME_WON, pb.OUTCOME_LOST})


def require_outcome(outcome: int) -> int:
    if outcome == pb.OUTCOME_UNSPECIFIED or outcome not in pb.Outcome.values():
        raise InvalidArgument(
            "outcome is required",
            violations=[FieldViolation("outcome", "CONTACTED, APPOINTMENT, WON or LOST")],
        )
    return outcome


class OutcomeRecording:
    def __init__(self, repo: RoutingRepository) -> None:
        self._repo = repo

    async def record(
        self, lead_id: uuid.UUID, outcome: int, occurred: datetime | None, request_id: str | None
    ) -> Assignment:
        """Store the outcome (a `require_outcome` one) once per request_id; returns the lead's
        assignment afterwards. No occurred time means now."""
        occurred = occurred or timestamps.now()
        async with self._repo.transaction() as tx:
            held = await tx.hold_assignment(lead_id)
            if held is None:
                raise NotFound(
                    f"lead {lead_id} has no assignment; route it with RouteLead first",
                    reason="ASSIGNMENT_NOT_FOUND",
                    metadata={"lead_id": str(lead_id)},
                )
            added = await tx.add_outcome(lead_id, held.agent_id, outcome, occurred, request_id)
            if added and outcome in CLOSING_OUTCOMES and held.active:
                await tx.close_assignment(lead_id, held.agent_id)
        found = await self._repo.get_assignment(lead_id)
        assert found is not None
        return found
