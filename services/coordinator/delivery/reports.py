"""What providers and the CRM report about messages and addresses: delivery statuses
and suppressions. Neither needs a lead: a status names only the provider's message, a
suppression only an address."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.repository import KEYWORD, REPORT, ConsentRepository, Revocation
from services.coordinator.delivery import provider_status
from services.coordinator.delivery.attempts import AttemptRepository
from services.coordinator.delivery.provider_config import HIGHLEVEL, SENDGRID, TWILIO
from services.coordinator.delivery.repository import Communication, CommunicationRepository
from services.coordinator.envelope import EMAIL, SMS, DeliveryReport, Envelope
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.notifications.attempts import NotificationAttempts
from services.coordinator.notifications.repository import Notification
from shared import timestamps

log = logging.getLogger(__name__)

PROVIDER_NAMES = {TWILIO: "Twilio", SENDGRID: "SendGrid", HIGHLEVEL: "HighLevel"}


def candidate_ids(provider_message_id: str, channel: common_pb2.Channel.ValueType) -> list[str]:
    """Ids our message may be stored under. SendGrid events carry sg_message_id, which
    is the X-Message-Id the send call returned plus ".filter..." routing suffixes."""
    ids = [provider_message_id]
    head = provider_message_id.split(".", 1)[0]
    if channel != SMS and head and head != provider_message_id:
        ids.append(head)
    return ids


def twilio_stop_block(address: str, lead_id: uuid.UUID, at: datetime) -> Revocation:
    """Twilio refuses to text a number that replied STOP to our sender (error 21610): a
    keyword opt-out we may have missed, liftable by START like one."""
    return Revocation(
        channel=SMS,
        address=address,
        lead_id=lead_id,
        source=KEYWORD,
        reason="Twilio 21610: recipient replied STOP",
        block_reason="lead opted out (Twilio 21610: replied STOP)",
        at=at,
    )


class ReportHandler:
    def __init__(
        self,
        communications: CommunicationRepository,
        consents: ConsentRepository,
        journeys: JourneyRepository,
        attempts: AttemptRepository | None = None,
        notifications: NotificationAttempts | None = None,
    ) -> None:
        self._attempts = attempts
        self._communications = communications
        self._consents = consents
        self._journeys = journeys
        self._notifications = notifications

    async def delivery(self, ev: Envelope) -> Journey | None:
        report = ev.delivery
        assert report is not None, "parse() requires delivery facts for DELIVERY_STATUS"

        ids = candidate_ids(report.provider_message_id, report.channel)
        sender = await self._attempts.sent_through(ids) if self._attempts is not None else ""
        name = PROVIDER_NAMES.get(sender, "")

        def decide(message: Communication) -> tuple[pb.CommunicationStatus.ValueType, str] | None:
            step = provider_status.advance(
                message.status, message.channel, report.provider_status, report.error_code, name
            )
            return (step.status, step.reason) if step is not None else None

        message, changed = await self._communications.advance_status(ids, decide)
        if message is None and self._notifications is not None:
            await self._notification_status(report.provider_message_id, report)
            return None
        if message is None:
            # Not an error: the CRM or another tool may send through the same account.
            log.info(
                "delivery status for a message we do not know",
                extra={"provider_message_id": report.provider_message_id, "status": report.provider_status},
            )
            return None
        if not changed:
            log.info(
                "delivery status changes nothing",
                extra={"communication_id": str(message.communication_id), "status": report.provider_status},
            )
        if provider_status.opts_out(message.channel, report.error_code):
            await self._consents.revoke(
                twilio_stop_block(message.address, message.lead_id, ev.occurred_time or timestamps.now())
            )
        return await self._journeys.find_journey(message.lead_id)

    async def _notification_status(self, provider_message_id: str, report: DeliveryReport) -> None:
        """A status for an agent notification: moves its status; a STOP block (21610) is the
        agent's own opt-out, never a lead's."""
        assert self._notifications is not None

        def decide(note: Notification) -> tuple[pb.CommunicationStatus.ValueType, str] | None:
            step = provider_status.advance(
                note.status, note.channel, report.provider_status, report.error_code
            )
            return (step.status, step.reason) if step is not None else None

        note = await self._notifications.advance_status(
            candidate_ids(provider_message_id, report.channel), decide
        )
        if note is None:
            # Not an error: the CRM or another tool may send through the same account.
            log.info(
                "delivery status for a message we do not know",
                extra={"provider_message_id": provider_message_id, "status": report.provider_status},
            )
            return
        if provider_status.opts_out(note.channel, report.error_code):
            await self._notifications.stop_texts(
                note.address, note.agent_id, "Twilio 21610: agent replied STOP"
            )

    async def suppression(self, ev: Envelope) -> Journey | None:
        facts = ev.suppression
        assert facts is not None, "parse() requires suppression facts for SUPPRESSION"
        name = "SMS" if facts.channel == SMS else "email" if facts.channel == EMAIL else "channel"
        await self._consents.revoke(
            Revocation(
                channel=facts.channel,
                address=facts.address,
                lead_id=ev.lead_id,
                source=REPORT,
                reason=facts.reason,
                block_reason=f"{name} address suppressed: {facts.reason}",
                at=ev.occurred_time or timestamps.now(),
            )
        )
        return await self._journeys.find_journey(ev.lead_id) if ev.lead_id is not None else None
