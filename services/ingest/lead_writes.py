"""Every change to a lead or its events, with its outbox rows in the same transaction.

UpsertLead, DeleteLead and RecordEvent open their own transaction here; the
webhook recorder calls the `*_in` functions inside its own. Each public method
sets `outbox_written` once its transaction has committed something to publish,
so the relay can deliver it without waiting for its next poll.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from services.ingest import leads
from services.ingest.leads import EventFields, LeadFields
from services.ingest.publishing import (
    KIND_BEHAVIOR,
    KIND_CREATED,
    KIND_DELETED,
    KIND_UPDATED,
    publish,
    publish_dnd,
    publish_lead_change,
)
from services.ingest.repository import events as event_rows
from services.ingest.repository import inbox as inbox_rows
from services.ingest.repository import leads as lead_rows
from services.ingest.repository.events import StoredEvent
from services.ingest.repository.leads import StoredLead
from shared import tenancy
from shared.db import Conn, Database


@dataclass(frozen=True)
class UpsertResult:
    lead: StoredLead
    created: bool
    # False for a no-op update and for a repeated request_id: nothing was published.
    published: bool


async def upsert_in(
    conn: Conn,
    lead_id: uuid.UUID | None,
    location_id: str,
    incoming: LeadFields,
    paths: frozenset[str],
    *,
    create_only: frozenset[str] = frozenset(),
) -> UpsertResult:
    """The one upsert, inside the caller's transaction. Paths in create_only are written
    only when this creates the lead (e.g. where it came from)."""
    existing = None
    if lead_id is not None:
        existing = await lead_rows.locked(conn, lead_id)
        if existing is None or existing.location_id != location_id:
            raise leads.lead_missing(lead_id)
    elif incoming.external_contact_id is not None:
        existing = await lead_rows.by_external(
            conn, location_id, incoming.external_contact_id, lock="FOR UPDATE"
        )
    if existing is None:
        fields = leads.merge(None, incoming, paths | {"external_contact_id"})
        await lead_rows.ensure_location(conn, location_id)
        created = await lead_rows.insert(conn, location_id, fields)
        if created is not None:
            await publish_dnd(conn, None, created)
            await publish_lead_change(conn, KIND_CREATED, created)
            return UpsertResult(created, created=True, published=True)
        # A concurrent call created this contact first: update the row it wrote.
        existing = await lead_rows.by_external(
            conn, location_id, incoming.external_contact_id, lock="FOR UPDATE"
        )
        assert existing is not None
    if existing.delete_time is not None:
        raise leads.lead_deleted(existing.lead_id)
    after = leads.merge(existing.fields, incoming, paths - create_only)
    if after == existing.fields:
        return UpsertResult(existing, created=False, published=False)
    written = await lead_rows.write(conn, existing.lead_id, after)
    await publish_dnd(conn, existing, written)
    await publish_lead_change(conn, KIND_UPDATED, written)
    return UpsertResult(written, created=False, published=True)


async def erase_in(conn: Conn, lead: StoredLead) -> tuple[StoredLead, bool]:
    """Erase a lead locked FOR UPDATE by the caller; True when this call erased it (and published)."""
    if lead.delete_time is not None:
        return lead, False  # deleted before: nothing more to erase or announce
    erased = await lead_rows.write(conn, lead.lead_id, leads.erase(lead.fields), delete=True)
    await event_rows.erase_properties(conn, lead.lead_id)
    await inbox_rows.erase_payloads(conn, lead.lead_id)
    assert erased.delete_time is not None
    await publish(conn, KIND_DELETED, lead.lead_id, lead.location_id, erased.delete_time)
    return erased, True


async def record_event_in(conn: Conn, event: EventFields) -> tuple[StoredEvent, bool]:
    """Record one event inside the caller's transaction; True when it was recorded before."""
    # FOR SHARE: a concurrent DeleteLead waits for this event, then anonymises it too.
    lead = await lead_rows.shared_lock(conn, event.lead_id)
    if lead is None or lead[0] != event.location_id:
        raise leads.lead_missing(event.lead_id)
    stored = None
    if lead[1] is None:
        stored = await event_rows.insert(conn, event)
    if stored is None:
        seen = await event_rows.get(conn, event.lead_id, event.event_id)
        if seen is None:
            raise leads.lead_deleted(event.lead_id)
        return seen, True
    await publish(
        conn,
        KIND_BEHAVIOR,
        event.lead_id,
        event.location_id,
        event.occurred_time,
        behavior_type=leads.behavior_type(event.type),
    )
    return stored, False


class LeadWrites:
    def __init__(self, db: Database, outbox_written: asyncio.Event) -> None:
        self._db = db
        self._outbox_written = outbox_written

    async def upsert(
        self,
        *,
        lead_id: uuid.UUID | None,
        location_id: str,
        incoming: LeadFields,
        paths: frozenset[str],
        request_id: str | None,
    ) -> UpsertResult:
        """UpsertLead. A repeated request_id answers what the first call did and writes nothing."""
        async with self._db.transaction() as conn:
            if request_id is not None and not await lead_rows.claim_request_id(conn, request_id):
                # The key was taken (by a call that has committed): return that call's answer.
                lead, created = await lead_rows.replayed_request(conn, request_id)
                tenancy.ensure_same_key_owner(request_id, lead.location_id, location_id)
                return UpsertResult(lead, created, published=False)
            result = await upsert_in(conn, lead_id, location_id, incoming, paths)
            if request_id is not None:
                await lead_rows.finish_request(conn, request_id, result.lead.lead_id, result.created)
        if result.published:
            self._outbox_written.set()
        return result

    async def delete(self, lead_id: uuid.UUID, location_id: str | None) -> StoredLead:
        async with self._db.transaction() as conn:
            lead = await lead_rows.locked(conn, lead_id)
            if lead is None or (location_id is not None and lead.location_id != location_id):
                raise leads.lead_missing(lead_id)
            erased, published = await erase_in(conn, lead)
        if published:
            self._outbox_written.set()
        return erased

    async def record_event(self, event: EventFields) -> tuple[StoredEvent, bool]:
        async with self._db.transaction() as conn:
            stored, duplicate = await record_event_in(conn, event)
        if not duplicate:
            self._outbox_written.set()
        return stored, duplicate
