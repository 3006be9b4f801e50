"""Telling agents that routing moved a lead (HandleOutcome with a reassignment): the agent
who let the acceptance deadline pass hears that they lost it (SLA breach), and the agent
who now holds it hears that it is theirs. One notification each per move: the step keys
carry routing's event id, which a redelivery repeats."""

from __future__ import annotations

import logging
import uuid

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.notifications import notifier, templates
from services.coordinator.notifications.notifier import AgentNotifier
from shared import inputs, timestamps
from shared.clients import IngestClient, RoutingClient

log = logging.getLogger(__name__)

SLA_BREACH = "sla_breach:"
REASSIGNED = "reassigned:"
OFFERED = "offered:"


class AgentMoves:
    def __init__(self, notes: AgentNotifier, routing: RoutingClient, ingest: IngestClient) -> None:
        self._notes = notes
        self._routing = routing
        self._ingest = ingest

    async def handle(self, request: pb.HandleOutcomeRequest, lead_id: uuid.UUID, location_id: str) -> None:
        move = request.reassignment
        lead = await self._ingest.get_lead(lead_id, location_id)
        new_agent = (
            await notifier.known_agent(self._routing, uuid.UUID(request.agent_id), location_id)
            if request.agent_id
            else None
        )
        if move.missed_deadline and move.previous_agent_id:
            previous = await self._routing.get_agent(
                uuid.UUID(move.previous_agent_id), location_id=location_id
            )
            if previous is None:
                log.warning(
                    "agent who missed the deadline is gone", extra={"agent_id": move.previous_agent_id}
                )
            else:
                subject, body = templates.missed_deadline(lead, new_agent.name if new_agent else "")
                await self._notes.notify(
                    agent_id=uuid.UUID(previous.agent_id),
                    lead_id=lead_id,
                    step_key=f"{SLA_BREACH}{request.event_id}",
                    target=notifier.agent_target(previous),
                    subject=subject,
                    body=body,
                )
        if new_agent is not None:
            subject, body = templates.reassigned_to_you(lead, move.reason)
            await self._notes.notify(
                agent_id=uuid.UUID(new_agent.agent_id),
                lead_id=lead_id,
                step_key=f"{REASSIGNED}{request.event_id}",
                target=notifier.agent_target(new_agent),
                subject=subject,
                body=body,
            )

    async def offered(self, request: pb.HandleOutcomeRequest, lead_id: uuid.UUID, location_id: str) -> None:
        """Routing offered the lead to request.agent_id among several (first-to-claim): that
        agent hears of it once (the step key carries routing's event id)."""
        agent_id = inputs.parse_uuid(request.agent_id, "agent_id", what="agent id")
        lead = await self._ingest.get_lead(lead_id, location_id)
        agent = await notifier.known_agent(self._routing, agent_id, location_id)
        deadline = timestamps.from_proto(request.offer.accept_by_time)
        subject, body = templates.offered_to_you(
            lead, request.offer.group_size, deadline.strftime("%H:%M UTC") if deadline else ""
        )
        await self._notes.notify(
            agent_id=agent_id,
            lead_id=lead_id,
            step_key=f"{OFFERED}{request.event_id}",
            target=notifier.agent_target(agent),
            subject=subject,
            body=body,
        )
