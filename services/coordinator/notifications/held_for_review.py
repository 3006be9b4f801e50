"""Tell the agent that a lead's texts are held for review: we cannot tell the lead's
local time, so no automated text goes out until a person fixes the lead's time zone,
state or number (compliance.md §3.5). Email still goes."""

from __future__ import annotations

import uuid

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.delivery.repository import Communication
from services.coordinator.notifications import notifier
from services.coordinator.notifications.notifier import AgentNotifier

HELD_FOR_REVIEW = "held_for_review"


def is_held(message: Communication) -> bool:
    return message.status == pb.COMMUNICATION_STATUS_SCHEDULED and message.scheduled_time is None


def held_text(name: str, address: str, reason: str, *, texts: bool = True) -> tuple[str, str]:
    """(subject, body): an operational note to our own user, never lead-facing."""
    who = name.strip() or "A new lead"
    what = "Texts" if texts else "Emails"
    return (
        f"{what} to {who} held for review",
        f"{what} to {who} ({address}) are held: {reason}. Set the lead's time zone or state"
        " in the CRM and they go out in the lead's sending window.",
    )


def held_notice(lead: ingest_pb.Lead, reason: str) -> tuple[str, str]:
    return held_text(" ".join(p for p in (lead.first_name, lead.last_name) if p), lead.phone, reason)


async def notify_if_held(
    agents: AgentNotifier,
    lead: ingest_pb.Lead,
    agent: routing_pb.Agent,
    touch: Communication,
    step_key: str = HELD_FOR_REVIEW,
) -> None:
    """step_key: HELD_FOR_REVIEW scoped to the journey it is for (journeys/keys.py)."""
    if not is_held(touch):
        return
    subject, body = held_notice(lead, touch.status_reason)
    await agents.notify(
        agent_id=uuid.UUID(agent.agent_id),
        lead_id=uuid.UUID(lead.lead_id),
        step_key=step_key,
        target=notifier.agent_target(agent),
        subject=subject,
        body=body,
    )
