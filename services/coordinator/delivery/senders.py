"""The credential-less sender: it records that nothing was sent (SIMULATED, never SENT).

Lead messages go through delivery/dispatch.py and agent notifications through
notifications/delivery.py, both with the provider adapters in providers.py; what is
left here is the status and reason every credential-less message is recorded with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

NO_CREDENTIALS = "no provider credentials configured (TWILIO_*/SENDGRID_API_KEY)"


@dataclass(frozen=True)
class DeliveryResult:
    status: pb.CommunicationStatus.ValueType
    provider_message_id: str = ""
    reason: str = ""


class Sender(Protocol):
    async def send_sms(self, to: str, body: str) -> DeliveryResult: ...

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult: ...


class SimulatedSender:
    """Used when no provider is configured: the message is recorded, not sent."""

    async def send_sms(self, to: str, body: str) -> DeliveryResult:
        return DeliveryResult(pb.COMMUNICATION_STATUS_SIMULATED, reason=NO_CREDENTIALS)

    async def send_email(self, to: str, subject: str, body: str) -> DeliveryResult:
        return DeliveryResult(pb.COMMUNICATION_STATUS_SIMULATED, reason=NO_CREDENTIALS)


async def deliver(
    sender: Sender, channel: common_pb2.Channel.ValueType, to: str, subject: str, body: str
) -> DeliveryResult:
    if channel == common_pb2.CHANNEL_SMS:
        return await sender.send_sms(to, body)
    if channel == common_pb2.CHANNEL_EMAIL:
        return await sender.send_email(to, subject, body)
    raise ValueError(f"cannot deliver on channel {channel}")
