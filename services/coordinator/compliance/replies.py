"""The two texts compliance itself sends a lead: the one confirmation after an opt-out,
and the answer to HELP / INFO.

The FCC allows one confirmation text after a revocation: it only confirms, carries no
marketing, and goes within 5 minutes (compliance.md §4). Later than that it is not
sent at all, and the row says why. Each reply is one row keyed by the inbound message
it answers, so a redelivered event never sends it twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.reply_keys import (
    CONFIRMATION_KEY,
    CONFIRMATION_WINDOW,
    HELP_KEY,
    TOO_LATE,
)
from services.coordinator.delivery.dispatch import Dispatcher
from services.coordinator.delivery.repository import (
    Communication,
    CommunicationRepository,
    MessageRecord,
    NewCommunication,
)

log = logging.getLogger(__name__)

SMS = common_pb2.CHANNEL_SMS
__all__ = ["CONFIRMATION_KEY", "HELP_KEY", "TOO_LATE", "ComplianceReplies", "ReplyTexts"]


@dataclass(frozen=True)
class ReplyTexts:
    opt_out_confirmation: str
    help_text: str
    brand_name: str

    def confirmation(self, brand: str = "") -> str:
        return self.opt_out_confirmation.replace("{brand}", brand or self.brand_name)

    def help(self, brand: str = "") -> str:
        return self.help_text.replace("{brand}", brand or self.brand_name)


class ComplianceReplies:
    def __init__(
        self,
        communications: CommunicationRepository,
        dispatcher: Dispatcher,
        texts: ReplyTexts,
        clock: Callable[[], datetime],
        *,
        lease: timedelta,
        brand_of: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        # The location's brand for {brand} ("" or None: the configured one).
        self._brand_of = brand_of
        self._repo = communications
        # The same exactly-once path as every other message (provider, or SIMULATED without
        # credentials); it lets these two texts past the consent gates (reply_keys).
        self._dispatcher = dispatcher
        self._lease = lease
        self._texts = texts
        self._clock = clock

    async def confirm_opt_out(
        self,
        lead_id: uuid.UUID,
        journey_id: uuid.UUID | None,
        address: str,
        answering: Communication,
        at: datetime,
        location_id: str = "",
    ) -> Communication | None:
        """The one confirmation text, if the opt-out is at most 5 minutes old."""
        late = self._clock() - at > CONFIRMATION_WINDOW
        return await self._reply(
            CONFIRMATION_KEY,
            lead_id,
            journey_id,
            address,
            answering,
            self._texts.confirmation(await self._brand(location_id)),
            TOO_LATE if late else "",
        )

    async def answer_help(
        self,
        lead_id: uuid.UUID,
        journey_id: uuid.UUID | None,
        address: str,
        answering: Communication,
        location_id: str = "",
    ) -> Communication | None:
        body = self._texts.help(await self._brand(location_id))
        return await self._reply(HELP_KEY, lead_id, journey_id, address, answering, body, "")

    async def _brand(self, location_id: str) -> str:
        """The location's brand; the configured one when it sets none or ingest cannot say
        (a confirmation must never wait on a profile lookup)."""
        if self._brand_of is None or not location_id:
            return ""
        try:
            return await self._brand_of(location_id)
        except Exception:
            log.warning(
                "location brand unavailable for a compliance reply", extra={"location_id": location_id}
            )
            return ""

    async def _reply(
        self,
        key: str,
        lead_id: uuid.UUID,
        journey_id: uuid.UUID | None,
        address: str,
        answering: Communication,
        body: str,
        refused: str,
    ) -> Communication | None:
        if not address:
            log.info("no number to reply to", extra={"lead_id": str(lead_id), "reply": key})
            return None
        step_key = f"{key}:{answering.provider_message_id or answering.communication_id}"
        if refused:
            row, _ = await self._repo.record_message(
                MessageRecord(
                    lead_id=lead_id,
                    journey_id=journey_id,
                    step_key=step_key,
                    channel=SMS,
                    direction=pb.DIRECTION_OUTBOUND,
                    status=pb.COMMUNICATION_STATUS_BLOCKED,
                    body=body,
                    subject="",
                    address=address,
                    provider_message_id="",
                    status_reason=refused,
                )
            )
            return row
        now = self._clock()
        # Recorded as claimed before sending: if we die mid-send, the scheduler finishes it.
        row, created = await self._repo.add_communication(
            NewCommunication(
                lead_id=lead_id,
                journey_id=journey_id,
                step_key=step_key,
                channel=SMS,
                status=pb.COMMUNICATION_STATUS_SCHEDULED,
                body=body,
                address=address,
                scheduled_time=now,
                claim_until=now + self._lease,
            )
        )
        if not created:
            return row  # once: a redelivered event finds the row and sends nothing
        return await self._dispatcher.dispatch(row, now, retry=False)
