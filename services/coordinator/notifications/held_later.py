"""Holds for review after the first touch: a cadence step or a trigger touch the gates hold
(the lead's local time cannot be told) tells the lead's agent, as the first touch's hold
does. Once per lead: every notice has the first touch's step key, and notifications are
unique per (lead, step key), so the agent hears of the first hold, whichever message it
was, and a cadence whose every step is held does not notify again at each step."""

from __future__ import annotations

import uuid

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb

from services.coordinator.delivery.repository import Communication
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.repository import Journey
from services.coordinator.notifications import notifier
from services.coordinator.notifications.held_for_review import HELD_FOR_REVIEW, held_text
from services.coordinator.notifications.notifier import AgentNotifier
from shared.clients import RoutingClient


class HeldNotices:
    def __init__(self, notes: AgentNotifier, routing: RoutingClient, cadences: CadenceRepository) -> None:
        self._notes = notes
        self._routing = routing
        self._cadences = cadences

    async def held(self, journey: Journey, message: Communication, reason: str) -> None:
        """`message` was just held for review with `reason`: tell whoever holds the lead now."""
        if journey.agent_id is None:
            return  # the pond: nobody to tell (the first touch's hold is the same)
        if await self._notes.already(journey.lead_id, HELD_FOR_REVIEW):
            return  # told once already: spare routing the lookups
        agent = await notifier.current_agent(
            self._routing, journey.lead_id, journey.location_id, journey.agent_id
        )
        raw = await self._cadences.message_context(journey.journey_id)
        context = content_pb.MessageContext.FromString(raw) if raw else content_pb.MessageContext()
        subject, body = held_text(
            context.lead_full_name or context.lead_first_name,
            message.address,
            reason,
            texts=message.channel == common_pb2.CHANNEL_SMS,
        )
        await self._notes.notify(
            agent_id=uuid.UUID(agent.agent_id),
            lead_id=journey.lead_id,
            step_key=HELD_FOR_REVIEW,
            target=notifier.agent_target(agent),
            subject=subject,
            body=body,
        )
