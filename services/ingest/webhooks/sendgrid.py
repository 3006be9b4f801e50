"""SendGrid event webhooks: delivery reports, suppressions, opens and clicks. Pure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.webhooks.actions import EmailEvent, NoAction, Parsed, PayloadError
from services.ingest.webhooks.reading import email_address, invalid, json_object, location, text, unix_time
from shared import contact
from shared.errors import InvalidArgument

DELIVERY = frozenset({"processed", "delivered", "deferred", "bounce", "dropped"})
SUPPRESS = frozenset({"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"})
_BEHAVIOR = {"open": pb.EVENT_TYPE_EMAIL_OPEN, "click": pb.EVENT_TYPE_EMAIL_CLICK}


def parse(event_type: str, payload: bytes, envelope_location: str, receive_time: datetime) -> Parsed:
    obj = json_object(payload)
    # Our custom args arrive flattened as top-level keys.
    location_id = location(text(obj, "location_id"), envelope_location)
    event = ((text(obj, "event") or "").strip() or event_type.strip()).lower()
    occurred = unix_time(obj.get("timestamp")) or receive_time
    raw_lead = (text(obj, "lead_id") or "").strip()
    try:
        lead_id: uuid.UUID | None = uuid.UUID(raw_lead) if raw_lead else None
    except ValueError:
        lead_id = None  # not one of ours: the email still finds the lead
    raw_email = text(obj, "email") or ""
    message_id = (text(obj, "sg_message_id") or "").strip()
    bounce_type = (text(obj, "type") or "").strip().lower()

    delivery = None
    if event in DELIVERY and message_id:
        error_code = (text(obj, "status") or "") if event in ("bounce", "dropped") else ""
        delivery = coordinator_pb.DeliveryFacts(
            provider_message_id=message_id,
            provider_status=event,
            error_code=error_code.strip()[:40],
            channel=common_pb.CHANNEL_EMAIL,
        )
    # A "blocked" bounce is the receiving server refusing us for now, not a dead address.
    suppress = event in SUPPRESS and not (event == "bounce" and bounce_type == "blocked")
    suppression = None
    if suppress:
        try:
            address = contact.normalize_email(raw_email, "email")
        except InvalidArgument as err:
            raise invalid(err, location_id) from None
        if not address:
            raise PayloadError(f"a {event} event without an email cannot suppress anyone", location_id)
        suppression = coordinator_pb.SuppressionFacts(
            channel=common_pb.CHANNEL_EMAIL, address=address, reason=f"SendGrid {event}"
        )
    behavior = _BEHAVIOR.get(event, pb.EVENT_TYPE_UNSPECIFIED)
    properties: dict[str, Any] = {}
    if behavior:
        if obj.get("sg_machine_open") is True:
            # Apple Mail Privacy Protection opens every message: not the lead's engagement.
            return Parsed(location_id, occurred, NoAction("machine open: not counted as engagement"))
        properties = {"sg_message_id": message_id[:200]}
        url = text(obj, "url")
        if url:
            properties["url"] = url[:2000]
    if delivery is None and suppression is None and not behavior:
        return Parsed(location_id, occurred, NoAction(f"no action for SendGrid {event[:60] or 'event'}"))
    action = EmailEvent(lead_id, email_address(raw_email), delivery, suppression, behavior, properties)
    return Parsed(location_id, occurred, action)
