"""What a provider event asks ingest to do: one Action per event. Pure data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.leads import LeadFields

MAX_DETAIL = 500


class PayloadError(Exception):
    """The payload cannot be normalised. location_id is the tenant, when it was read before the fault."""

    def __init__(self, detail: str, location_id: str = "") -> None:
        super().__init__(detail[:MAX_DETAIL])
        self.detail = detail[:MAX_DETAIL]
        self.location_id = location_id


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
    # HighLevel OutboundMessage with a status: what became of a message (maybe ours).
    delivery: coordinator_pb.DeliveryFacts | None = None


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
class AppInstall:
    """HighLevel INSTALL / UNINSTALL of our marketplace app on these locations."""

    location_ids: tuple[str, ...]
    installed: bool


@dataclass(frozen=True)
class NoAction:
    detail: str


Action = (
    LeadUpsert
    | LeadDelete
    | ContactMessage
    | ContactEvent
    | SmsInbound
    | SmsStatus
    | EmailEvent
    | AppInstall
    | NoAction
)


@dataclass(frozen=True)
class Parsed:
    # "" when the payload does not name its tenant; the database may still find it.
    location_id: str
    occurred: datetime
    action: Action
