"""A text ingest could name no lead for: the To number's location has no lead with the
sender's phone, or no location owns the number and several (or no) locations have a
lead with it. Nobody's journey can be stopped or agent told, but an opt-out in it
must not be lost (compliance.md §3): it suppresses the sender's number at once, and
suppressions apply to every lead and location with that number (revoke-all).

Anything else from such a sender changes nothing; in particular an opt-in keyword
lifts nothing, since we cannot tell whose opt-out it would lift.
"""

from __future__ import annotations

import logging

from services.coordinator.compliance.keywords import Intent, classify
from services.coordinator.compliance.repository import KEYWORD, ConsentRepository, Revocation
from services.coordinator.envelope import Envelope
from services.coordinator.inbound.messages import opt_out_block_reason
from services.coordinator.notifications.agent_replies import AgentReplies
from shared import timestamps

log = logging.getLogger(__name__)


class UnknownSenders:
    def __init__(self, consents: ConsentRepository, agents: AgentReplies | None = None) -> None:
        self._consents = consents
        self._agents = agents

    async def inbound(self, ev: Envelope) -> None:
        message = ev.message
        assert message is not None, "parse() requires message facts for INBOUND_MESSAGE"
        assert message.address_key, "parse() requires a sender address when there is no lead"
        # An agent answering a notification: their STOP is theirs, not a lead's opt-out.
        if self._agents is not None and await self._agents.handle(ev):
            return
        found = classify(message.body)
        where = f"location {ev.location_id}" if ev.location_id else "no location"
        if found.intent is not Intent.OPT_OUT:
            log.info(
                "text from a sender with no lead: no opt-out in it", extra={"location_id": ev.location_id}
            )
            return
        await self._consents.revoke(
            Revocation(
                channel=message.channel,
                address=message.address_key,
                lead_id=None,
                source=KEYWORD,
                reason=f"sender texted {found.keyword} ({where}; no single lead has the number)",
                block_reason=opt_out_block_reason(found.keyword),
                at=ev.occurred_time or timestamps.now(),
                location_id=ev.location_id,
            )
        )
