"""Recording what became of a lead (RecordOutcome), the single entry for outcomes.

In one transaction: the outcome is stored once per request_id; WON or LOST closes the open
assignment and frees the agent's slot; the routing-time prediction is scored and the success
model takes one learning step; and an outbox row per subscriber is written, so the coordinator
(and whoever else subscribes, see relay.py) hears of it at least once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing import outcome_outbox
from services.routing.assigning import assignment_missing
from services.routing.location_store import learn_outcome
from services.routing.outcome_outbox import OutcomeEvent
from services.routing.relay import SUBSCRIBERS
from services.routing.repository import Assignment, RoutingRepository
from shared import tenancy, timestamps
from shared.errors import FieldViolation, InvalidArgument

# Outcomes that close an assignment and free the agent's capacity.
CLOSING_OUTCOMES = frozenset({pb.OUTCOME_WON, pb.OUTCOME_LOST})
# History imports and clock skew: outcomes this old are still accepted.
MAX_AGE = timedelta(days=90)
MAX_AHEAD = timedelta(minutes=5)
_NAMES: dict[int, str] = {pb.OUTCOME_WON: "won", pb.OUTCOME_LOST: "lost"}


def require_outcome(outcome: int) -> int:
    if outcome == pb.OUTCOME_UNSPECIFIED or outcome not in pb.Outcome.values():
        raise InvalidArgument(
            "outcome is required",
            violations=[FieldViolation("outcome", "CONTACTED, APPOINTMENT, WON or LOST")],
        )
    return outcome


def check_occurred(occurred: datetime | None, now: datetime) -> datetime:
    """Unset means now; up to 90 days back (even before the assignment), never the future."""
    if occurred is None:
        return now
    if occurred < now - MAX_AGE or occurred > now + MAX_AHEAD:
        raise InvalidArgument(
            "occurred_time must be within the last 90 days and not in the future",
            reason="OCCURRED_TIME_OUT_OF_RANGE",
            violations=[FieldViolation("occurred_time", "at most 90 days ago, not in the future")],
        )
    return occurred


class OutcomeRecording:
    def __init__(self, repo: RoutingRepository, written: asyncio.Event | None = None) -> None:
        self._repo = repo
        self._written = written or asyncio.Event()

    async def record(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        outcome: int,
        occurred: datetime | None,
        request_id: str | None,
    ) -> Assignment:
        """Store the outcome (a `require_outcome` one) once per request_id; returns the lead's
        assignment afterwards."""
        occurred = check_occurred(occurred, timestamps.now())
        async with self._repo.transaction() as tx:
            await tx.bump_roster(location_id)
            held = await tx.find_assignment(lead_id, lock=True)
            if held is None or held.location_id != location_id:
                raise assignment_missing(lead_id)
            outcome_id = await tx.add_outcome(lead_id, held.agent_id, outcome, occurred, request_id)
            if outcome_id is None and request_id:
                # The key is stored once for every location; its outcome names a lead, and a
                # lead lives in one location: another lead's key is another caller's.
                keyed_lead = await tx.outcome_lead(request_id)
                if keyed_lead != lead_id:
                    raise tenancy.key_reused(request_id, location_id)
            if outcome_id is not None:
                if outcome in CLOSING_OUTCOMES:
                    await tx.close(lead_id, f"outcome {_NAMES[outcome]}")
                    await learn_outcome(
                        tx.conn,
                        location_id,
                        lead_id,
                        list(held.features),
                        held.predicted_success,
                        outcome == pb.OUTCOME_WON,
                        occurred,
                    )
                await outcome_outbox.publish(
                    tx.conn,
                    OutcomeEvent(outcome_id, lead_id, location_id, held.agent_id, outcome, occurred),
                    SUBSCRIBERS,
                )
        if outcome_id is not None:
            self._written.set()
        found = await self._repo.get_assignment(lead_id)
        assert found is not None
        return found
