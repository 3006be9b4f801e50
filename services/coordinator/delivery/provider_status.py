"""What a provider's status report does to a communication's status. Pure.

Twilio and SendGrid both deliver reports late, twice, and out of order
(integrations.md §2.2, §3.1), so a status only ever moves forward:

    QUEUED  <  SENT  <  DELIVERED  <  UNDELIVERED | FAILED

A late "sent" after "delivered" changes nothing. DELIVERED may still become
UNDELIVERED: a receiving mail server can accept a message (SendGrid "delivered") and
bounce it later (an asynchronous bounce), and a report that a message did not arrive
is the one we must not lose: claiming a delivery that did not happen is the worse
error. UNDELIVERED and FAILED are both final; the first one wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

QUEUED = pb.COMMUNICATION_STATUS_QUEUED
SENT = pb.COMMUNICATION_STATUS_SENT
DELIVERED = pb.COMMUNICATION_STATUS_DELIVERED
UNDELIVERED = pb.COMMUNICATION_STATUS_UNDELIVERED
FAILED = pb.COMMUNICATION_STATUS_FAILED

_RANK = {QUEUED: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 4, FAILED: 4}

# Provider words -> our status. Twilio's Message resource statuses and SendGrid's
# delivery events share one vocabulary without conflict ("delivered" means the same).
STATUS_WORDS = {
    # Twilio
    "accepted": QUEUED,
    "scheduled": QUEUED,
    "queued": QUEUED,
    "sending": SENT,
    "sent": SENT,
    "delivered": DELIVERED,
    "read": DELIVERED,
    "undelivered": UNDELIVERED,
    "failed": FAILED,
    "canceled": FAILED,
    # SendGrid
    "processed": QUEUED,
    "deferred": SENT,  # the receiving server said "later": SendGrid keeps trying
    "bounce": UNDELIVERED,
    "dropped": UNDELIVERED,
    # Opens and clicks prove delivery, and may arrive before "delivered" does.
    "open": DELIVERED,
    "click": DELIVERED,
    # HighLevel OutboundMessage statuses (sent, delivered, read, undelivered and failed
    # are shared with Twilio above).
    "pending": QUEUED,
    "opened": DELIVERED,
    "clicked": DELIVERED,
}

# integrations.md §2.2: the codes the engine acts on, in a few words.
TWILIO_ERRORS = {
    "20429": "rate limited",
    "21211": "invalid To number",
    "21408": "region not enabled",
    "21610": "recipient replied STOP",
    "21614": "not a mobile number",
    "21635": "landline",
    "30003": "unreachable handset",
    "30005": "unknown or inactive number",
    "30006": "landline or unreachable carrier",
    "30007": "carrier filtered",
    "30008": "unknown error",
    "30034": "sender not in an approved A2P 10DLC campaign",
}
# Twilio refuses to text a number that replied STOP to the sender: that is an opt-out.
TWILIO_OPTED_OUT = "21610"


@dataclass(frozen=True)
class Transition:
    status: pb.CommunicationStatus.ValueType
    reason: str


def provider_name(channel: common_pb2.Channel.ValueType) -> str:
    return "Twilio" if channel == common_pb2.CHANNEL_SMS else "SendGrid"


def describe(
    channel: common_pb2.Channel.ValueType, provider_status: str, error_code: str, provider: str = ""
) -> str:
    """status_reason for a report, e.g. "Twilio 30007: carrier filtered". `provider` names
    who sent it when known (HighLevel carries both channels); else the channel's default."""
    name = provider or provider_name(channel)
    word = provider_status.strip().lower()
    code = error_code.strip()
    if channel == common_pb2.CHANNEL_SMS and code and name == "Twilio":
        meaning = TWILIO_ERRORS.get(code)
        return f"{name} {code}: {meaning}" if meaning else f"{name} {code} ({word})"
    if word == "deferred":
        return f"{name} deferred: the receiving server asked to retry later"
    return f"{name} {word} ({code})" if code else f"{name} {word}"


def advance(
    current: pb.CommunicationStatus.ValueType,
    channel: common_pb2.Channel.ValueType,
    provider_status: str,
    error_code: str = "",
    provider: str = "",
) -> Transition | None:
    """The new status and reason, or None when the report changes nothing: an unknown
    word, a status we do not track (SIMULATED, BLOCKED, RECEIVED, ...), or one that
    would move backwards or sideways."""
    target = STATUS_WORDS.get(provider_status.strip().lower())
    if target is None or current not in _RANK:
        return None
    if _RANK[target] <= _RANK[current]:
        return None
    # A plain step forward needs no words; a failure, an error code or a deferral does.
    word = provider_status.strip().lower()
    explain = target in (UNDELIVERED, FAILED) or bool(error_code.strip()) or word == "deferred"
    reason = describe(channel, provider_status, error_code, provider) if explain else ""
    return Transition(target, reason)


def opts_out(channel: common_pb2.Channel.ValueType, error_code: str) -> bool:
    return channel == common_pb2.CHANNEL_SMS and error_code.strip() == TWILIO_OPTED_OUT
