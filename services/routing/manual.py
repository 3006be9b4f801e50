"""ReassignLead: an operator moves a lead to a named agent.

The lead may be open (accepted or not), offered (first-to-claim) or in the pond; a closed lead
stays closed. The named agent's slot is taken with the guarded update RouteLead uses, so an
unavailable or full agent is refused and nothing changes; the previous holder's slot is given
back in the same transaction. The new agent has the location's acceptance SLA, as after any
move, and the move reaches the coordinator through the outbox as an SLA move does (the new
agent is notified, the journey names them, the timeline says why).
"""

from __future__ import annotations

import uuid

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.routing import matching, outcome_outbox
from services.routing.agents import agent_missing
from services.routing.assigning import Assigning, assignment_missing, profile
from services.routing.claiming import REASSIGNMENT_SUBSCRIBERS
from services.routing.location_store import LocationStore
from services.routing.matching import LeadProfile
from services.routing.outcome_outbox import OutcomeEvent
from services.routing.repository import CLOSED, OPEN, Assignment, RoutingRepository
from shared import timestamps
from shared.errors import FailedPrecondition


class ManualReassignment:
    def __init__(self, repo: RoutingRepository, store: LocationStore, assigning: Assigning) -> None:
        self._repo = repo
        self._store = store
        self._assigning = assigning

    async def reassign(
        self, lead_id: uuid.UUID, location_id: str, agent_id: uuid.UUID, reason: str
    ) -> Assignment:
        held = await self._repo.get_assignment(lead_id)
        if held is None or held.location_id != location_id:
            raise assignment_missing(lead_id)
        agent = await self._repo.get_agent(agent_id)
        if agent is None or agent.location_id != location_id:
            raise agent_missing(agent_id)
        if held.state == OPEN and held.agent_id == agent_id:
            return held  # asked again: it is theirs already
        if held.state == CLOSED:
            raise FailedPrecondition(
                f"lead {lead_id}'s assignment is closed ({held.end_reason}); route the lead again instead",
                reason="ASSIGNMENT_CLOSED",
                metadata={"lead_id": str(lead_id)},
            )
        settings = await self._store.settings(location_id)
        me = profile(agent, self._assigning.default_capacity)
        snapshot = ingest_pb.Lead.FromString(held.lead_snapshot or b"")
        features: list[str] = []
        predicted = 0.0
        if snapshot.lead_id:
            lead = LeadProfile.of(snapshot, held.score)
            features = matching.lead_features(lead) + matching.pair_features(lead, me)
            predicted = (await self._assigning.model(location_id)).predict(features)
        why = f"reassigned to {agent.name} by an operator: {reason}"
        async with self._repo.transaction() as tx:
            await tx.bump_roster(location_id)
            if await tx.take_slot(agent_id, me.capacity) is None:
                raise FailedPrecondition(
                    f"agent {agent.name} cannot take lead {lead_id}: unavailable, or at capacity"
                    f" ({agent.active_lead_count} of {me.capacity} open leads)",
                    reason="AGENT_AT_CAPACITY",
                    metadata={"lead_id": str(lead_id), "agent_id": str(agent_id)},
                )
            moved = await tx.reassign(held, agent_id, [why], predicted, features, settings.accept_sla_seconds)
            if not moved:  # rolls back the slot just taken
                raise FailedPrecondition(
                    f"lead {lead_id}'s assignment changed while it was being reassigned; read it and retry",
                    reason="ASSIGNMENT_CHANGED",
                    metadata={"lead_id": str(lead_id)},
                )
            await outcome_outbox.publish(
                tx.conn,
                OutcomeEvent(
                    uuid.uuid4(),
                    lead_id,
                    location_id,
                    agent_id,
                    0,
                    timestamps.now(),
                    previous_agent_id=held.agent_id,
                    move_reason=why,
                ),
                REASSIGNMENT_SUBSCRIBERS,
            )
        found = await self._repo.get_assignment(lead_id)
        assert found is not None
        return found
