"""Tell the agent that a lead needs a call: we may not text them (no SMS consent basis),
so automation reaches them by email at most, and a person should phone."""

from __future__ import annotations

import uuid

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.compliance import basis
from services.coordinator.compliance.gates import SMS, ContactFacts
from services.coordinator.notifications import notifier
from services.coordinator.notifications.notifier import AgentNotifier

NEEDS_CALL = "needs_call"


def call_notice(lead: ingest_pb.Lead, emailed: bool) -> tuple[str, str]:
    """(subject, body): an operational note to our own user, never lead-facing."""
    who = " ".join(p for p in (lead.first_name, lead.last_name) if p) or "A new lead"
    how = "They get email only." if emailed else "Nothing automated can reach them."
    return (
        f"{who} needs a call",
        f"{who} needs a call: {lead.phone} has no consent to texts, so we will not text them."
        f" {how} Please call them.",
    )


async def notify_if_needed(
    agents: AgentNotifier,
    lead: ingest_pb.Lead,
    agent: routing_pb.Agent,
    facts: ContactFacts,
    emailed: bool,
    step_key: str = NEEDS_CALL,
) -> None:
    """step_key: NEEDS_CALL scoped to the journey it is for (journeys/keys.py)."""
    sms_allowed = facts.allows(SMS)
    if not basis.needs_call(phone=facts.phone, sms_allowed=sms_allowed, sms_opted_out=facts.sms_opted_out):
        return
    subject, body = call_notice(lead, emailed)
    await agents.notify(
        agent_id=uuid.UUID(agent.agent_id),
        lead_id=uuid.UUID(lead.lead_id),
        step_key=step_key,
        target=notifier.agent_target(agent),
        subject=subject,
        body=body,
    )
