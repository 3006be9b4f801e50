"""Messages to agents about their leads: a lead is theirs, a lead wrote back.

Recorded like communications, with the same truthful status (SIMULATED without
provider credentials), one row per (lead, step_key) so a redelivered event never
notifies twice.
"""

from __future__ import annotations

import uuid

import grpc
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.delivery.senders import Sender, deliver
from services.coordinator.notifications.repository import NotificationRepository
from shared.clients import PeerError, RoutingClient

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
NO_AGENT_CONTACT = "agent has no phone or email on file; add one with UpsertAgent"
_SNIPPET = 160


def agent_target(agent: routing_pb.Agent) -> tuple[common_pb2.Channel.ValueType, str] | None:
    """Where to reach an agent: a text first, else email; None when neither is on file."""
    if agent.phone:
        return SMS, agent.phone
    if agent.email:
        return EMAIL, agent.email
    return None


def reply_notice(
    lead_name: str, channel: common_pb2.Channel.ValueType, body: str, opt_out_keyword: str = ""
) -> tuple[str, str]:
    """(subject, body) telling an agent their lead wrote back. Written here, not by
    content: it is an operational note to our own user, never lead-facing."""
    who = lead_name.strip() or "A lead"
    if opt_out_keyword:
        return (
            f"{who} opted out of texts",
            f"{who} texted {opt_out_keyword} and is opted out of texts. Automated messages to them"
            " have stopped; do not text them.",
        )
    words = " ".join(body.split())
    snippet = words if len(words) <= _SNIPPET else words[: _SNIPPET - 1] + "…"
    how = "text" if channel == SMS else "email"
    return (
        f"{who} replied",
        f'{who} replied by {how}: "{snippet}". Automated messages to them have stopped;'
        " please follow up yourself.",
    )


class AgentNotifier:
    def __init__(self, repo: NotificationRepository, sender: Sender) -> None:
        self._repo = repo
        self._sender = sender

    async def notify(
        self,
        *,
        agent_id: uuid.UUID,
        lead_id: uuid.UUID,
        step_key: str,
        target: tuple[common_pb2.Channel.ValueType, str] | None,
        subject: str = "",
        body: str = "",
        refused: str = "",
    ) -> None:
        """Record the notification and deliver it, or record why it could not be written
        (refused) or addressed (no target)."""
        if target is None:
            await self._repo.add_notification(
                agent_id=agent_id,
                lead_id=lead_id,
                step_key=step_key,
                channel=common_pb2.CHANNEL_UNSPECIFIED,
                status=pb.COMMUNICATION_STATUS_BLOCKED,
                status_reason=NO_AGENT_CONTACT,
                body="",
                address="",
            )
            return
        channel, address = target
        note, created = await self._repo.add_notification(
            agent_id=agent_id,
            lead_id=lead_id,
            step_key=step_key,
            channel=channel,
            status=pb.COMMUNICATION_STATUS_BLOCKED if refused else pb.COMMUNICATION_STATUS_QUEUED,
            status_reason=refused,
            body=body,
            address=address,
        )
        # A row still QUEUED means an earlier attempt died before recording the outcome:
        # an agent is better served by a possible repeat than by silence.
        if not refused and (created or note.status == pb.COMMUNICATION_STATUS_QUEUED):
            result = await deliver(self._sender, channel, address, subject, body)
            await self._repo.finish_notification(note.notification_id, result.status, result.reason)


async def current_agent(
    routing: RoutingClient, lead_id: uuid.UUID, location_id: str, journey_agent: uuid.UUID
) -> routing_pb.Agent:
    """Who holds the lead now: routing may have moved it since the journey started (an SLA
    sweep, a decline), and a reply belongs to the agent working it. The journey's agent when
    the assignment names none (the pond)."""
    assignment = await routing.get_assignment(lead_id, location_id=location_id)
    holder = (
        uuid.UUID(assignment.agent_id) if assignment is not None and assignment.agent_id else journey_agent
    )
    return await known_agent(routing, holder, location_id)


async def known_agent(routing: RoutingClient, agent_id: uuid.UUID, location_id: str) -> routing_pb.Agent:
    """The agent a journey names. Routing not knowing an agent it assigned is a fault,
    answered as any failed dependency is (the event is redelivered), not a gate."""
    agent = await routing.get_agent(agent_id, location_id=location_id)
    if agent is None:
        raise PeerError(
            "routing", "GetAgent", grpc.StatusCode.NOT_FOUND, "", f"routing does not know agent {agent_id}"
        )
    return agent
