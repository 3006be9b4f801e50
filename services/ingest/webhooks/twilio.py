"""Twilio webhooks: inbound SMS and message status callbacks. Pure."""

from __future__ import annotations

from datetime import datetime

from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from services.ingest.webhooks.actions import NoAction, Parsed, SmsInbound, SmsStatus
from services.ingest.webhooks.reading import form_fields, ident, invalid, location
from shared import contact
from shared.errors import InvalidArgument

# The event types the gateway names Twilio's two callbacks by.
INBOUND = "twilio.inbound_sms"
STATUS = "twilio.status_callback"


def parse(event_type: str, payload: bytes, envelope_location: str, receive_time: datetime) -> Parsed:
    form = form_fields(payload)
    location_id = location(None, envelope_location)
    kind = event_type.strip()
    if kind == INBOUND:
        sender = ident(form, "From")
        try:
            phone = contact.normalize_phone(sender, "From")
        except InvalidArgument as err:
            raise invalid(err, location_id) from None
        facts = coordinator_pb.MessageFacts(
            channel=common_pb.CHANNEL_SMS,
            body=form.get("Body", ""),
            lead_address=phone,
            our_address=form.get("To", "").strip(),
            provider_message_id=ident(form, "MessageSid"),
        )
        return Parsed(location_id, receive_time, SmsInbound(facts))
    if kind == STATUS:
        delivery = coordinator_pb.DeliveryFacts(
            provider_message_id=ident(form, "MessageSid"),
            provider_status=ident(form, "MessageStatus").lower(),
            error_code=form.get("ErrorCode", "").strip(),
            channel=common_pb.CHANNEL_SMS,
        )
        return Parsed(location_id, receive_time, SmsStatus(delivery, form.get("From", "").strip()))
    return Parsed(location_id, receive_time, NoAction(f"no action for Twilio event {kind[:100]!r}"))
