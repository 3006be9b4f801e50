"""What one provider webhook event says, checked and normalised. Pure: no I/O.

Which lead or location an event belongs to often needs the database; this module
only reads the payload into one Action and names the tenant when the payload
does. Anything that cannot be read raises PayloadError: the event is then kept
raw with that reason and acknowledged, because a payload problem is never the
sender's cue to retry.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import leads
from services.ingest.leads import LeadFields
from shared import contact
from shared.errors import InvalidArgument

TWILIO_INBOUND = "twilio.inbound_sms"
TWILIO_STATUS = "twilio.status_callback"
MAX_LOCATION_ID = 200
MAX_DETAIL = 500

GHL_CONTACT_UPSERTS = frozenset({"ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate"})
# GHL sends status "active" or "permanent" for a channel the contact must not be reached on.
_DND_ON = frozenset({"active", "permanent"})
_GHL_TEXT = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "city": "city",
    "state": "state",
    "country": "country",
    "companyName": "company",
    "timezone": "timezone",
}
_GHL_CHANNELS = {"sms": common_pb.CHANNEL_SMS, "email": common_pb.CHANNEL_EMAIL}

SENDGRID_DELIVERY = frozenset({"processed", "delivered", "deferred", "bounce", "dropped"})
SENDGRID_SUPPRESS = frozenset({"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"})
_SENDGRID_BEHAVIOR = {"open": pb.EVENT_TYPE_EMAIL_OPEN, "click": pb.EVENT_TYPE_EMAIL_CLICK}


class PayloadError(Exception):
    """The payload cannot be normalised. location_id is the tenant, when it was read before the fault."""

    def __init__(self, detail: str, location_id: str = "") -> None:
        super().__init__(detail[:MAX_DETAIL])
        self.detail = detail[:MAX_DETAIL]
        self.location_id = location_id


# -- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadUpsert:
    external_id: str
    fields: LeadFields
    paths: frozenset[str]
    # Written only when the contact is new to us (where the lead first came from).
    create_only: frozenset[str]


@dataclass(frozen=True)
class LeadDelete:
    external_id: str


@dataclass(frozen=True)
class ContactMessage:
    """A message in a CRM conversation; addresses the CRM left out come from the lead."""

    contact_id: str
    inbound: bool
    facts: coordinator_pb.MessageFacts


@dataclass(frozen=True)
class ContactEvent:
    contact_id: str
    type: pb.EventType.ValueType
    properties: dict[str, Any]


@dataclass(frozen=True)
class SmsInbound:
    facts: coordinator_pb.MessageFacts


@dataclass(frozen=True)
class SmsStatus:
    delivery: coordinator_pb.DeliveryFacts
    our_number: str


@dataclass(frozen=True)
class EmailEvent:
    lead_id: uuid.UUID | None
    email: str
    delivery: coordinator_pb.DeliveryFacts | None
    suppression: coordinator_pb.SuppressionFacts | None
    behavior: pb.EventType.ValueType  # EVENT_TYPE_UNSPECIFIED for none
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoAction:
    detail: str


Action = (
    LeadUpsert | LeadDelete | ContactMessage | ContactEvent | SmsInbound | SmsStatus | EmailEvent | NoAction
)


@dataclass(frozen=True)
class Parsed:
    # "" when the payload does not name its tenant; the database may still find it.
    location_id: str
    occurred: datetime
    action: Action


def parse(provider: int, event_type: str, payload: bytes, location_id: str, receive_time: datetime) -> Parsed:
    """One event's Action. location_id is the tenant the gateway named ("" when it could not)."""
    if provider == pb.PROVIDER_GHL:
        return _ghl(event_type, payload, location_id, receive_time)
    if provider == pb.PROVIDER_TWILIO:
        return _twilio(event_type, payload, location_id, receive_time)
    if provider == pb.PROVIDER_SENDGRID:
        return _sendgrid(event_type, payload, location_id, receive_time)
    raise PayloadError(f"no parser for provider {provider}")


# -- reading values --------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"payload holds {name}, which is not a JSON number")


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise PayloadError(f"payload number {raw[:20]} is out of range")
    return value


def json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload, parse_constant=_reject_constant, parse_float=_finite)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"payload is not JSON: {type(err).__name__}") from None
    if not isinstance(value, dict):
        raise PayloadError("payload is not a JSON object")
    _reject_nul(value)
    return value


def _reject_nul(value: Any) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000; refuse it once here instead of per column."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise PayloadError("payload contains a NUL character")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _text(obj: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string value; None when absent or null, since a null never blanks what we hold."""
    value = obj.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{key} must be a string, not {type(value).__name__}")
    if required and not value.strip():
        raise PayloadError(f"{key} is required")
    return value


def _ident(obj: dict[str, Any], key: str) -> str:
    value = (_text(obj, key, required=True) or "").strip()
    if len(value) > MAX_LOCATION_ID:
        raise PayloadError(f"{key} is {len(value)} characters; the limit is {MAX_LOCATION_ID}")
    return value


def _location(named: str | None, envelope: str) -> str:
    """The tenant: the gateway's, else the payload's; they must agree when both are given."""
    value = (named or "").strip()
    if len(value) > MAX_LOCATION_ID:
        raise PayloadError(f"location id is {len(value)} characters; the limit is {MAX_LOCATION_ID}")
    if envelope and value and value != envelope:
        raise PayloadError(f"payload location {value!r} differs from the event's location_id", envelope)
    return envelope or value


def _iso_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _unix_time(raw: Any) -> datetime | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        return datetime.fromtimestamp(raw, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _invalid(err: InvalidArgument, location_id: str) -> PayloadError:
    where = err.violations[0].field if err.violations else "payload"
    return PayloadError(f"{where}: {err.message}", location_id)


# -- HighLevel -------------------------------------------------------------------------------


def _ghl(event_type: str, payload: bytes, envelope_location: str, receive_time: datetime) -> Parsed:
    obj = json_object(payload)
    kind = event_type.strip() or (_text(obj, "type") or "").strip()
    location_id = _location(_text(obj, "locationId"), envelope_location)
    occurred = _iso_time(obj.get("timestamp")) or _iso_time(obj.get("dateAdded")) or receive_time
    try:
        action = _ghl_action(kind, obj, location_id)
    except InvalidArgument as err:
        raise _invalid(err, location_id) from None
    except PayloadError as err:
        raise PayloadError(err.detail, location_id) from None
    if not location_id and not isinstance(action, NoAction):
        raise PayloadError(f"{kind} names no locationId")
    return Parsed(location_id, occurred, action)


def _ghl_action(kind: str, obj: dict[str, Any], location_id: str) -> Action:
    if kind in GHL_CONTACT_UPSERTS:
        return ghl_contact(obj, dnd_missing_means_off=kind == "ContactDndUpdate")
    if kind == "ContactDelete":
        return LeadDelete(_ident(obj, "id"))
    if kind in ("InboundMessage", "OutboundMessage"):
        return _ghl_message(kind, obj)
    if kind.startswith("Appointment"):
        return _ghl_appointment(kind, obj)
    return NoAction(f"no action for {kind[:100] or 'an event without a type'}")


def ghl_contact(obj: dict[str, Any], *, dnd_missing_means_off: bool = False) -> LeadUpsert:
    """A GHL contact as a partial lead: only the keys the payload carries become update paths."""
    contact_id = _ident(obj, "id")
    lead = pb.Lead(external_contact_id=contact_id)
    paths: set[str] = set()
    for key, name in _GHL_TEXT.items():
        value = _text(obj, key)
        if value is not None:
            setattr(lead, name, value)
            paths.add(name)
    full_name = _text(obj, "name")
    if not paths & {"first_name", "last_name"} and full_name and full_name.strip():
        first, _, last = full_name.strip().partition(" ")
        lead.first_name, lead.last_name = first, last.strip()
        paths |= {"first_name", "last_name"}
    tags = obj.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise PayloadError("tags must be a list of strings")
        lead.tags.extend(tags)  # the full current list, also on ContactTagUpdate: it replaces ours
        paths.add("tags")
    custom = obj.get("customFields")
    if custom is not None:
        lead.custom_fields.update(_custom_fields(custom))
        paths.add("custom_fields")
    for name, on in _dnd(obj, missing_means_off=dnd_missing_means_off).items():
        setattr(lead, name, on)
        paths.add(name)
    lead.source = source_of(_text(obj, "source"))
    fields = leads.from_proto(lead)
    return LeadUpsert(contact_id, fields, frozenset(paths | {"source"}), frozenset({"source"}))


def _custom_fields(raw: Any) -> dict[str, Any]:
    """GHL's [{id, value}] as {id: value}."""
    if not isinstance(raw, list):
        raise PayloadError("customFields must be a list of {id, value}")
    result: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise PayloadError("customFields must be a list of {id, value}")
        result[item["id"]] = item.get("value")
    return result


def _dnd(obj: dict[str, Any], *, missing_means_off: bool) -> dict[str, bool]:
    """sms_dnd / email_dnd for the channels the payload speaks about. `dnd` true covers every
    channel; dndSettings.<SMS|Email>.status says it per channel."""
    dnd = obj.get("dnd")
    if dnd is not None and not isinstance(dnd, bool):
        raise PayloadError("dnd must be true or false")
    settings = obj.get("dndSettings")
    if settings is not None and not isinstance(settings, dict):
        raise PayloadError("dndSettings must be an object")
    result: dict[str, bool] = {}
    for key, name in (("SMS", "sms_dnd"), ("Email", "email_dnd")):
        entry = (settings or {}).get(key)
        status = entry.get("status") if isinstance(entry, dict) else None
        status = status.strip().lower() if isinstance(status, str) else None
        if dnd is True or status in _DND_ON:
            result[name] = True
        elif dnd is False or status is not None or missing_means_off:
            result[name] = False
    return result


def source_of(text: str | None) -> pb.LeadSource.ValueType:
    """GHL's free-text source as our LeadSource; a contact from GHL is LEAD_SOURCE_GHL unless
    its source names where GHL got it from."""
    value = (text or "").lower()
    if any(w in value for w in ("zillow", "realtor", "trulia", "redfin", "homes.com", "portal")):
        return pb.LEAD_SOURCE_PORTAL
    if "referr" in value:
        return pb.LEAD_SOURCE_REFERRAL
    if "open house" in value or "open-house" in value or "openhouse" in value:
        return pb.LEAD_SOURCE_OPEN_HOUSE
    if any(w in value for w in ("form", "website", "landing", "funnel")):
        return pb.LEAD_SOURCE_WEB_FORM
    return pb.LEAD_SOURCE_GHL


def _email_address(raw: str | None) -> str:
    """The address of 'Name <a@b>' or 'a@b', lower-cased; "" when it is not one."""
    if not raw:
        return ""
    try:
        return contact.normalize_email(parseaddr(raw)[1], "address")
    except InvalidArgument:
        return ""


def _ghl_message(kind: str, obj: dict[str, Any]) -> Action:
    inbound = kind == "InboundMessage"
    contact_id = _ident(obj, "contactId")
    raw_type = (_text(obj, "messageType") or "").strip()
    channel = _GHL_CHANNELS.get(raw_type.lower().removeprefix("type_"))
    if channel is None:
        return NoAction(f"no action for {raw_type[:40] or 'untyped'} {kind}")
    lead_address = our_address = ""
    if channel == common_pb.CHANNEL_EMAIL:
        sender = _email_address(_text(obj, "from"))
        to = obj.get("to")
        first_to = to[0] if isinstance(to, list) and to and isinstance(to[0], str) else None
        recipient = _email_address(first_to if first_to is not None else _text(obj, "to"))
        lead_address, our_address = (sender, recipient) if inbound else (recipient, sender)
    facts = coordinator_pb.MessageFacts(
        channel=channel,
        body=_text(obj, "body") or "",
        subject=_text(obj, "subject") or "",
        lead_address=lead_address,
        our_address=our_address,
        provider_message_id=_text(obj, "messageId") or "",
    )
    return ContactMessage(contact_id, inbound, facts)


def _ghl_appointment(kind: str, obj: dict[str, Any]) -> ContactEvent:
    nested = obj.get("appointment")
    appointment = nested if isinstance(nested, dict) else obj
    contact_id = _ident(appointment, "contactId")
    properties: dict[str, Any] = {"ghl_type": kind[:100]}
    for key, name in (("id", "appointment_id"), ("appointmentStatus", "status"), ("startTime", "start_time")):
        value = appointment.get(key)
        if isinstance(value, str):
            properties[name] = value[:200]
    return ContactEvent(contact_id, pb.EVENT_TYPE_APPOINTMENT, properties)


# -- Twilio ----------------------------------------------------------------------------------


def form_fields(payload: bytes) -> dict[str, str]:
    """A form body as {name: first value}."""
    try:
        text = payload.decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("payload is not a UTF-8 form body") from None
    result: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise PayloadError("payload contains a NUL character")
        result.setdefault(name, value)
    return result


def _twilio(event_type: str, payload: bytes, envelope_location: str, receive_time: datetime) -> Parsed:
    form = form_fields(payload)
    location_id = _location(None, envelope_location)
    kind = event_type.strip()
    if kind == TWILIO_INBOUND:
        sender = _ident(form, "From")
        try:
            phone = contact.normalize_phone(sender, "From")
        except InvalidArgument as err:
            raise _invalid(err, location_id) from None
        facts = coordinator_pb.MessageFacts(
            channel=common_pb.CHANNEL_SMS,
            body=form.get("Body", ""),
            lead_address=phone,
            our_address=form.get("To", "").strip(),
            provider_message_id=_ident(form, "MessageSid"),
        )
        return Parsed(location_id, receive_time, SmsInbound(facts))
    if kind == TWILIO_STATUS:
        delivery = coordinator_pb.DeliveryFacts(
            provider_message_id=_ident(form, "MessageSid"),
            provider_status=_ident(form, "MessageStatus").lower(),
            error_code=form.get("ErrorCode", "").strip(),
            channel=common_pb.CHANNEL_SMS,
        )
        return Parsed(location_id, receive_time, SmsStatus(delivery, form.get("From", "").strip()))
    return Parsed(location_id, receive_time, NoAction(f"no action for Twilio event {kind[:100]!r}"))


# -- SendGrid --------------------------------------------------------------------------------


def _sendgrid(event_type: str, payload: bytes, envelope_location: str, receive_time: datetime) -> Parsed:
    obj = json_object(payload)
    # Our custom args arrive flattened as top-level keys.
    location_id = _location(_text(obj, "location_id"), envelope_location)
    event = ((_text(obj, "event") or "").strip() or event_type.strip()).lower()
    occurred = _unix_time(obj.get("timestamp")) or receive_time
    raw_lead = (_text(obj, "lead_id") or "").strip()
    try:
        lead_id: uuid.UUID | None = uuid.UUID(raw_lead) if raw_lead else None
    except ValueError:
        lead_id = None  # not one of ours: the email still finds the lead
    raw_email = _text(obj, "email") or ""
    message_id = (_text(obj, "sg_message_id") or "").strip()
    bounce_type = (_text(obj, "type") or "").strip().lower()

    delivery = None
    if event in SENDGRID_DELIVERY and message_id:
        error_code = (_text(obj, "status") or "") if event in ("bounce", "dropped") else ""
        delivery = coordinator_pb.DeliveryFacts(
            provider_message_id=message_id,
            provider_status=event,
            error_code=error_code.strip()[:40],
            channel=common_pb.CHANNEL_EMAIL,
        )
    # A "blocked" bounce is the receiving server refusing us for now, not a dead address.
    suppress = event in SENDGRID_SUPPRESS and not (event == "bounce" and bounce_type == "blocked")
    suppression = None
    if suppress:
        try:
            address = contact.normalize_email(raw_email, "email")
        except InvalidArgument as err:
            raise _invalid(err, location_id) from None
        if not address:
            raise PayloadError(f"a {event} event without an email cannot suppress anyone", location_id)
        suppression = coordinator_pb.SuppressionFacts(
            channel=common_pb.CHANNEL_EMAIL, address=address, reason=f"SendGrid {event}"
        )
    behavior = _SENDGRID_BEHAVIOR.get(event, pb.EVENT_TYPE_UNSPECIFIED)
    properties: dict[str, Any] = {}
    if behavior:
        if obj.get("sg_machine_open") is True:
            # Apple Mail Privacy Protection opens every message: not the lead's engagement.
            return Parsed(location_id, occurred, NoAction("machine open: not counted as engagement"))
        properties = {"sg_message_id": message_id[:200]}
        url = _text(obj, "url")
        if url:
            properties["url"] = url[:2000]
    if delivery is None and suppression is None and not behavior:
        return Parsed(location_id, occurred, NoAction(f"no action for SendGrid {event[:60] or 'event'}"))
    email = _email_address(raw_email)
    action = EmailEvent(lead_id, email, delivery, suppression, behavior, properties)
    return Parsed(location_id, occurred, action)
