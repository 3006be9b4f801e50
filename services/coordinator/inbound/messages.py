"""Messages outside the journey's own sends: the lead wrote to us, or a person wrote to
the lead from the CRM.

Any message from the lead stops their automated journey (compliance.md §10, "stop on
reply": a person takes over) and tells their agent. An opt-out keyword also revokes
the channel at once, for every lead and location with that address (revoke-all).

Every step is idempotent (rows keyed by the provider's message id, suppressions by
address, notifications by (lead, step_key)), so a redelivered event, or a retry after a
failure part-way, finishes what is missing and repeats nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.keywords import Classification, Intent, classify
from services.coordinator.compliance.replies import ComplianceReplies
from services.coordinator.compliance.repository import KEYWORD, ConsentRepository, Revocation
from services.coordinator.delivery.repository import Communication, CommunicationRepository, MessageRecord
from services.coordinator.envelope import SMS, Envelope, MessageIn
from services.coordinator.inbound import optout_latency
from services.coordinator.inbound.handoff import ReplyHandoff
from services.coordinator.journeys import recovery
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.journeys.unreachable import OPTED_OUT_EVERYWHERE
from services.coordinator.notifications import notifier
from services.coordinator.notifications.notifier import AgentNotifier
from shared.clients import IngestClient, RoutingClient
from shared.errors import NotFound

log = logging.getLogger(__name__)

LEAD_REPLIED = recovery.LEAD_REPLIED
LEAD_OPTED_OUT = "lead opted out"


def opt_out_block_reason(keyword: str) -> str:
    return f"lead opted out ({keyword})"


def classification_note(found: Classification, channel: common_pb2.Channel.ValueType) -> str:
    """status_reason of an inbound row: what the keyword classifier made of it."""
    if found.intent is Intent.OPT_OUT:
        name = "SMS" if channel == SMS else "email"
        if not found.keyword:
            return f"opt-out phrase '{found.phrase}': {name} revoked"
        return f"opt-out keyword {found.keyword}: {name} revoked"
    if found.intent is Intent.OPT_IN:
        return f"opt-in keyword {found.keyword}"
    if found.intent is Intent.HELP:
        return f"help keyword {found.keyword}: no change"
    return ""


def _was_opted_out(facts: ContactFacts) -> bool:
    """Already opted out (or the number suppressed) before this message: a repeated STOP
    gets no second confirmation."""
    return facts.sms_opted_out or bool(facts.sms_suppressed)


def _step_key(prefix: str, ev: Envelope, message: MessageIn) -> str:
    return f"{prefix}:{message.provider_message_id or ev.event_id}"


class MessageHandler:
    def __init__(
        self,
        journeys: JourneyRepository,
        consents: ConsentRepository,
        communications: CommunicationRepository,
        notifier: AgentNotifier,
        *,
        ingest: IngestClient,
        routing: RoutingClient,
        human_touch: Callable[[uuid.UUID], Awaitable[Journey | None]] | None = None,
        handoff: ReplyHandoff | None = None,
        replies: ComplianceReplies | None = None,
    ) -> None:
        self._journeys = journeys
        self._consents = consents
        self._communications = communications
        self._notifier = notifier
        self._ingest = ingest
        self._routing = routing
        # Pauses automation after a person's message (journeys/control.py).
        self._human_touch = human_touch
        # Classifies the reply and adds the thread to the agent's note; None: the plain note.
        self._handoff = handoff
        # The opt-out confirmation and the HELP answer; None: neither is sent.
        self._replies = replies

    async def inbound(self, ev: Envelope) -> Journey:
        message = ev.message
        assert message is not None, "parse() requires message facts for INBOUND_MESSAGE"
        lead_id = ev.lead
        found = classify(message.body)
        # Opt-in and help keywords mean something only in a text; a revocation binds on
        # whatever channel it arrives by ("any reasonable means").
        if message.channel != SMS and found.intent is not Intent.OPT_OUT:
            found = Classification(Intent.NONE)
        journey = await self._journeys.find_journey(lead_id)
        received, _ = await self._communications.record_message(
            MessageRecord(
                lead_id=lead_id,
                journey_id=journey.journey_id if journey is not None else None,
                step_key=_step_key("inbound", ev, message),
                channel=message.channel,
                direction=pb.DIRECTION_INBOUND,
                status=pb.COMMUNICATION_STATUS_RECEIVED,
                body=message.body,
                subject=message.subject,
                address=message.address,
                provider_message_id=message.provider_message_id,
                status_reason=classification_note(found, message.channel),
            )
        )
        at = ev.occurred_time or received.create_time
        address = message.address_key or await self._known_address(lead_id, message.channel)
        confirm = False  # the one opt-out confirmation text, sent last
        if found.intent is Intent.OPT_OUT:
            before = await self._consents.find_facts(lead_id) if message.channel == SMS else None
            applied = await self._consents.revoke(
                Revocation(
                    channel=message.channel,
                    address=address,
                    lead_id=lead_id,
                    source=KEYWORD,
                    reason=f"lead sent {found.words}",
                    block_reason=opt_out_block_reason(found.words),
                    at=at,
                )
            )
            if applied:
                optout_latency.observe(message.channel, "revoked", at)
            else:
                log.info("stale opt-out keyword ignored", extra={"lead_id": str(lead_id)})
            confirm = applied and before is not None and not _was_opted_out(before)
        elif found.intent is Intent.OPT_IN:
            lifted = await self._consents.restore_sms_by_keyword(
                lead_id, address, f"lead sent {found.keyword}", at
            )
            # Recorded on the message either way: it is the lead's word, kept for audit.
            note = "SMS re-enabled" if lifted else "no keyword opt-out to lift"
            await self._communications.set_status_reason(
                received.communication_id, f"opt-in keyword {found.keyword}: {note}"
            )
        elif found.intent is Intent.HELP and self._replies is not None:
            # Answered even when opted out (carriers require it); it changes no consent.
            await self._replies.answer_help(
                lead_id, journey.journey_id if journey else None, address, received, ev.location_id
            )
        revoked = found.intent is Intent.OPT_OUT
        stopped = await self._journeys.stop_journey(
            lead_id,
            ev.location_id,
            LEAD_OPTED_OUT if revoked else LEAD_REPLIED,
            only_over=(LEAD_REPLIED, OPTED_OUT_EVERYWHERE) if revoked else (),
        )
        await self._tell_agent(stopped, lead_id, received, message, found.words if revoked else "")
        if confirm and self._replies is not None:
            # Last: the opt-out and the stopped journey must not wait on a send.
            sent = await self._replies.confirm_opt_out(
                lead_id, journey.journey_id if journey else None, address, received, at, ev.location_id
            )
            if sent is not None and optout_latency.confirmed(sent.status):
                optout_latency.observe(message.channel, "confirmed", at)
        return stopped

    async def outbound(self, ev: Envelope) -> Journey | None:
        """A person wrote to the lead from the CRM: recorded as SENT (the CRM's provider
        took it). A human touch: the journey goes on, its automation paused a while. A
        message matching one we sent (by provider id) is our own echo, not a person's."""
        message = ev.message
        assert message is not None, "parse() requires message facts for OUTBOUND_MESSAGE"
        journey = await self._journeys.find_journey(ev.lead)
        _, created = await self._communications.record_message(
            MessageRecord(
                lead_id=ev.lead,
                journey_id=journey.journey_id if journey is not None else None,
                step_key=_step_key("crm", ev, message),
                channel=message.channel,
                direction=pb.DIRECTION_OUTBOUND,
                status=pb.COMMUNICATION_STATUS_SENT,
                body=message.body,
                subject=message.subject,
                address=message.address,
                provider_message_id=message.provider_message_id,
                status_reason="sent by a person from the CRM",
            )
        )
        if created and journey is not None and journey.active and self._human_touch is not None:
            journey = await self._human_touch(ev.lead) or journey
        return journey

    async def _known_address(self, lead_id: uuid.UUID, channel: common_pb2.Channel.ValueType) -> str:
        """The lead's address on record, for a message whose sender address did not parse."""
        try:
            consent = await self._consents.get_consent(lead_id)
        except NotFound:  # no record yet: the lead's own flag still changes
            return ""
        return consent.phone if channel == SMS else consent.email

    async def _tell_agent(
        self,
        journey: Journey,
        lead_id: uuid.UUID,
        received: Communication,
        message: MessageIn,
        opt_out_keyword: str,
    ) -> None:
        if journey.agent_id is None:
            log.info("reply from a lead without an agent", extra={"lead_id": str(lead_id)})
            return
        agent = await notifier.current_agent(self._routing, lead_id, journey.location_id, journey.agent_id)
        name = await self._lead_name(lead_id, journey.location_id)
        if self._handoff is not None and not opt_out_keyword:
            subject, body = await self._handoff.notice(
                name, lead_id, message.channel, received, journey.location_id
            )
        else:
            subject, body = notifier.reply_notice(name, message.channel, message.body, opt_out_keyword)
        await self._notifier.notify(
            agent_id=uuid.UUID(agent.agent_id),
            lead_id=lead_id,
            # One per inbound message: the row's id is stable across redeliveries.
            step_key=f"reply:{received.provider_message_id or received.communication_id}",
            target=notifier.agent_target(agent),
            subject=subject,
            body=body,
        )

    async def _lead_name(self, lead_id: uuid.UUID, location_id: str) -> str:
        lead = await self._ingest.get_lead(lead_id, location_id)
        if lead is None:
            return ""
        return " ".join(p for p in (lead.first_name, lead.last_name) if p)
