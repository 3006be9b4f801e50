"""First-to-claim: a lead offered to several agents at once, the first to accept gets it.

A location turns it on with `RoutingSettings.claim_group_size` (2..10). RouteLead then ranks
as always and offers the lead to the best `claim_group_size` eligible agents together: the
assignment is OFFERED, names no agent and holds no slot; each agent hears of the offer through
the outcome outbox and the coordinator (HandleOutcome with `offer`), as agents hear of SLA
moves. Working hours do not hold an agent back from an offer (an agent off the clock may still
grab a lead; nobody is made to), but availability, capacity, language and rules do.

The first AcceptAssignment takes the claimer's slot (guarded, as RouteLead's) and turns the
offer into the claimer's open, accepted assignment in one transaction; a later accept by another
agent of the group is FAILED_PRECONDITION LEAD_ALREADY_CLAIMED, since the offer is closed.
Nobody claims before accept_by_time: the acceptance sweep moves it on, as for one agent: the
next group (the agents offered before are passed), a team lead when nobody else is eligible,
the pond after max_reassignments moves.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from services.routing import outcome_outbox, selection
from services.routing.matching import LeadProfile
from services.routing.outcome_outbox import OutcomeEvent
from services.routing.repository import Assignment, NewAssignment
from services.routing.settings import RoutingSettings
from shared import timestamps
from shared.db import Conn

if TYPE_CHECKING:
    from services.routing.assigning import Plan

# Only the coordinator (which notifies agents) hears of offers.
OFFER_SUBSCRIBERS = ("coordinator",)


def offered(
    lead: LeadProfile, plan: Plan, settings: RoutingSettings, snapshot: bytes | None
) -> NewAssignment:
    """The lead offered to the plan's best claim_group_size agents (the plan is not empty)."""
    group = plan.order[: settings.claim_group_size]
    names = ", ".join(agent.name for agent, _, _ in group)
    reasons = [
        f"offered to {len(group)} agent(s) at once, the first to accept gets it: {names}",
        *plan.reasons,
    ]
    return NewAssignment(
        lead.lead_id,
        lead.location_id,
        None,
        reasons,
        0.0,
        [selection.candidate(lead, plan.features, e) for e in plan.order[: selection.KEPT_CANDIDATES]],
        [],
        accept_sla_s=settings.accept_sla_seconds,
        lead_snapshot=snapshot,
        score=lead.score,
        offered=tuple(agent.agent_id for agent, _, _ in group),
    )


async def publish(conn: Conn, stored: Assignment) -> None:
    """In the transaction that stored the offer: one notification per offered agent."""
    for agent_id in stored.offered_agents:
        await outcome_outbox.publish(
            conn,
            OutcomeEvent(
                uuid.uuid4(),
                stored.lead_id,
                stored.location_id,
                agent_id,
                0,
                timestamps.now(),
                offer_deadline=stored.accept_by_time,
                offer_group=len(stored.offered_agents),
            ),
            OFFER_SUBSCRIBERS,
        )
