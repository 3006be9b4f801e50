"""What each webhook Action does, inside the recorder's transaction (and its savepoint).

Lead changes, deletes and behaviour events go through lead_writes' own code
paths, which also write their outbox rows; messages, delivery reports and
suppressions are published here. Which lead an event is about is decided by
`matching`'s rules over the candidates looked up here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import lead_writes, matching, webhooks
from services.ingest.leads import EventFields
from services.ingest.publishing import (
    KIND_APP_UNINSTALLED,
    KIND_DELIVERY,
    KIND_INBOUND,
    KIND_OUTBOUND,
    KIND_SUPPRESSION,
    publish,
)
from services.ingest.repository import leads as lead_rows
from services.ingest.repository import locations as location_rows
from services.ingest.repository.leads import StoredLead
from shared.db import Conn


@dataclass(frozen=True)
class WebhookOutcome:
    """What one webhook event came to: the RecordWebhook result and the inbox row's outcome."""

    provider_event_id: str
    outcome: str
    detail: str = ""
    lead_id: uuid.UUID | None = None
    location_id: str = ""
    duplicate: bool = False
    published: bool = False


async def apply(conn: Conn, provider_event_id: str, parsed: webhooks.Parsed) -> WebhookOutcome:
    action, loc, event_id = parsed.action, parsed.location_id, provider_event_id
    if isinstance(action, webhooks.LeadUpsert):
        result = await lead_writes.upsert_in(
            conn, None, loc, action.fields, action.paths, create_only=action.create_only
        )
        outcome = (
            "lead_created" if result.created else "lead_updated" if result.published else "lead_unchanged"
        )
        return WebhookOutcome(event_id, outcome, "", result.lead.lead_id, loc, published=result.published)
    if isinstance(action, webhooks.LeadDelete):
        lead = await _contact(conn, loc, action.external_id, live=False)
        erased, published = await lead_writes.erase_in(conn, lead)
        detail = "" if published else "deleted before"
        return WebhookOutcome(event_id, "lead_deleted", detail, erased.lead_id, loc, published=published)
    if isinstance(action, webhooks.ContactMessage):
        return await _contact_message(conn, event_id, loc, parsed.occurred, action)
    if isinstance(action, webhooks.ContactEvent):
        lead = await _contact(conn, loc, action.contact_id, live=True)
        return await _behavior(conn, event_id, lead, action.type, parsed.occurred, action.properties)
    if isinstance(action, webhooks.SmsInbound):
        return await _sms_inbound(conn, event_id, loc, parsed.occurred, action)
    if isinstance(action, webhooks.SmsStatus):
        loc = loc or await _number_owner(conn, action.our_number) or ""
        await publish(
            conn,
            KIND_DELIVERY,
            None,
            loc,
            parsed.occurred,
            facts=coordinator_pb.LeadEventEnvelope(delivery=action.delivery),
        )
        return WebhookOutcome(event_id, "delivery_status", "", None, loc, published=True)
    if isinstance(action, webhooks.EmailEvent):
        return await _email_event(conn, event_id, loc, parsed.occurred, action)
    if isinstance(action, webhooks.AppInstall):
        return await _app_install(conn, event_id, parsed.occurred, action)
    raise AssertionError(f"unhandled webhook action {type(action).__name__}")


async def _contact(conn: Conn, location_id: str, contact_id: str, *, live: bool) -> StoredLead:
    """Locked against a concurrent delete (or, to delete it, against everything else)."""
    lead = await lead_rows.by_external(
        conn, location_id, contact_id, lock="FOR SHARE" if live else "FOR UPDATE"
    )
    return matching.contact_lead(lead, location_id, contact_id, live=live)


async def _number_owner(conn: Conn, number: str) -> str | None:
    """The location whose profile lists this number (UpdateLocation keeps each number to one)."""
    key = matching.number_key(number)
    return await location_rows.sms_number_owner(conn, key) if key else None


async def _contact_message(
    conn: Conn, event_id: str, location_id: str, occurred: datetime, action: webhooks.ContactMessage
) -> WebhookOutcome:
    lead = await _contact(conn, location_id, action.contact_id, live=True)
    facts = matching.with_lead_address(action.facts, lead)
    kind = KIND_INBOUND if action.inbound else KIND_OUTBOUND
    await publish(
        conn, kind, lead.lead_id, location_id, occurred, facts=coordinator_pb.LeadEventEnvelope(message=facts)
    )
    if action.delivery is not None:
        await publish(
            conn,
            KIND_DELIVERY,
            lead.lead_id,
            location_id,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(delivery=action.delivery),
        )
    outcome = "inbound_message" if action.inbound else "outbound_message"
    return WebhookOutcome(event_id, outcome, "", lead.lead_id, location_id, published=True)


async def _app_install(
    conn: Conn, event_id: str, occurred: datetime, action: webhooks.AppInstall
) -> WebhookOutcome:
    """INSTALL registers the locations here (their tokens come through the OAuth callback,
    to the coordinator); UNINSTALL tells the coordinator, which deletes their tokens."""
    ids = list(action.location_ids)
    if action.installed:
        await location_rows.register(conn, ids)
        return WebhookOutcome(event_id, "app_installed", ", ".join(ids)[:500], None, ids[0])
    for location_id in ids:
        await publish(conn, KIND_APP_UNINSTALLED, None, location_id, occurred)
    return WebhookOutcome(event_id, "app_uninstalled", ", ".join(ids)[:500], None, ids[0], published=True)


async def _behavior(
    conn: Conn,
    event_id: str,
    lead: StoredLead,
    event_type: pb.EventType.ValueType,
    occurred: datetime,
    properties: dict[str, Any],
) -> WebhookOutcome:
    event = EventFields(
        event_id=event_id,
        lead_id=lead.lead_id,
        location_id=lead.location_id,
        type=event_type,
        occurred_time=occurred,
        listing_id="",
        listing_price_usd=0,
        properties=properties,
    )
    _, duplicate = await lead_writes.record_event_in(conn, event)
    detail = "recorded before" if duplicate else ""
    return WebhookOutcome(
        event_id, "behavior_event", detail, lead.lead_id, lead.location_id, published=not duplicate
    )


async def _sms_inbound(
    conn: Conn, event_id: str, location_id: str, occurred: datetime, action: webhooks.SmsInbound
) -> WebhookOutcome:
    """The location that owns the To number, and its lead with the sender's phone; without an
    owner, the one location whose leads have that phone. When no single lead can be named, the
    message still goes to the coordinator without a lead, once per location it may concern (the
    owner; else every location with a lead with that phone; else none in particular), so that
    an opt-out in it suppresses the number: a STOP is never stored and forgotten."""
    phone = action.facts.lead_address
    location_id = location_id or await _number_owner(conn, action.facts.our_address) or ""
    if location_id:
        lead = await lead_rows.live_by_phone(conn, location_id, phone)
        targets = [location_id]
    else:
        targets = await lead_rows.locations_with_phone(conn, phone)
        lead = await lead_rows.live_by_phone(conn, targets[0], phone) if len(targets) == 1 else None
    if lead is not None:
        await publish(
            conn,
            KIND_INBOUND,
            lead.lead_id,
            lead.location_id,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(message=action.facts),
        )
        return WebhookOutcome(event_id, "inbound_message", "", lead.lead_id, lead.location_id, published=True)
    for target in targets or [""]:
        await publish(
            conn,
            KIND_INBOUND,
            None,
            target,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(message=action.facts),
        )
    return WebhookOutcome(
        event_id,
        "sender_only",
        matching.sender_only_detail(targets, action.facts.our_address, owned=bool(location_id)),
        None,
        location_id,
        published=True,
    )


async def _email_lead(conn: Conn, location_id: str, action: webhooks.EmailEvent) -> StoredLead | None:
    """Our lead_id custom arg first, else the location's live lead with the address."""
    if action.lead_id is not None:
        lead = matching.custom_arg_lead(await lead_rows.live(conn, action.lead_id), location_id)
        if lead is not None:
            return lead
    if location_id and action.email:
        return await lead_rows.live_by_email(conn, location_id, action.email)
    return None


async def _email_event(
    conn: Conn, event_id: str, location_id: str, occurred: datetime, action: webhooks.EmailEvent
) -> WebhookOutcome:
    lead = await _email_lead(conn, location_id, action)
    lead_id = lead.lead_id if lead is not None else None
    location_id = location_id or (lead.location_id if lead is not None else "")
    if action.behavior:
        engaged = matching.engaged_lead(lead, action.email)
        return await _behavior(conn, event_id, engaged, action.behavior, occurred, action.properties)
    outcome = "delivery_status"
    if action.suppression is not None:
        # Suppressed even when no lead is known: the address must not be mailed again.
        outcome = "suppression"
        await publish(
            conn,
            KIND_SUPPRESSION,
            lead_id,
            location_id,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(suppression=action.suppression),
        )
    if action.delivery is not None:
        await publish(
            conn,
            KIND_DELIVERY,
            lead_id,
            location_id,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(delivery=action.delivery),
        )
    return WebhookOutcome(event_id, outcome, "", lead_id, location_id, published=True)
