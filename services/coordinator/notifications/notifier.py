"""Messages to agents about their leads: a lead is theirs, a lead wrote back, a lead moved.

One row per (lead, step_key), so a redelivered event never notifies twice. The row is
created pending and claimed by its creator, which hands it to the provider exactly once
(notifications/delivery.py); SIMULATED without provider credentials.

Where it goes is the agent's choice (routing's Agent.notify_channel; by default a text
when a phone is on file, else email). An agent who texted STOP to a notification gets
no more texts: they get email instead when an address is on file, else nothing, and
the row says why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.delivery.senders import NO_CREDENTIALS
from services.coordinator.notifications.delivery import NotificationDelivery, opted_out_reason
from services.coordinator.notifications.repository import NotificationRepository
from shared.clients import PeerError, RoutingClient

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
NO_AGENT_CONTACT = "agent has no phone or email on file; add one with UpsertAgent"
TURNED_OFF = "agent turned notifications off (notify_channel NONE)"
_SNIPPET = 160


@dataclass(frozen=True)
class AgentTarget:
    """Where an agent's notifications go, as the agent chose."""

    channel: common_pb2.Channel.ValueType
    address: str
    # Where a notification goes instead when the agent opted out of texts; "" for nowhere.
    fallback_email: str = ""
    # Set when the agent wants none: why nothing goes.
    blocked: str = ""


def agent_target(agent: routing_pb.Agent) -> AgentTarget | None:
    """The agent's preferred channel and address; None when neither phone nor email is on file."""
    choice = agent.notify_channel
    if choice == routing_pb.AGENT_NOTIFY_CHANNEL_NONE:
        return AgentTarget(common_pb2.CHANNEL_UNSPECIFIED, "", blocked=TURNED_OFF)
    if choice == routing_pb.AGENT_NOTIFY_CHANNEL_EMAIL and agent.email:
        return AgentTarget(EMAIL, agent.email)
    if agent.phone and choice != routing_pb.AGENT_NOTIFY_CHANNEL_EMAIL:
        return AgentTarget(SMS, agent.phone, fallback_email=agent.email)
    if agent.email:
        return AgentTarget(EMAIL, agent.email)
    if agent.phone:
        return AgentTarget(SMS, agent.phone)
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
    def __init__(self, repo: NotificationRepository, delivery: NotificationDelivery) -> None:
        self._repo = repo
        self._delivery = delivery

    async def already(self, lead_id: uuid.UUID, step_key: str) -> bool:
        """Whether the lead's agent was told this already (a notify would change nothing)."""
        return await self._repo.has_notification(lead_id, step_key)

    async def notify(
        self,
        *,
        agent_id: uuid.UUID,
        lead_id: uuid.UUID,
        step_key: str,
        target: AgentTarget | None,
        subject: str = "",
        body: str = "",
        refused: str = "",
        template_reason: str = "",
    ) -> None:
        """Record the notification and deliver it, or record why it could not be written
        (refused), addressed (no target) or sent (the agent turned it off or opted out)."""
        blocked = NO_AGENT_CONTACT if target is None else target.blocked or refused
        channel = common_pb2.CHANNEL_UNSPECIFIED if target is None else target.channel
        address = "" if target is None or target.blocked else target.address
        channel_reason = ""
        if target is not None and not blocked and channel == SMS:
            opt_out = await self._delivery.attempts.sms_opt_out(address)
            if opt_out and target.fallback_email:
                channel, address = EMAIL, target.fallback_email
                channel_reason = f"by email: {opted_out_reason(opt_out)}"
            elif opt_out:
                blocked = f"{opted_out_reason(opt_out)}, and has no email on file"
        if not blocked and self._delivery.provider_for(channel) is None:
            # Nothing could send it: recorded settled at once, never pending.
            await self._repo.add_notification(
                agent_id=agent_id,
                lead_id=lead_id,
                step_key=step_key,
                channel=channel,
                status=pb.COMMUNICATION_STATUS_SIMULATED,
                status_reason=NO_CREDENTIALS,
                body=body,
                address=address,
                subject=subject,
                template_reason=template_reason,
                channel_reason=channel_reason,
            )
            return
        if blocked:
            await self._repo.add_notification(
                agent_id=agent_id,
                lead_id=lead_id,
                step_key=step_key,
                channel=channel,
                status=pb.COMMUNICATION_STATUS_BLOCKED,
                status_reason=blocked,
                body=body,
                address=address,
                subject=subject,
                template_reason=template_reason,
            )
            return
        note, created = await self._repo.add_notification(
            agent_id=agent_id,
            lead_id=lead_id,
            step_key=step_key,
            channel=channel,
            status=pb.COMMUNICATION_STATUS_SCHEDULED,
            status_reason="",
            body=body,
            address=address,
            subject=subject,
            template_reason=template_reason,
            channel_reason=channel_reason,
            claim_token=uuid.uuid4(),
            claim_until=self._delivery.claim_until(),
        )
        # Not created: a redelivered event. Its creator sent it, or the sweeper will once
        # the creator's claim lapses; sending here could send it twice.
        if created:
            await self._delivery.send(note)


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
