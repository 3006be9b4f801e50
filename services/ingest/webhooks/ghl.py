"""HighLevel (GHL) webhooks: contacts, conversation messages and appointments. Pure."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import leads
from services.ingest.webhooks.actions import (
    Action,
    AppInstall,
    ContactEvent,
    ContactMessage,
    LeadDelete,
    LeadUpsert,
    NoAction,
    Parsed,
    PayloadError,
)
from services.ingest.webhooks.reading import (
    email_address,
    ident,
    invalid,
    iso_time,
    json_object,
    location,
    text,
)
from shared.errors import InvalidArgument

APP_EVENTS = frozenset({"INSTALL", "UNINSTALL"})
CONTACT_UPSERTS = frozenset({"ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate"})
# GHL sends status "active" or "permanent" for a channel the contact must not be reached on.
_DND_ON = frozenset({"active", "permanent"})
_TEXT = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "city": "city",
    "state": "state",
    "country": "country",
    "companyName": "company",
    "timezone": "timezone",
    "postalCode": "postal_code",
}
# GHL contacts carry no intent or language field: locations tag them. Tags compare trimmed and
# case-insensitively; "buyer" and "seller" together mean both.
_INTENT_TAGS = {
    "buyer": pb.LEAD_INTENT_BUYER,
    "seller": pb.LEAD_INTENT_SELLER,
    "renter": pb.LEAD_INTENT_RENTER,
    "investor": pb.LEAD_INTENT_INVESTOR,
}
LANGUAGE_TAG_PREFIX = "lang:"
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")


def tagged_intent(tags: list[str]) -> pb.LeadIntent.ValueType:
    """The intent the tags name; UNSPECIFIED when none does."""
    found = {_INTENT_TAGS[k] for k in (t.strip().lower() for t in tags) if k in _INTENT_TAGS}
    if {pb.LEAD_INTENT_BUYER, pb.LEAD_INTENT_SELLER} <= found:
        return pb.LEAD_INTENT_BUYER_AND_SELLER
    for intent in (
        pb.LEAD_INTENT_BUYER,
        pb.LEAD_INTENT_SELLER,
        pb.LEAD_INTENT_INVESTOR,
        pb.LEAD_INTENT_RENTER,
    ):
        if intent in found:
            return intent
    return pb.LEAD_INTENT_UNSPECIFIED


def tagged_language(tags: list[str]) -> str:
    """The language of the first "lang:xx" tag; "" when there is none."""
    for tag in tags:
        key = tag.strip().lower()
        language = key.removeprefix(LANGUAGE_TAG_PREFIX).strip()
        # A malformed tag ("lang:spanish!") is a CRM user's typo, not a reason to refuse the event.
        if key.startswith(LANGUAGE_TAG_PREFIX) and _LANGUAGE.fullmatch(language):
            return language
    return ""


_CHANNELS = {"sms": common_pb.CHANNEL_SMS, "email": common_pb.CHANNEL_EMAIL}


def parse(event_type: str, payload: bytes, envelope_location: str, receive_time: datetime) -> Parsed:
    obj = json_object(payload)
    kind = event_type.strip() or (text(obj, "type") or "").strip()
    if kind in APP_EVENTS:
        return _app_install(kind, obj, envelope_location, receive_time)
    location_id = location(text(obj, "locationId"), envelope_location)
    occurred = iso_time(obj.get("timestamp")) or iso_time(obj.get("dateAdded")) or receive_time
    try:
        action = _action(kind, obj)
    except InvalidArgument as err:
        raise invalid(err, location_id) from None
    except PayloadError as err:
        raise PayloadError(err.detail, location_id) from None
    if not location_id and not isinstance(action, NoAction):
        raise PayloadError(f"{kind} names no locationId")
    return Parsed(location_id, occurred, action)


def _action(kind: str, obj: dict[str, Any]) -> Action:
    if kind in CONTACT_UPSERTS:
        return contact(obj, dnd_missing_means_off=kind == "ContactDndUpdate")
    if kind == "ContactDelete":
        return LeadDelete(ident(obj, "id"))
    if kind in ("InboundMessage", "OutboundMessage"):
        return _message(kind, obj)
    if kind.startswith("Appointment"):
        return _appointment(kind, obj)
    if kind == "OpportunityStatusUpdate":
        return _opportunity(kind, obj)
    return NoAction(f"no action for {kind[:100] or 'an event without a type'}")


def contact(obj: dict[str, Any], *, dnd_missing_means_off: bool = False) -> LeadUpsert:
    """A GHL contact as a partial lead: only the keys the payload carries become update paths."""
    contact_id = ident(obj, "id")
    lead = pb.Lead(external_contact_id=contact_id)
    paths: set[str] = set()
    for key, name in _TEXT.items():
        value = text(obj, key)
        if value is not None:
            setattr(lead, name, value)
            paths.add(name)
    full_name = text(obj, "name")
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
        # Only a tag that names one sets intent or language: an untagged list keeps what an
        # UpsertLead or an earlier tag set.
        lead.intent = tagged_intent(tags)
        if lead.intent:
            paths.add("intent")
        lead.preferred_language = tagged_language(tags)
        if lead.preferred_language:
            paths.add("preferred_language")
    custom = obj.get("customFields")
    if custom is not None:
        lead.custom_fields.update(_custom_fields(custom))
        paths.add("custom_fields")
    for name, on in _dnd(obj, missing_means_off=dnd_missing_means_off).items():
        setattr(lead, name, on)
        paths.add(name)
    lead.source = source_of(text(obj, "source"))
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


def source_of(raw: str | None) -> pb.LeadSource.ValueType:
    """GHL's free-text source as our LeadSource; a contact from GHL is LEAD_SOURCE_GHL unless
    its source names where GHL got it from."""
    value = (raw or "").lower()
    if any(w in value for w in ("zillow", "realtor", "trulia", "redfin", "homes.com", "portal")):
        return pb.LEAD_SOURCE_PORTAL
    if "referr" in value:
        return pb.LEAD_SOURCE_REFERRAL
    if "open house" in value or "open-house" in value or "openhouse" in value:
        return pb.LEAD_SOURCE_OPEN_HOUSE
    if any(w in value for w in ("form", "website", "landing", "funnel")):
        return pb.LEAD_SOURCE_WEB_FORM
    return pb.LEAD_SOURCE_GHL


def _message(kind: str, obj: dict[str, Any]) -> Action:
    inbound = kind == "InboundMessage"
    contact_id = ident(obj, "contactId")
    raw_type = (text(obj, "messageType") or "").strip()
    channel = _CHANNELS.get(raw_type.lower().removeprefix("type_"))
    if channel is None:
        return NoAction(f"no action for {raw_type[:40] or 'untyped'} {kind}")
    lead_address = our_address = ""
    if channel == common_pb.CHANNEL_EMAIL:
        sender = email_address(text(obj, "from"))
        to = obj.get("to")
        first_to = to[0] if isinstance(to, list) and to and isinstance(to[0], str) else None
        recipient = email_address(first_to if first_to is not None else text(obj, "to"))
        lead_address, our_address = (sender, recipient) if inbound else (recipient, sender)
    facts = coordinator_pb.MessageFacts(
        channel=channel,
        body=text(obj, "body") or "",
        subject=text(obj, "subject") or "",
        lead_address=lead_address,
        our_address=our_address,
        provider_message_id=text(obj, "messageId") or "",
    )
    status = (text(obj, "status") or "").strip().lower()
    delivery = None
    if not inbound and status and facts.provider_message_id:
        # What became of an outbound message; the coordinator acts on it if the message is ours.
        delivery = coordinator_pb.DeliveryFacts(
            provider_message_id=facts.provider_message_id, provider_status=status[:64], channel=channel
        )
    return ContactMessage(contact_id, inbound, facts, delivery)


def _app_install(kind: str, obj: dict[str, Any], envelope_location: str, receive_time: datetime) -> Parsed:
    """INSTALL / UNINSTALL name one location, or several (bulk installs: locationIds[]);
    an agency-level install names none and concerns no location of ours."""
    occurred = iso_time(obj.get("timestamp")) or receive_time
    named = [text(obj, "locationId") or ""]
    many = obj.get("locationIds")
    if isinstance(many, list):
        named += [v for v in many if isinstance(v, str)]
    ids = tuple(dict.fromkeys(v.strip() for v in named if v.strip()))
    first = location(ids[0] if ids else None, envelope_location)
    if not first:
        return Parsed(
            "", occurred, NoAction(f"{kind} for a company ({text(obj, 'companyId') or '?'}), no location")
        )
    return Parsed(first, occurred, AppInstall(ids or (first,), installed=kind == "INSTALL"))


# GHL opportunity statuses that are outcomes; "open" and "abandoned" are not (an abandoned deal
# may come back), so they are stored and acknowledged with no effect.
_OPPORTUNITY_OUTCOMES = {"won": pb.EVENT_TYPE_OPPORTUNITY_WON, "lost": pb.EVENT_TYPE_OPPORTUNITY_LOST}


def _opportunity(kind: str, obj: dict[str, Any]) -> Action:
    status = (text(obj, "status") or "").strip().lower()
    event_type = _OPPORTUNITY_OUTCOMES.get(status)
    if event_type is None:
        return NoAction(f"opportunity status {status[:20]!r} is not an outcome")
    properties: dict[str, Any] = {"ghl_type": kind}
    for key, name in (("id", "opportunity_id"), ("pipelineId", "pipeline_id"), ("monetaryValue", "value")):
        value = obj.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            properties[name] = value if not isinstance(value, str) else value[:200]
    return ContactEvent(ident(obj, "contactId"), event_type, properties)


def _appointment(kind: str, obj: dict[str, Any]) -> ContactEvent:
    nested = obj.get("appointment")
    appointment = nested if isinstance(nested, dict) else obj
    contact_id = ident(appointment, "contactId")
    properties: dict[str, Any] = {"ghl_type": kind[:100]}
    for key, name in (("id", "appointment_id"), ("appointmentStatus", "status"), ("startTime", "start_time")):
        value = appointment.get(key)
        if isinstance(value, str):
            properties[name] = value[:200]
    return ContactEvent(contact_id, pb.EVENT_TYPE_APPOINTMENT, properties)
