"""A lead event from ingest's outbox, checked and turned into domain values.

Which fields each kind needs: the lead kinds, INBOUND_MESSAGE and OUTBOUND_MESSAGE
name a lead; DELIVERY_STATUS and SUPPRESSION may not (a provider names only its
message or an address), but a lead they do name must be a valid id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from shared import contact, inputs, timestamps
from shared.errors import FieldViolation, InvalidArgument

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL

LEAD_KINDS = frozenset(
    {
        pb.LEAD_EVENT_KIND_LEAD_CREATED,
        pb.LEAD_EVENT_KIND_LEAD_UPDATED,
        pb.LEAD_EVENT_KIND_LEAD_DELETED,
        pb.LEAD_EVENT_KIND_BEHAVIOR,
    }
)
MESSAGE_KINDS = frozenset({pb.LEAD_EVENT_KIND_INBOUND_MESSAGE, pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE})
# The kinds that may carry the lead itself (LeadEventEnvelope.lead).
SNAPSHOT_KINDS = frozenset({pb.LEAD_EVENT_KIND_LEAD_CREATED, pb.LEAD_EVENT_KIND_LEAD_UPDATED})
# The envelope's oneof-like fact fields, spelled as HasField accepts them.
_FactField = Literal["message", "delivery", "suppression"]
_FACTS: dict[pb.LeadEventKind.ValueType, _FactField] = {
    pb.LEAD_EVENT_KIND_INBOUND_MESSAGE: "message",
    pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE: "message",
    pb.LEAD_EVENT_KIND_DELIVERY_STATUS: "delivery",
    pb.LEAD_EVENT_KIND_SUPPRESSION: "suppression",
}


@dataclass(frozen=True)
class MessageIn:
    """MessageFacts: a message the lead wrote, or one a person sent them from the CRM."""

    channel: common_pb2.Channel.ValueType
    body: str
    subject: str
    # As the provider gave it (trimmed): what the row records.
    address: str
    # Normalised (E.164 / lower-cased), or "" when it does not parse: what suppressions key on.
    address_key: str
    provider_message_id: str


@dataclass(frozen=True)
class DeliveryReport:
    provider_message_id: str
    provider_status: str  # lower case
    error_code: str
    channel: common_pb2.Channel.ValueType


@dataclass(frozen=True)
class SuppressionIn:
    channel: common_pb2.Channel.ValueType
    address: str  # normalised; "" only when the event names a lead
    reason: str


@dataclass(frozen=True)
class Envelope:
    event_id: str
    kind: pb.LeadEventKind.ValueType
    # None only for DELIVERY_STATUS and SUPPRESSION events that name no lead.
    lead_id: uuid.UUID | None
    location_id: str
    # When it happened at the source; None when ingest did not say.
    occurred_time: datetime | None = None
    message: MessageIn | None = None
    delivery: DeliveryReport | None = None
    suppression: SuppressionIn | None = None
    # The lead as ingest published it with LEAD_CREATED / LEAD_UPDATED; None when the
    # event carries none (then the coordinator asks ingest).
    snapshot: ingest_pb.Lead | None = None
    # BEHAVIOR: ingest's event type name, e.g. "listing_view" or "opportunity_won".
    behavior_type: str = ""

    @property
    def lead(self) -> uuid.UUID:
        """The lead of a kind that requires one (checked when the envelope was parsed)."""
        if self.lead_id is None:
            raise ValueError(f"event {self.event_id} names no lead")
        return self.lead_id


def _missing(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field} is required: {why}", reason="MISSING_FIELD", violations=[FieldViolation(field, why)]
    )


def _channel(value: common_pb2.Channel.ValueType, field: str) -> common_pb2.Channel.ValueType:
    if value in (SMS, EMAIL):
        return value
    if value == common_pb2.CHANNEL_UNSPECIFIED:
        raise _missing(field, "CHANNEL_SMS or CHANNEL_EMAIL")
    raise InvalidArgument(
        f"{field} {value} is not a channel LeadEngine handles",
        reason="INVALID_CHANNEL",
        violations=[FieldViolation(field, "CHANNEL_SMS or CHANNEL_EMAIL")],
    )


def normalize_address(channel: common_pb2.Channel.ValueType, raw: str, field: str) -> str:
    """E.164 for SMS, lower-cased for email; raises InvalidArgument naming field."""
    value = contact.normalize_phone(raw, field) if channel == SMS else contact.normalize_email(raw, field)
    if not value:
        raise _missing(field, "the phone number or email address")
    return value


def _address_key(channel: common_pb2.Channel.ValueType, raw: str) -> str:
    try:
        return normalize_address(channel, raw, "address")
    except InvalidArgument:
        return ""


def _optional_text(raw: str, field: str, max_len: int = 200) -> str:
    return inputs.require_text(raw, field, max_len=max_len) if raw.strip() else ""


def _message(facts: pb.MessageFacts) -> MessageIn:
    channel = _channel(facts.channel, "event.message.channel")
    address = facts.lead_address.strip()
    return MessageIn(
        channel=channel,
        body=facts.body,
        subject=facts.subject,
        address=address[:320],
        address_key=_address_key(channel, address),
        provider_message_id=_optional_text(facts.provider_message_id, "event.message.provider_message_id"),
    )


def _delivery(facts: pb.DeliveryFacts) -> DeliveryReport:
    channel = facts.channel
    if channel not in (common_pb2.CHANNEL_UNSPECIFIED, SMS, EMAIL):
        _channel(channel, "event.delivery.channel")
    return DeliveryReport(
        provider_message_id=inputs.require_text(
            facts.provider_message_id, "event.delivery.provider_message_id"
        ),
        provider_status=inputs.require_text(
            facts.provider_status, "event.delivery.provider_status", max_len=64
        ).lower(),
        error_code=_optional_text(facts.error_code, "event.delivery.error_code", max_len=64),
        channel=channel,
    )


def _suppression(facts: pb.SuppressionFacts, has_lead: bool) -> SuppressionIn:
    channel = _channel(facts.channel, "event.suppression.channel")
    # A lead without an address on that channel (CRM DND on a lead with no phone) still
    # gets its own opt-out; an address alone must be one.
    address = (
        normalize_address(channel, facts.address, "event.suppression.address")
        if facts.address.strip() or not has_lead
        else ""
    )
    return SuppressionIn(channel=channel, address=address, reason=facts.reason.strip()[:500] or "suppressed")


def _snapshot(event: pb.LeadEventEnvelope, lead_id: uuid.UUID | None) -> ingest_pb.Lead | None:
    if event.kind not in SNAPSHOT_KINDS or not event.HasField("lead"):
        return None
    try:
        same = uuid.UUID(event.lead.lead_id) == lead_id
    except ValueError:
        same = False
    if not same:
        # Acting on another lead's facts would write its consent onto this one.
        raise InvalidArgument(
            f"event.lead.lead_id {event.lead.lead_id!r} is not event.lead_id {str(lead_id)!r}",
            violations=[
                FieldViolation("event.lead.lead_id", "must equal event.lead_id, or leave lead unset")
            ],
        )
    return event.lead


def parse(event: pb.LeadEventEnvelope) -> Envelope:
    event_id = inputs.require_text(event.event_id, "event.event_id")
    kind = event.kind
    if kind == pb.LEAD_EVENT_KIND_UNSPECIFIED or kind not in pb.LeadEventKind.values():
        raise InvalidArgument(
            "event.kind is required"
            if kind == pb.LEAD_EVENT_KIND_UNSPECIFIED
            else f"event.kind {kind} is unknown",
            reason="MISSING_FIELD" if kind == pb.LEAD_EVENT_KIND_UNSPECIFIED else "INVALID_KIND",
            violations=[FieldViolation("event.kind", "one of the LeadEventKind values but UNSPECIFIED")],
        )
    # An inbound text ingest could name no lead for still counts: its sender may be opting out.
    needs_lead = kind in LEAD_KINDS or kind == pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE
    lead_id = (
        inputs.parse_uuid(event.lead_id, "event.lead_id", what="lead id")
        if needs_lead or event.lead_id
        else None
    )
    facts_field = _FACTS.get(kind)
    if facts_field is not None and not event.HasField(facts_field):
        raise _missing(f"event.{facts_field}", f"{pb.LeadEventKind.Name(kind)} carries its facts there")
    if kind == pb.LEAD_EVENT_KIND_APP_UNINSTALLED:
        inputs.require_text(event.location_id, "event.location_id")
    if kind == pb.LEAD_EVENT_KIND_INBOUND_MESSAGE and lead_id is None:
        normalize_address(event.message.channel, event.message.lead_address, "event.message.lead_address")
    return Envelope(
        event_id=event_id,
        kind=kind,
        lead_id=lead_id,
        location_id=event.location_id.strip(),
        occurred_time=timestamps.from_proto(event.occurred_time) if event.HasField("occurred_time") else None,
        message=_message(event.message) if facts_field == "message" else None,
        delivery=_delivery(event.delivery) if facts_field == "delivery" else None,
        suppression=(
            _suppression(event.suppression, lead_id is not None) if facts_field == "suppression" else None
        ),
        snapshot=_snapshot(event, lead_id),
        behavior_type=event.behavior_type.strip(),
    )
