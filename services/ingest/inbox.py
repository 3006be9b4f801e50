"""The webhook inbox: SQL that stores provider events raw and applies what they say.

One RecordWebhook is one transaction. Each event's inbox row is inserted first
(the provider's event id is the primary key, so a redelivery conflicts there and
does nothing more); then its effects run inside a SAVEPOINT, so an event that
cannot be applied rolls back alone and stays stored with the reason. Lead
changes, deletes and behaviour events go through IngestRepository's own code
paths, which also write their outbox rows.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import webhooks
from services.ingest.leads import EventFields
from services.ingest.repository import (
    KIND_DELIVERY,
    KIND_INBOUND,
    KIND_OUTBOUND,
    KIND_SUPPRESSION,
    IngestRepository,
    publish,
)
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import DeadlineExceeded, DomainError, Unavailable


@dataclasses.dataclass(frozen=True)
class InboxEvent:
    provider: int
    provider_event_id: str
    event_type: str
    payload: bytes
    location_id: str  # "" when the gateway could not name the tenant


@dataclasses.dataclass(frozen=True)
class Outcome:
    provider_event_id: str
    outcome: str
    detail: str = ""
    lead_id: uuid.UUID | None = None
    location_id: str = ""
    duplicate: bool = False
    published: bool = False


class Unmatched(Exception):
    """The event is well formed but names no lead (or location) we know."""

    def __init__(self, detail: str, location_id: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.location_id = location_id


def _read(event: InboxEvent, receive_time: datetime) -> Outcome | webhooks.Parsed:
    """What the event asks for, or, when it asks for nothing we can do, its final outcome."""
    try:
        parsed = webhooks.parse(
            event.provider, event.event_type, event.payload, event.location_id, receive_time
        )
    except webhooks.PayloadError as err:
        location_id = err.location_id or event.location_id
        return Outcome(event.provider_event_id, "stored_only", err.detail, location_id=location_id)
    if isinstance(parsed.action, webhooks.NoAction):
        return Outcome(
            event.provider_event_id, "stored_only", parsed.action.detail, location_id=parsed.location_id
        )
    return parsed


class WebhookInbox:
    def __init__(self, db: Database, repo: IngestRepository) -> None:
        self._db = db
        self._repo = repo

    async def record(self, events: Sequence[InboxEvent], receive_time: datetime) -> list[Outcome]:
        # Parsing is pure, so it happens before the transaction opens and holds nothing.
        readings = [_read(event, receive_time) for event in events]
        try:
            async with self._db.transaction() as conn:
                fresh = await self._claim(conn, events, readings, receive_time)
                results: dict[int, Outcome] = {}
                for index in fresh:
                    reading = readings[index]
                    if isinstance(reading, Outcome):  # stored with its final outcome by _claim
                        results[index] = reading
                        continue
                    outcome = await self._apply_in_savepoint(conn, events[index], reading)
                    await self._settle(conn, events[index], outcome)
                    results[index] = outcome
                for index, event in enumerate(events):
                    if index not in results:
                        results[index] = await self._stored(conn, event)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as err:
            # Two deliveries touched the same rows in opposite orders; nothing was committed.
            raise Unavailable(
                "webhook events collided with a concurrent delivery; retry the same request",
                reason="WEBHOOK_CONFLICT",
            ) from err
        if any(r.published for r in results.values()):
            self._repo.outbox_written.set()
        return [results[i] for i in range(len(events))]

    async def _claim(
        self,
        conn: Conn,
        events: Sequence[InboxEvent],
        readings: Sequence[Outcome | webhooks.Parsed],
        receive_time: datetime,
    ) -> list[int]:
        """Insert the inbox rows, registering each named location on the way (HighLevel does not
        promise INSTALL first: any event of a location makes it known). Returns the indexes of
        events not stored before, in request order. An event that needs no effects is stored
        with its final outcome; the others as 'received' until they are applied.

        Inserted in key order, so two deliveries sharing events never wait on each other in a
        cycle. A concurrent delivery of the same event waits here for the first one to commit,
        then finds it stored: the unique key makes exactly one of them act."""
        fresh: list[int] = []
        order = sorted(range(len(events)), key=lambda i: (events[i].provider, events[i].provider_event_id))
        for index in order:
            event, reading = events[index], readings[index]
            if isinstance(reading, Outcome):
                outcome, detail, location_id = reading.outcome, reading.detail, reading.location_id
            else:
                outcome, detail, location_id = "received", "", reading.location_id
            inserted = await conn.fetchval(
                "WITH location AS (INSERT INTO locations (location_id) SELECT $4 WHERE $4 <> ''"
                " ON CONFLICT DO NOTHING)"
                " INSERT INTO inbox (provider, provider_event_id, event_type, location_id, payload,"
                " receive_time, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT DO NOTHING RETURNING true",
                event.provider,
                event.provider_event_id,
                event.event_type,
                location_id,
                event.payload,
                receive_time,
                outcome,
                detail,
                timeout=deadlines.timeout(5.0),
            )
            if inserted:
                fresh.append(index)
        return sorted(fresh)

    async def _settle(self, conn: Conn, event: InboxEvent, outcome: Outcome) -> None:
        await conn.execute(
            "UPDATE inbox SET outcome = $3, detail = $4, lead_id = $5, location_id = $6,"
            # A ContactDelete's own payload holds the personal data it asked us to erase.
            " payload = CASE WHEN $3 = 'lead_deleted' THEN ''::bytea ELSE payload END"
            " WHERE provider = $1 AND provider_event_id = $2",
            event.provider,
            event.provider_event_id,
            outcome.outcome,
            outcome.detail,
            outcome.lead_id,
            outcome.location_id,
            timeout=deadlines.timeout(5.0),
        )

    async def _stored(self, conn: Conn, event: InboxEvent) -> Outcome:
        row = await conn.fetchrow(
            "SELECT outcome, detail, lead_id, location_id FROM inbox"
            " WHERE provider = $1 AND provider_event_id = $2",
            event.provider,
            event.provider_event_id,
            timeout=deadlines.timeout(5.0),
        )
        return Outcome(
            event.provider_event_id,
            row["outcome"],
            row["detail"],
            row["lead_id"],
            row["location_id"],
            duplicate=True,
        )

    async def _apply_in_savepoint(self, conn: Conn, event: InboxEvent, parsed: webhooks.Parsed) -> Outcome:
        pid, location_id = event.provider_event_id, parsed.location_id
        try:
            async with conn.transaction():  # a SAVEPOINT: this event's effects, or none of them
                return await self._apply(conn, event, parsed)
        except Unmatched as err:
            return Outcome(pid, "unmatched", err.detail, location_id=err.location_id or location_id)
        except webhooks.PayloadError as err:
            return Outcome(pid, "stored_only", err.detail, location_id=location_id)
        except DomainError as err:
            if isinstance(err, Unavailable | DeadlineExceeded):
                raise  # not the payload's fault: the whole delivery must be retried
            return Outcome(pid, "stored_only", err.message[: webhooks.MAX_DETAIL], location_id=location_id)
        except asyncpg.DataError as err:
            return Outcome(
                pid, "stored_only", f"a value cannot be stored: {type(err).__name__}", location_id=location_id
            )

    # -- effects -------------------------------------------------------------------------------

    async def _apply(self, conn: Conn, event: InboxEvent, parsed: webhooks.Parsed) -> Outcome:
        action, loc, pid = parsed.action, parsed.location_id, event.provider_event_id
        if isinstance(action, webhooks.LeadUpsert):
            result = await self._repo.upsert_in(
                conn, None, loc, action.fields, action.paths, create_only=action.create_only
            )
            outcome = (
                "lead_created" if result.created else "lead_updated" if result.published else "lead_unchanged"
            )
            return Outcome(pid, outcome, "", result.row["lead_id"], loc, published=result.published)
        if isinstance(action, webhooks.LeadDelete):
            row = await self._contact(conn, loc, action.external_id, live=False)
            erased, published = await self._repo.erase_in(conn, row)
            detail = "" if published else "deleted before"
            return Outcome(pid, "lead_deleted", detail, erased["lead_id"], loc, published=published)
        if isinstance(action, webhooks.ContactMessage):
            return await self._contact_message(conn, pid, loc, parsed.occurred, action)
        if isinstance(action, webhooks.ContactEvent):
            lead = await self._contact(conn, loc, action.contact_id, live=True)
            return await self._behavior(conn, pid, lead, action.type, parsed.occurred, action.properties)
        if isinstance(action, webhooks.SmsInbound):
            return await self._sms_inbound(conn, pid, loc, parsed.occurred, action)
        if isinstance(action, webhooks.SmsStatus):
            loc = loc or await self._number_owner(conn, action.our_number) or ""
            await publish(
                conn,
                KIND_DELIVERY,
                None,
                loc,
                parsed.occurred,
                facts=coordinator_pb.LeadEventEnvelope(delivery=action.delivery),
            )
            return Outcome(pid, "delivery_status", "", None, loc, published=True)
        if isinstance(action, webhooks.EmailEvent):
            return await self._email_event(conn, pid, loc, parsed.occurred, action)
        raise AssertionError(f"unhandled webhook action {type(action).__name__}")

    async def _contact(self, conn: Conn, location_id: str, contact_id: str, *, live: bool) -> Any:
        """The lead a CRM contact is, locked against a concurrent delete (or, to delete it, against
        everything else); never another tenant's."""
        row = await conn.fetchrow(
            "SELECT * FROM leads WHERE location_id = $1 AND external_contact_id = $2"
            + (" FOR SHARE" if live else " FOR UPDATE"),
            location_id,
            contact_id,
            timeout=deadlines.timeout(5.0),
        )
        if row is None or (live and row["delete_time"] is not None):
            raise Unmatched(f"no lead for contact {contact_id} in location {location_id}", location_id)
        return row

    async def _contact_message(
        self,
        conn: Conn,
        pid: str,
        location_id: str,
        occurred: datetime,
        action: webhooks.ContactMessage,
    ) -> Outcome:
        lead = await self._contact(conn, location_id, action.contact_id, live=True)
        facts = coordinator_pb.MessageFacts()
        facts.CopyFrom(action.facts)
        if not facts.lead_address:
            facts.lead_address = lead["phone"] if facts.channel == common_pb.CHANNEL_SMS else lead["email"]
        kind = KIND_INBOUND if action.inbound else KIND_OUTBOUND
        await publish(
            conn,
            kind,
            lead["lead_id"],
            location_id,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(message=facts),
        )
        outcome = "inbound_message" if action.inbound else "outbound_message"
        return Outcome(pid, outcome, "", lead["lead_id"], location_id, published=True)

    async def _behavior(
        self,
        conn: Conn,
        pid: str,
        lead: Any,
        event_type: pb.EventType.ValueType,
        occurred: datetime,
        properties: dict[str, Any],
    ) -> Outcome:
        event = EventFields(
            event_id=pid,
            lead_id=lead["lead_id"],
            location_id=lead["location_id"],
            type=event_type,
            occurred_time=occurred,
            listing_id="",
            listing_price_usd=0,
            properties=properties,
        )
        _, duplicate = await self._repo.record_event_in(conn, event)
        detail = "recorded before" if duplicate else ""
        return Outcome(
            pid, "behavior_event", detail, lead["lead_id"], lead["location_id"], published=not duplicate
        )

    async def _number_owner(self, conn: Conn, number: str) -> str | None:
        """The one location whose settings list this SMS number."""
        if not number:
            return None
        owners = await conn.fetch(
            "SELECT location_id FROM locations WHERE settings -> 'sms_numbers' ? $1 LIMIT 2",
            number,
            timeout=deadlines.timeout(5.0),
        )
        if len(owners) > 1:
            raise Unmatched(f"number {number} is listed by more than one location")
        return owners[0]["location_id"] if owners else None

    async def _lead_by_phone(self, conn: Conn, location_id: str, phone: str) -> Any:
        return await conn.fetchrow(
            "SELECT * FROM leads WHERE phone = $1 AND location_id = $2 AND delete_time IS NULL"
            " ORDER BY update_time DESC LIMIT 1",
            phone,
            location_id,
            timeout=deadlines.timeout(5.0),
        )

    async def _sms_inbound(
        self, conn: Conn, pid: str, location_id: str, occurred: datetime, action: webhooks.SmsInbound
    ) -> Outcome:
        phone = action.facts.lead_address
        location_id = location_id or await self._number_owner(conn, action.facts.our_address) or ""
        if not location_id:
            # No location lists the number: the sender's phone decides, if only one location has it.
            found = await conn.fetch(
                "SELECT DISTINCT location_id FROM leads WHERE phone = $1 AND delete_time IS NULL LIMIT 2",
                phone,
                timeout=deadlines.timeout(5.0),
            )
            if len(found) != 1:
                why = (
                    "no location lists"
                    if not found
                    else "leads of several locations have this phone and none lists"
                )
                raise Unmatched(f"{why} the number {action.facts.our_address or '(none)'}")
            location_id = found[0]["location_id"]
        lead = await self._lead_by_phone(conn, location_id, phone)
        if lead is None:
            raise Unmatched(f"no lead in location {location_id} has the sender's phone", location_id)
        await publish(
            conn,
            KIND_INBOUND,
            lead["lead_id"],
            location_id,
            occurred,
            facts=coordinator_pb.LeadEventEnvelope(message=action.facts),
        )
        return Outcome(pid, "inbound_message", "", lead["lead_id"], location_id, published=True)

    async def _email_lead(self, conn: Conn, location_id: str, action: webhooks.EmailEvent) -> Any:
        """Our lead_id custom arg first, else the location's live lead with the address."""
        if action.lead_id is not None:
            lead = await conn.fetchrow(
                "SELECT * FROM leads WHERE lead_id = $1 AND delete_time IS NULL",
                action.lead_id,
                timeout=deadlines.timeout(5.0),
            )
            if lead is not None and (not location_id or lead["location_id"] == location_id):
                return lead
        if location_id and action.email:
            return await conn.fetchrow(
                "SELECT * FROM leads WHERE location_id = $1 AND email = $2 AND delete_time IS NULL"
                " ORDER BY update_time DESC LIMIT 1",
                location_id,
                action.email,
                timeout=deadlines.timeout(5.0),
            )
        return None

    async def _email_event(
        self, conn: Conn, pid: str, location_id: str, occurred: datetime, action: webhooks.EmailEvent
    ) -> Outcome:
        lead = await self._email_lead(conn, location_id, action)
        lead_id = lead["lead_id"] if lead is not None else None
        location_id = location_id or (lead["location_id"] if lead is not None else "")
        if action.behavior:
            if lead is None:
                raise Unmatched(f"no lead for SendGrid event to {action.email or 'an unknown address'}")
            return await self._behavior(conn, pid, lead, action.behavior, occurred, action.properties)
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
        return Outcome(pid, outcome, "", lead_id, location_id, published=True)
