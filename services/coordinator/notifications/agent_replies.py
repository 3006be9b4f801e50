"""Texts from agents: STOP and START to our notification texts.

An inbound text is an agent's when ingest named no lead for it (no lead at the owning
location has the sender's phone) and its sender is a number we have texted an agent
notification to. Then STOP stops notification texts to that number (the agent gets
email instead, when an address is on file) and START resumes them. Neither touches any
lead's consent: an agent is not a lead. A text from a number that is both an agent's and
a lead's names the lead, and is handled as the lead's (leads' opt-outs must never be lost).
"""

from __future__ import annotations

import logging

from services.coordinator.compliance.keywords import Intent, classify
from services.coordinator.envelope import SMS, Envelope
from services.coordinator.notifications.attempts import NotificationAttempts

log = logging.getLogger(__name__)


class AgentReplies:
    def __init__(self, attempts: NotificationAttempts) -> None:
        self._attempts = attempts

    async def handle(self, ev: Envelope) -> bool:
        """True when the text was an agent's and has been handled here."""
        message = ev.message
        if message is None or message.channel != SMS or not message.address_key:
            return False
        agent_id = await self._attempts.agent_texted_at(message.address_key)
        if agent_id is None:
            return False
        found = classify(message.body)
        if found.intent is Intent.OPT_OUT:
            changed = await self._attempts.stop_texts(
                message.address_key, agent_id, f"agent texted {found.keyword} to a notification"
            )
            log.info(
                "agent stopped notification texts", extra={"agent_id": str(agent_id), "changed": changed}
            )
        elif found.intent is Intent.OPT_IN:
            changed = await self._attempts.resume_texts(message.address_key)
            log.info(
                "agent resumed notification texts", extra={"agent_id": str(agent_id), "changed": changed}
            )
        else:
            log.info("text from an agent: nothing to do", extra={"agent_id": str(agent_id)})
        return True
