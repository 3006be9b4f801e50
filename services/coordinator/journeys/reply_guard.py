"""A returning inquiry right after a reply goes to the agent, not to automation.

A lead whose journey stopped "lead replied" may be mid-conversation with their agent; a form
they submit then must not start an automated journey and a first touch on top of that
conversation. So while the lead's last inbound message (the coordinator's communications,
direction INBOUND) is newer than COORDINATOR_INQUIRY_AFTER_REPLY_HOURS (0: no guard), the
inquiry starts no journey and the agent who holds the lead is told instead, once per event.

Only a journey that names an agent is held: a lead nobody holds has nobody mid-conversation,
and the new journey routes it (the routed agent gets the usual assignment notice). A journey
that COMPLETED (the lead never replied) is never held.
"""

from __future__ import annotations

import uuid

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.journeys import recovery
from services.coordinator.journeys.repository import Journey
from services.coordinator.notifications import notifier
from services.coordinator.notifications.notifier import AgentNotifier
from shared.clients import RoutingClient

DEFAULT_HOURS = 72.0
INQUIRY_AFTER_REPLY = "inquiry_after_reply"


def step_key(event_id: str) -> str:
    """One notification per inquiry event: a redelivery finds it and sends nothing more."""
    return f"{INQUIRY_AFTER_REPLY}:{event_id}"


def sql_held(alias: str, since: str, key: str) -> str:
    """Journeys row `alias` holds its lead's inquiry for the agent: it stopped "lead replied",
    names an agent, and the lead wrote at or after `since` (NULL: the guard is off), or this
    event was held already (`key`, its notification's step key: the decision stays made)."""
    return (
        f"({alias}.stop_reason = '{recovery.LEAD_REPLIED}' AND {alias}.agent_id IS NOT NULL"
        f" AND ({recovery.sql_replied_since(alias, since)}"
        f" OR EXISTS (SELECT 1 FROM notifications hn WHERE hn.lead_id = {alias}.lead_id"
        f" AND hn.step_key = {key}::text)))"
    )


def inquiry_notice(lead: ingest_pb.Lead) -> tuple[str, str]:
    """(subject, body): an operational note to our own user, never lead-facing."""
    who = " ".join(p for p in (lead.first_name, lead.last_name) if p) or "A lead"
    ways = [w for w in (lead.phone, lead.email) if w]
    reach = f" Reach them at {' or '.join(ways)}." if ways else ""
    return (
        f"{who} sent a new inquiry",
        f"{who} submitted a new inquiry after replying to us recently. No automated message was"
        f" sent, so you can carry on the conversation.{reach} Please follow up yourself.",
    )


async def tell_agent(
    agents: AgentNotifier, routing: RoutingClient, journey: Journey, lead: ingest_pb.Lead, event_id: str
) -> None:
    """The agent who holds the lead now (routing may have moved it since) hears of the inquiry."""
    assert journey.agent_id is not None  # sql_held holds only journeys that name an agent
    agent = await notifier.current_agent(routing, journey.lead_id, journey.location_id, journey.agent_id)
    subject, body = inquiry_notice(lead)
    await agents.notify(
        agent_id=uuid.UUID(agent.agent_id),
        lead_id=journey.lead_id,
        step_key=step_key(event_id),
        target=notifier.agent_target(agent),
        subject=subject,
        body=body,
    )
