"""What a valid lead is, how its fields are normalised and how an update merges. Pure: no I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.update_masks import MaskRules
from shared import contact, inputs, timestamps
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound

MAX_TEXT = 200
MAX_TAGS = 100
MAX_TAG_LEN = 100
# Serialised size; keeps one lead row small enough to list a page of them cheaply.
MAX_JSON_BYTES = 16_384
MAX_TIMELINE_MONTHS = 600
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SOURCES = frozenset(pb.LeadSource.values())
_INTENTS = frozenset(pb.LeadIntent.values())
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "city",
    "job_title",
    "seniority",
)


@dataclass(frozen=True)
class LeadFields:
    """Every writable field of a lead, normalised. Identity (lead_id, location_id) lives outside."""

    external_contact_id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    timezone: str = ""
    company: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    job_title: str = ""
    seniority: str = ""
    source: int = 0
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)
    sms_consent: bool = False
    email_consent: bool = False
    budget_usd: int = 0
    timeline_months: int = 0
    preapproved: bool = False
    # The CRM's do-not-disturb marks; turning one on also publishes a suppression.
    sms_dnd: bool = False
    email_dnd: bool = False
    # What routing matches agents on (territory, language, specialty).
    postal_code: str = ""
    preferred_language: str = ""  # BCP 47, e.g. "es" or "es-MX"
    intent: int = 0  # LeadIntent


WRITABLE: frozenset[str] = frozenset(f.name for f in dataclasses.fields(LeadFields))
# Part of the Lead message but never written through update_mask.
READ_ONLY: frozenset[str] = frozenset({"lead_id", "location_id", "create_time", "update_time", "delete_time"})
# DeleteLead blanks these; what stays (ids, source, region, budget, times) identifies nobody.
PERSONAL: frozenset[str] = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "city",
        "job_title",
        "seniority",
        "tags",
        "custom_fields",
        "sms_consent",
        "email_consent",
        "sms_dnd",
        "email_dnd",
        "postal_code",
        "preferred_language",
    }
)


def lead_missing(lead_id: uuid.UUID | str) -> NotFound:
    # The same answer whether the lead is absent or belongs to another location: never
    # confirm to one tenant that another tenant's lead exists.
    return NotFound(
        f"lead {lead_id} does not exist in this location; find leads with ListLeads",
        reason="LEAD_NOT_FOUND",
        metadata={"lead_id": str(lead_id)},
    )


def lead_deleted(lead_id: uuid.UUID) -> FailedPrecondition:
    return FailedPrecondition(
        f"lead {lead_id} was deleted and its personal data erased; it cannot be changed",
        reason="LEAD_DELETED",
        metadata={"lead_id": str(lead_id)},
    )


# Lead.sms_dnd / email_dnd are the CRM's marks (GHL dnd, dndSettings).
DND_REASON = "GHL do-not-disturb"


def dnd_turned_on(
    before: LeadFields | None, after: LeadFields
) -> list[tuple[common_pb.Channel.ValueType, str]]:
    """(channel, address) for each do-not-disturb mark this write turned on: each suppresses its
    channel."""
    return [
        (channel, address)
        for on_before, on_after, channel, address in (
            (before is not None and before.sms_dnd, after.sms_dnd, common_pb.CHANNEL_SMS, after.phone),
            (before is not None and before.email_dnd, after.email_dnd, common_pb.CHANNEL_EMAIL, after.email),
        )
        if on_after and not on_before
    ]


def _invalid(path: str, message: str, reason: str, hint: str) -> InvalidArgument:
    return InvalidArgument(message, reason=reason, violations=[FieldViolation(path, hint)])


def clean_text(raw: str, path: str, *, max_len: int = MAX_TEXT) -> str:
    value = " ".join(raw.split())  # collapse runs of whitespace, as CRMs and CSVs add them
    if len(value) > max_len:
        raise _invalid(
            path,
            f"{path} is {len(value)} characters; the limit is {max_len}",
            "FIELD_TOO_LONG",
            f"at most {max_len} characters",
        )
    return value


def clean_state(raw: str, path: str) -> str:
    # Codes ("tx") are upper-cased; CRMs also send full names ("Texas"), which we keep as given.
    value = clean_text(raw, path, max_len=64)
    return value.upper() if len(value) <= 3 else value


def clean_country(raw: str, path: str) -> str:
    value = raw.strip().upper()
    if value and not _COUNTRY.match(value):
        raise _invalid(
            path,
            f"{path} {raw[:20]!r} is not an ISO 3166-1 alpha-2 code",
            "INVALID_COUNTRY",
            "two letters, e.g. US",
        )
    return value


def clean_tags(raw: Iterable[str], path: str) -> tuple[str, ...]:
    """Trimmed, lower-cased (HighLevel treats tags case-insensitively), de-duplicated, in order."""
    seen: dict[str, None] = {}
    for tag in raw:
        value = " ".join(tag.split()).lower()
        if not value:
            continue
        if len(value) > MAX_TAG_LEN:
            raise _invalid(
                path,
                f"a tag in {path} is {len(value)} characters; the limit is {MAX_TAG_LEN}",
                "FIELD_TOO_LONG",
                f"each tag at most {MAX_TAG_LEN} characters",
            )
        seen[value] = None
    if len(seen) > MAX_TAGS:
        raise _invalid(
            path, f"{path} has {len(seen)} tags; the limit is {MAX_TAGS}", "TOO_MANY_TAGS", "fewer tags"
        )
    return tuple(seen)


def clean_json(value: dict[str, Any], path: str) -> dict[str, Any]:
    if not value:
        return value
    size = len(json.dumps(value, separators=(",", ":")))
    if size > MAX_JSON_BYTES:
        raise _invalid(
            path,
            f"{path} is {size} bytes as JSON; the limit is {MAX_JSON_BYTES}",
            "FIELD_TOO_LARGE",
            f"at most {MAX_JSON_BYTES} bytes",
        )
    return value


def clean_source(raw: int, path: str) -> int:
    if raw not in _SOURCES:
        raise _invalid(path, f"{path} {raw} is not a LeadSource", "INVALID_SOURCE", "a LeadSource value")
    return raw


def clean_range(raw: int, path: str, maximum: int) -> int:
    if not 0 <= raw <= maximum:
        raise _invalid(path, f"{path} {raw} is out of range", "OUT_OF_RANGE", f"0..{maximum}")
    return raw


def struct_to_dict(value: Any) -> dict[str, Any]:
    if not value.fields:  # the common case on bulk paths; MessageToDict is slow
        return {}
    result: dict[str, Any] = json_format.MessageToDict(value)
    return result


def clean_language(raw: str, path: str) -> str:
    """A BCP 47 tag, its primary language lower-cased ("ES-mx" -> "es-mx" keeps regions as sent
    but lower-cased, so tags compare as strings); "" when none was given."""
    value = raw.strip().replace("_", "-")
    if value and not (len(value) <= 35 and _LANGUAGE_TAG.match(value)):
        raise _invalid(
            path, f"{path} {raw[:20]!r} is not a BCP 47 language tag", "INVALID_LANGUAGE", 'e.g. "es"'
        )
    return value.lower()


def clean_intent(raw: int, path: str) -> int:
    if raw not in _INTENTS:
        raise _invalid(path, f"{path} {raw} is not a LeadIntent", "INVALID_INTENT", "a LeadIntent value")
    return raw


def from_proto(lead: pb.Lead, prefix: str = "lead") -> LeadFields:
    """Validate and normalise every writable field; errors name the proto path, e.g. lead.phone."""
    p = f"{prefix}."
    external = clean_text(lead.external_contact_id, p + "external_contact_id")
    text: dict[str, Any] = {name: clean_text(getattr(lead, name), p + name) for name in _TEXT_FIELDS}
    return LeadFields(
        external_contact_id=external or None,
        **text,
        email=contact.normalize_email(lead.email, p + "email"),
        phone=contact.normalize_phone(lead.phone, p + "phone"),
        timezone=contact.check_timezone(lead.timezone, p + "timezone"),
        state=clean_state(lead.state, p + "state"),
        country=clean_country(lead.country, p + "country"),
        source=clean_source(lead.source, p + "source"),
        tags=clean_tags(lead.tags, p + "tags"),
        custom_fields=clean_json(struct_to_dict(lead.custom_fields), p + "custom_fields"),
        sms_consent=lead.sms_consent,
        email_consent=lead.email_consent,
        budget_usd=clean_range(lead.budget_usd, p + "budget_usd", 10**12),
        timeline_months=clean_range(lead.timeline_months, p + "timeline_months", MAX_TIMELINE_MONTHS),
        preapproved=lead.preapproved,
        sms_dnd=lead.sms_dnd,
        email_dnd=lead.email_dnd,
        postal_code=clean_text(lead.postal_code, p + "postal_code", max_len=20).upper(),
        preferred_language=clean_language(lead.preferred_language, p + "preferred_language"),
        intent=clean_intent(lead.intent, p + "intent"),
    )


@dataclass(frozen=True)
class LeadFilters:
    """ListLeads' filters, normalised: each one set narrows the list (they AND together)."""

    source: int = 0
    tag: str = ""
    updated_since: datetime | None = None
    sources: tuple[int, ...] = ()
    any_tags: tuple[str, ...] = ()
    inactive_since: datetime | None = None
    oldest_first: bool = False

    def fingerprint(self) -> str:
        """What a page token is bound to."""
        times = [t.isoformat() if t else "" for t in (self.updated_since, self.inactive_since)]
        return "|".join(
            (
                str(self.source),
                self.tag,
                *times,
                ",".join(map(str, self.sources)),
                ",".join(self.any_tags),
                str(self.oldest_first),
            )
        )


def _tag_key(raw: str) -> str:
    return " ".join(raw.split()).lower()


def lead_filters(request: pb.ListLeadsRequest) -> LeadFilters:
    return LeadFilters(
        source=clean_source(request.source, "source"),
        tag=_tag_key(request.tag),
        updated_since=timestamps.from_proto(request.updated_since_time),
        sources=tuple(sorted({clean_source(s, "sources") for s in request.sources})),
        any_tags=tuple(sorted(clean_tags(request.any_tags, "any_tags"))),
        inactive_since=timestamps.from_proto(request.inactive_since_time),
        oldest_first=request.oldest_first,
    )


def present_fields(lead: pb.Lead) -> frozenset[str]:
    """The writable fields a caller populated: non-default scalars, non-empty lists, set messages."""
    present = set()
    for name in WRITABLE:
        if name == "custom_fields":
            if lead.HasField("custom_fields"):
                present.add(name)
        elif name == "tags":
            if len(lead.tags):
                present.add(name)
        elif getattr(lead, name):
            present.add(name)
    return frozenset(present)


_MASK = MaskRules("Lead", WRITABLE, READ_ONLY, "phone or tags")


def update_paths(mask_paths: Iterable[str], lead: pb.Lead) -> frozenset[str]:
    """AIP-134: no mask = the populated fields; "*" = every writable field; else exactly those."""
    return _MASK.paths(mask_paths, present_fields(lead))


def merge(existing: LeadFields | None, incoming: LeadFields, paths: frozenset[str]) -> LeadFields:
    """Incoming values for the named paths, existing (or default) values for every other field."""
    base = existing if existing is not None else LeadFields()
    return dataclasses.replace(base, **{name: getattr(incoming, name) for name in paths})


def erase(fields: LeadFields) -> LeadFields:
    """What DeleteLead keeps: personal fields at their defaults, everything else as it was."""
    defaults = LeadFields()
    return dataclasses.replace(fields, **{name: getattr(defaults, name) for name in PERSONAL})


def import_key(location_id: str, fields: LeadFields) -> str:
    """The external id for an imported row that has none, derived from who it is,
    so importing the same file twice finds the first copy instead of duplicating it."""
    basis = "\x1f".join(
        (location_id, fields.email, fields.phone, fields.first_name.lower(), fields.last_name.lower())
    )
    return "import-" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def is_empty(fields: LeadFields) -> bool:
    """A row with no name and no way to reach anyone is not a lead."""
    return not (fields.first_name or fields.last_name or fields.email or fields.phone)


def behavior_type(event_type: pb.EventType.ValueType) -> str:
    """EVENT_TYPE_LISTING_VIEW -> "listing_view": the name the coordinator's triggers use."""
    return pb.EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()


@dataclass(frozen=True)
class EventFields:
    event_id: str
    lead_id: uuid.UUID
    location_id: str
    type: pb.EventType.ValueType
    occurred_time: datetime
    listing_id: str
    listing_price_usd: int
    properties: dict[str, Any]


def event_from_proto(event: pb.LeadEvent, *, request_id: str | None, now: datetime) -> EventFields:
    """Validate one behavioural event. Without an event_id the request_id stands in for it, so a
    retried call is still recognised; with neither, a fresh id makes the event unique."""
    if event.type == pb.EVENT_TYPE_UNSPECIFIED or event.type not in pb.EventType.values():
        raise _invalid(
            "event.type",
            "event.type is required and must be an EventType, e.g. EVENT_TYPE_LISTING_VIEW",
            "MISSING_FIELD" if event.type == pb.EVENT_TYPE_UNSPECIFIED else "INVALID_EVENT_TYPE",
            "an EventType other than EVENT_TYPE_UNSPECIFIED",
        )
    event_id = clean_text(event.event_id, "event.event_id", max_len=128) or request_id or str(uuid.uuid4())
    occurred = timestamps.from_proto(event.occurred_time) or now
    return EventFields(
        event_id=event_id,
        lead_id=inputs.parse_uuid(event.lead_id, "event.lead_id", what="lead id"),
        location_id=inputs.require_text(event.location_id, "event.location_id"),
        type=event.type,
        occurred_time=occurred,
        listing_id=clean_text(event.listing_id, "event.listing_id"),
        listing_price_usd=clean_range(event.listing_price_usd, "event.listing_price_usd", 10**12),
        properties=clean_json(struct_to_dict(event.properties), "event.properties"),
    )
