"""What one provider webhook event says, checked and normalised. Pure: no I/O.

Which lead or location an event belongs to often needs the database (see
`services.ingest.matching`); this package only reads the payload into one
Action and names the tenant when the payload does. Anything that cannot be
read raises PayloadError: the event is then kept raw with that reason and
acknowledged, because a payload problem is never the sender's cue to retry.
"""

from __future__ import annotations

from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.webhooks import ghl, sendgrid, twilio
from services.ingest.webhooks.actions import (
    MAX_DETAIL,
    Action,
    AppInstall,
    ContactEvent,
    ContactMessage,
    EmailEvent,
    LeadDelete,
    LeadUpsert,
    NoAction,
    Parsed,
    PayloadError,
    SmsInbound,
    SmsStatus,
)

TWILIO_INBOUND = twilio.INBOUND
TWILIO_STATUS = twilio.STATUS


def parse(provider: int, event_type: str, payload: bytes, location_id: str, receive_time: datetime) -> Parsed:
    """One event's Action. location_id is the tenant the gateway named ("" when it could not)."""
    if provider == pb.PROVIDER_GHL:
        return ghl.parse(event_type, payload, location_id, receive_time)
    if provider == pb.PROVIDER_TWILIO:
        return twilio.parse(event_type, payload, location_id, receive_time)
    if provider == pb.PROVIDER_SENDGRID:
        return sendgrid.parse(event_type, payload, location_id, receive_time)
    raise PayloadError(f"no parser for provider {provider}")


__all__ = [
    "MAX_DETAIL",
    "TWILIO_INBOUND",
    "TWILIO_STATUS",
    "Action",
    "AppInstall",
    "ContactEvent",
    "ContactMessage",
    "EmailEvent",
    "LeadDelete",
    "LeadUpsert",
    "NoAction",
    "Parsed",
    "PayloadError",
    "SmsInbound",
    "SmsStatus",
    "parse",
]
