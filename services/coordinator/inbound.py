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

import asyncpg
import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator import delivery, notifications
from services.coordinator.envelope import SMS, Envelope, MessageIn
from services.coordinator.notifications import AgentNotifier
from services.coordinator.optout import Classification, Intent, classify
from services.coordinator.repository import CoordinatorRepository, MessageRecord, Revocation
from services.coordinator.repository.consent import KEYWORD
from shared import deadlines
from shared.clients import Peers
from shared.errors import NotFound

log = logging.getLogger(__name__)

LEAD_REPLIED = "lead replied"
LEAD_OPTED_OUT = "lead opted out"


def opt_out_block_reason(keyword: str) -> str:
    return f"lead opted out ({keyword})"


def classification_note(found: Classification, channel: int) -> str:
    """status_reason of an inbound row: what the keyword classifier made of it."""
    if found.intent is Intent.OPT_OUT:
        name = "SMS" if channel == SMS else "email"
        return f"opt-out keyword {found.keyword}: {name} revoked"
    if found.intent is Intent.OPT_IN:
        return f"opt-in keyword {found.keyword}"
    if found.intent is Intent.HELP:
        return f"help keyword {found.keyword}: no change"
    return ""


def _step_key(prefix: str, ev: Envelope, message: MessageIn) -> str:
    return f"{prefix}:{message.provider_message_id or ev.event_id}"


class MessageHandler:
    def __init__(self, repo: CoordinatorRepository, peers: Peers, sender: delivery.Sender) -> None:
        self._repo = repo
        self._peers = peers
        self._notifier = AgentNotifier(repo, sender)

    async def inbound(self, ev: Envelope) -> asyncpg.Record:
        message = ev.message
        assert message is not None, "parse() requires message facts for INBOUND_MESSAGE"
        lead_id = ev.lead
        found = classify(message.body)
        # Opt-in and help keywords mean something only in a text; a revocation binds on
        # whatever channel it arrives by ("any reasonable means").
        if message.channel != SMS and found.intent is not Intent.OPT_OUT:
            found = Classification(Intent.NONE)
        journey = await self._repo.find_journey(lead_id)
        row, _ = await self._repo.record_message(
            MessageRecord(
                lead_id=lead_id,
                journey_id=journey["journey_id"] if journey is not None else None,
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
        at = ev.occurred_time or row["create_time"]
        address = message.address_key or await self._known_address(lead_id, message.channel)
        if found.intent is Intent.OPT_OUT:
            applied = await self._repo.revoke(
                Revocation(
                    channel=message.channel,
                    address=address,
                    lead_id=lead_id,
                    source=KEYWORD,
                    reason=f"lead sent {found.keyword}",
                    block_reason=opt_out_block_reason(found.keyword),
                    at=at,
                )
            )
            if not applied:
                log.info("stale opt-out keyword ignored", extra={"lead_id": str(lead_id)})
        elif found.intent is Intent.OPT_IN:
            lifted = await self._repo.restore_sms_by_keyword(
                lead_id, address, f"lead sent {found.keyword}", at
            )
            # Recorded on the message either way: it is the lead's word, kept for audit.
            note = "SMS re-enabled" if lifted else "no keyword opt-out to lift"
            await self._repo.set_status_reason(
                row["communication_id"], f"opt-in keyword {found.keyword}: {note}"
            )
        # HELP/INFO change nothing; a person answers it like any reply (the provider's
        # own HELP auto-reply may already have gone out).
        revoked = found.intent is Intent.OPT_OUT
        journey = await self._repo.stop_journey(
            lead_id,
            ev.location_id,
            LEAD_OPTED_OUT if revoked else LEAD_REPLIED,
            only_over=(LEAD_REPLIED,) if revoked else (),
        )
        await self._tell_agent(journey, lead_id, row, message, found.keyword if revoked else "")
        return journey

    async def outbound(self, ev: Envelope) -> asyncpg.Record | None:
        """A person wrote to the lead from the CRM: recorded as SENT (the CRM's provider
        took it). A human touch, so the journey goes on."""
        message = ev.message
        assert message is not None, "parse() requires message facts for OUTBOUND_MESSAGE"
        journey = await self._repo.find_journey(ev.lead)
        await self._repo.record_message(
            MessageRecord(
                lead_id=ev.lead,
                journey_id=journey["journey_id"] if journey is not None else None,
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
        return journey

    async def _known_address(self, lead_id: uuid.UUID, channel: int) -> str:
        """The lead's address on record, for a message whose sender address did not parse."""
        try:
            consent = await self._repo.get_consent(lead_id)
        except NotFound:  # no record yet: the lead's own flag still changes
            return ""
        return str(consent["phone"] if channel == SMS else consent["email"])

    async def _tell_agent(
        self,
        journey: asyncpg.Record,
        lead_id: uuid.UUID,
        row: asyncpg.Record,
        message: MessageIn,
        opt_out_keyword: str,
    ) -> None:
        if journey["agent_id"] is None:
            log.info("reply from a lead without an agent", extra={"lead_id": str(lead_id)})
            return
        agent = (
            await self._peers.routing.GetAgent(
                routing_pb.GetAgentRequest(agent_id=str(journey["agent_id"])), timeout=deadlines.timeout(2.0)
            )
        ).agent
        subject, body = notifications.reply_notice(
            await self._lead_name(lead_id), message.channel, message.body, opt_out_keyword
        )
        await self._notifier.notify(
            agent_id=journey["agent_id"],
            lead_id=lead_id,
            # One per inbound message: the row's id is stable across redeliveries.
            step_key=f"reply:{row['provider_message_id'] or row['communication_id']}",
            target=notifications.agent_target(agent),
            subject=subject,
            body=body,
        )

    async def _lead_name(self, lead_id: uuid.UUID) -> str:
        try:
            lead = (
                await self._peers.ingest.GetLead(
                    ingest_pb.GetLeadRequest(lead_id=str(lead_id)), timeout=deadlines.timeout(2.0)
                )
            ).lead
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return ""
        return " ".join(p for p in (lead.first_name, lead.last_name) if p)
