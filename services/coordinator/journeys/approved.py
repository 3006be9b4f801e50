"""Sending a suggest-mode draft once an agent approved it (SendApprovedMessage).

The step was recorded BLOCKED, awaiting approval, with the draft's message id. Here the
approved text (content's, after any edit) is put on that same row, which is taken for
sending in one statement and then goes through the scheduler's own path: the journey
re-read, every gate checked again as of now (time has passed since the draft), and the
dispatcher's exactly-once send. The walk did not wait for the agent, so nothing is
rescheduled behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.content.v1 import content_service_pb2 as content_pb

from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.delivery.approvals import ApprovalRepository
from services.coordinator.delivery.repository import Communication
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.journeys.repository import JourneyRepository
from shared import tenancy
from shared.clients import ContentClient
from shared.errors import FailedPrecondition, NotFound

NOT_FOUND = "APPROVAL_NOT_FOUND"


class ApprovedSends:
    def __init__(
        self,
        approvals: ApprovalRepository,
        journeys: JourneyRepository,
        consents: ConsentRepository,
        content: ContentClient,
        scheduler: Scheduler,
        *,
        lease: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._approvals = approvals
        self._journeys = journeys
        self._consents = consents
        self._content = content
        self._scheduler = scheduler
        self._lease = lease
        self._clock = clock

    async def send(self, message_id: str, location: str) -> Communication:
        """The step carrying `message_id` after sending it (or refusing to, with why);
        a step already sent or refused is returned as it stands. A step of a lead of another
        `location` is NOT_FOUND, as one that does not exist, and nothing is sent."""
        row = await self._approvals.find_by_message(message_id)
        journey = await self._journeys.journey_of(row.lead_id, row.journey_id) if row is not None else None
        if row is None:
            raise NotFound(
                f"no journey step carries message {message_id}; use the message_id of a step "
                "recorded BLOCKED awaiting approval (ListCommunications)",
                reason=NOT_FOUND,
                metadata={"message_id": message_id},
            )
        owner = journey.location_id if journey is not None else ""
        tenancy.ensure_owned(location, owner, "message", message_id, NOT_FOUND)
        if not row.awaiting_approval:
            return row  # an earlier call sent or refused it: never twice
        message = await self._content.find_message(row.lead_id, message_id, owner)
        if message is None:
            raise NotFound(
                f"content holds no message {message_id} for lead {row.lead_id}",
                reason="MESSAGE_NOT_FOUND",
                metadata={"message_id": message_id},
            )
        if message.status != content_pb.MESSAGE_STATUS_APPROVED:
            raise FailedPrecondition(
                f"message {message_id} is {content_pb.MessageStatus.Name(message.status)}: an agent "
                "must approve it with content's ApproveMessage first",
                reason="MESSAGE_NOT_APPROVED",
                metadata={"message_id": message_id},
            )
        by = f"approved by agent {message.approved_by_agent_id}" + (" (edited)" if message.edited else "")
        if journey is None or journey.stopped:
            why = journey.stop_reason if journey is not None else "no journey"
            refused = await self._approvals.refuse(
                row.communication_id, f"{by} but not sent: journey stopped: {why}"
            )
            return refused or await self._approvals.get(row.communication_id)
        facts = await self._consents.find_facts(row.lead_id) or ContactFacts()
        now = self._clock()
        taken = await self._approvals.take(
            row.communication_id,
            subject=message.subject,
            body=message.body,
            address=row.address or facts.address(row.channel),
            reason=f"{by}: gates checked again at send time",
            now=now,
            claim_until=now + self._lease,
        )
        if taken is None:  # a concurrent call took it
            return await self._approvals.get(row.communication_id)
        # Inside this RPC's deadline: a provider asking us to wait hands it to the scheduler.
        await self._scheduler.settle(taken, now, retry=False, approved=True)
        return await self._approvals.get(row.communication_id)
