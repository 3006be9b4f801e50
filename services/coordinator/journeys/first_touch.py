"""A journey's first message to its lead: choose a channel, gate it, have content write
it, and deliver it now, hold it for the lead's sending window, or record why not.

One row per (lead, step_key), the key scoped to the journey, so running this again after
a failure part-way finds the row an earlier attempt recorded and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.coordinator.compliance import gates
from services.coordinator.compliance.checks import ComplianceChecks
from services.coordinator.compliance.evaluation import Evaluation
from services.coordinator.compliance.gates import Action, ContactFacts
from services.coordinator.delivery.dispatch import Dispatcher
from services.coordinator.delivery.repository import (
    Communication,
    CommunicationRepository,
    NewCommunication,
)
from services.coordinator.journeys import writing
from services.coordinator.journeys.repository import Journey
from shared.clients import ContentClient

FIRST_TOUCH = "first_touch"


def _source_words(source: ingest_pb.LeadSource.ValueType) -> str:
    if source == ingest_pb.LEAD_SOURCE_UNSPECIFIED or source not in ingest_pb.LeadSource.values():
        return ""
    return ingest_pb.LeadSource.Name(source).removeprefix("LEAD_SOURCE_").lower().replace("_", " ")


def message_context(
    lead: ingest_pb.Lead, agent: routing_pb.Agent | None, score: float, brand_name: str
) -> content_pb.MessageContext:
    """What content may say about the lead and their agent."""
    return content_pb.MessageContext(
        lead_first_name=lead.first_name,
        agent_name=agent.name if agent else "",
        agent_phone=agent.phone if agent else "",
        city=lead.city,
        source=_source_words(lead.source),
        brand_name=brand_name,
        lead_full_name=" ".join(p for p in (lead.first_name, lead.last_name) if p),
        lead_score=score,
    )


class FirstTouch:
    def __init__(
        self,
        communications: CommunicationRepository,
        content: ContentClient,
        dispatcher: Dispatcher,
        *,
        checks: ComplianceChecks,
        lease: timedelta,
        brand_name: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = communications
        self._content = content
        self._dispatcher = dispatcher
        self._checks = checks
        self._lease = lease
        self._brand = brand_name
        self._clock = clock

    async def run(
        self,
        journey: Journey,
        lead: ingest_pb.Lead,
        agent: routing_pb.Agent | None,
        facts: ContactFacts,
        purpose: content_pb.MessagePurpose.ValueType = content_pb.MESSAGE_PURPOSE_FIRST_TOUCH,
    ) -> Communication:
        """The first touch as recorded: sent, scheduled, or blocked with the reason.
        `purpose` is what content writes it for (a campaign's is RE_ENGAGEMENT)."""
        base: dict[str, Any] = {
            "lead_id": journey.lead_id,
            "journey_id": journey.journey_id,
            "step_key": journey.key(FIRST_TOUCH),
        }

        async def blocked(
            channel: common_pb2.Channel.ValueType,
            address: str,
            reason: str,
            gate: str = "",
            pending: str = "",
        ) -> Communication:
            if gate:  # else the gates ran and recorded it
                await self._checks.refused(
                    lead_id=journey.lead_id,
                    location_id=journey.location_id,
                    step_key=journey.key(FIRST_TOUCH),
                    channel=channel,
                    address=address,
                    gate=gate,
                    reason=reason,
                    now=self._clock(),
                )
            message, _ = await self._repo.add_communication(
                NewCommunication(
                    **base,
                    channel=channel,
                    address=address,
                    status=pb.COMMUNICATION_STATUS_BLOCKED,
                    status_reason=reason,
                    # Suggest mode: SendApprovedMessage sends it once an agent approves.
                    message_id=pending,
                    awaiting_approval=bool(pending),
                )
            )
            return message

        # No consent, suppressed or opted out: refuse before anyone writes a message that cannot go out.
        channel, address, refused = gates.lawful_channel(facts)
        if channel == common_pb2.CHANNEL_UNSPECIFIED:
            return await blocked(channel, "", refused, "channel")
        if refused:
            await self._check(journey, channel, address, facts)
            return await blocked(channel, address, refused)
        written, refused, pending = await writing.write_or_hold(
            self._content,
            content_pb.GenerateMessageRequest(
                lead_id=str(journey.lead_id),
                location_id=lead.location_id,
                channel=channel,
                purpose=purpose,
                context=message_context(lead, agent, float(journey.score or 0.0), self._brand),
                request_id=f"{journey.lead_id}:{journey.key(FIRST_TOUCH)}",
            ),
        )
        if written is None:
            return await blocked(channel, address, refused, "content", pending)
        now = self._clock()
        decision = (await self._check(journey, channel, address, facts, now)).decision
        fields: dict[str, Any] = {
            **base,
            "channel": channel,
            "body": written.body,
            "subject": written.subject,
            "address": address,
            "message_id": written.message_id,
        }
        if decision.action is Action.BLOCK:
            message, _ = await self._repo.add_communication(
                NewCommunication(
                    **fields, status=pb.COMMUNICATION_STATUS_BLOCKED, status_reason=decision.reason
                )
            )
            return message
        if decision.action in (Action.SCHEDULE, Action.HOLD):
            # Held for review: SCHEDULED with no time, so no scheduler claims it by itself.
            message, _ = await self._repo.add_communication(
                NewCommunication(
                    **fields,
                    status=pb.COMMUNICATION_STATUS_SCHEDULED,
                    status_reason=decision.reason,
                    scheduled_time=decision.scheduled_time,
                )
            )
            return message
        await self._dispatcher.remember_contact(journey.lead_id, lead.location_id, lead.external_contact_id)
        # Recorded as claimed before sending: if we die mid-send, the scheduler finishes it.
        message, created = await self._repo.add_communication(
            NewCommunication(
                **fields,
                status=pb.COMMUNICATION_STATUS_SCHEDULED,
                scheduled_time=now,
                claim_until=now + self._lease,
            )
        )
        if not created:
            return message
        # Consent, suppression and the window are checked again under the row lock there.
        # A provider that asks us to wait hands the message to the scheduler: this runs inside
        # the relay's RPC deadline.
        return await self._dispatcher.dispatch(message, now, retry=False)

    async def _check(
        self,
        journey: Journey,
        channel: common_pb2.Channel.ValueType,
        address: str,
        facts: ContactFacts,
        now: datetime | None = None,
    ) -> Evaluation:
        return await self._checks.check(
            lead_id=journey.lead_id,
            location_id=journey.location_id,
            step_key=journey.key(FIRST_TOUCH),
            channel=channel,
            address=address,
            facts=facts,
            now=now or self._clock(),
        )
