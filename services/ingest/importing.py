"""ImportLeads: a stream of rows validated, keyed and COPY'd into one location, in batches.

A pipeline: while PostgreSQL writes chunk N, chunk N+1 is read and validated.
Validation (~0.1 ms of CPU a row) runs in a thread so other RPCs on this loop
keep being served. Chunks are validated and written strictly in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import leads
from services.ingest.leads import LeadFields
from services.ingest.repository import imports
from services.ingest.repository.imports import ImportRow
from shared import inputs, timestamps
from shared.db import Database
from shared.errors import FieldViolation, InvalidArgument

# Rejections listed in one ImportLeadsResponse; rejected_count still counts them all.
MAX_REJECTIONS = 1000
# A last activity later than now by more than this is refused (clock skew between systems is not).
ACTIVITY_SKEW = timedelta(minutes=5)


class LeadImport:
    def __init__(self, db: Database, *, batch: int, outbox_written: asyncio.Event | None = None) -> None:
        self._db = db
        self._batch = batch
        # Set once a batch committed its LEADS_IMPORTED row, so the relay need not wait a poll.
        self._outbox_written = outbox_written

    async def run(self, rows: AsyncIterator[pb.ImportLeadsRequest]) -> pb.ImportLeadsResponse:
        state = _ImportState()
        chunk: list[pb.ImportLeadsRequest] = []
        writing: asyncio.Task[None] | None = None
        try:
            async for item in rows:
                chunk.append(item)
                if len(chunk) >= self._batch:
                    batch = await asyncio.to_thread(state.validate, chunk)
                    chunk = []
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(self._write(batch, state))
            batch = await asyncio.to_thread(state.validate, chunk) if chunk else []
            if writing is not None:
                await writing
            await self._write(batch, state)
        finally:
            if writing is not None and not writing.done():
                writing.cancel()  # the caller went away; that chunk's transaction rolls back
        return state.response()

    async def _write(self, batch: list[ImportRow], state: _ImportState) -> None:
        if not batch:
            return
        assert state.location_id is not None  # set by the validation that accepted these rows
        inserted = await imports.import_batch(self._db, state.location_id, batch)
        if inserted and self._outbox_written is not None:
            self._outbox_written.set()
        state.imported += inserted
        state.skipped += len(batch) - inserted


class _ImportState:
    """What one ImportLeads stream has learned so far. The validating thread owns the row and
    rejection counts, the writer owns the written counts: no field is touched by both."""

    def __init__(self) -> None:
        self.location_id: str | None = None
        self.received = 0
        self.rejected = 0
        self.rejections: list[pb.ImportRejection] = []
        self.imported = 0
        self.skipped = 0

    def validate(self, chunk: list[pb.ImportLeadsRequest]) -> list[ImportRow]:
        good: list[ImportRow] = []
        for item in chunk:
            self.received += 1
            try:
                location_id = _import_location(item, self.location_id)
                fields = _import_fields(item.lead, location_id)
                last_activity = _last_activity(item.lead)
            except InvalidArgument as err:
                self.rejected += 1
                if len(self.rejections) < MAX_REJECTIONS:
                    field = err.violations[0].field if err.violations else "lead"
                    row = item.row or self.received
                    self.rejections.append(pb.ImportRejection(row=row, field=field, reason=err.reason))
                continue
            self.location_id = location_id
            good.append(ImportRow(fields, last_activity))
        return good

    def response(self) -> pb.ImportLeadsResponse:
        return pb.ImportLeadsResponse(
            received_count=self.received,
            imported_count=self.imported,
            skipped_count=self.skipped,
            rejected_count=self.rejected,
            rejections=self.rejections,
        )


def _import_location(item: pb.ImportLeadsRequest, stream_location: str | None) -> str:
    """One import fills one location: the first row that names one fixes it for the stream."""
    named = item.location_id.strip()
    on_lead = item.lead.location_id.strip()
    if named and on_lead and named != on_lead:
        raise InvalidArgument(
            "lead.location_id differs from location_id",
            reason="LOCATION_MISMATCH",
            violations=[FieldViolation("lead.location_id", "empty, or equal to location_id")],
        )
    location_id = inputs.require_text(named or on_lead or (stream_location or ""), "location_id")
    if stream_location is not None and location_id != stream_location:
        raise InvalidArgument(
            f"row is for location {location_id} but this import fills {stream_location}",
            reason="LOCATION_MISMATCH",
            violations=[FieldViolation("location_id", f"must be {stream_location} for the whole stream")],
        )
    return location_id


def _import_fields(lead: pb.Lead, location_id: str) -> LeadFields:
    fields = leads.from_proto(lead)
    if leads.is_empty(fields):
        raise InvalidArgument(
            "row has no name, email or phone",
            reason="EMPTY_LEAD",
            violations=[FieldViolation("lead", "needs a name, an email or a phone")],
        )
    changes: dict[str, Any] = {}
    if fields.external_contact_id is None:
        changes["external_contact_id"] = leads.import_key(location_id, fields)
    if fields.source == pb.LEAD_SOURCE_UNSPECIFIED:
        changes["source"] = pb.LEAD_SOURCE_IMPORT
    return dataclasses.replace(fields, **changes) if changes else fields


def _last_activity(lead: pb.Lead) -> datetime | None:
    """The lead's activity before the import, if the row says; never in the future."""
    at = timestamps.from_proto(lead.last_activity_time)
    if at is not None and at > timestamps.now() + ACTIVITY_SKEW:
        raise InvalidArgument(
            f"last_activity_time {at.isoformat()} is in the future; give when the lead was last active",
            reason="LAST_ACTIVITY_IN_FUTURE",
            violations=[FieldViolation("lead.last_activity_time", "not later than now")],
        )
    return at
