"""IngestService handlers: proto in, domain calls, proto out. No SQL, no status codes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from services.ingest import leads
from services.ingest.inbox import InboxEvent, WebhookInbox
from services.ingest.leads import LeadFields
from services.ingest.repository import IngestRepository
from shared import ids, pagination, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

# Rejections listed in one ImportLeadsResponse; rejected_count still counts them all.
MAX_REJECTIONS = 1000
MAX_WEBHOOK_PAYLOAD = 1 << 20
MAX_PROVIDER_EVENT_ID = 256
_PROVIDERS = frozenset({pb.PROVIDER_GHL, pb.PROVIDER_TWILIO, pb.PROVIDER_SENDGRID})


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def lead_to_proto(row: Any) -> pb.Lead:
    return pb.Lead(
        lead_id=str(row["lead_id"]),
        location_id=row["location_id"],
        external_contact_id=row["external_contact_id"] or "",
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        phone=row["phone"],
        timezone=row["timezone"],
        company=row["company"],
        city=row["city"],
        state=row["state"],
        country=row["country"],
        job_title=row["job_title"],
        seniority=row["seniority"],
        source=row["source"],
        tags=list(row["tags"]),
        custom_fields=_struct(row["custom_fields"]),
        sms_consent=row["sms_consent"],
        email_consent=row["email_consent"],
        create_time=timestamps.to_proto(row["create_time"]),
        update_time=timestamps.to_proto(row["update_time"]),
        delete_time=timestamps.to_proto(row["delete_time"]),
        budget_usd=row["budget_usd"],
        timeline_months=row["timeline_months"],
        preapproved=row["preapproved"],
        sms_dnd=row["sms_dnd"],
        email_dnd=row["email_dnd"],
    )


def event_to_proto(row: Any) -> pb.LeadEvent:
    return pb.LeadEvent(
        event_id=row["event_id"],
        lead_id=str(row["lead_id"]),
        location_id=row["location_id"],
        type=row["type"],
        occurred_time=timestamps.to_proto(row["occurred_time"]),
        record_time=timestamps.to_proto(row["record_time"]),
        listing_id=row["listing_id"],
        listing_price_usd=row["listing_price_usd"],
        properties=_struct(row["properties"]),
    )


def _optional_location(raw: str) -> str | None:
    return ids.require_text(raw, "location_id") if raw.strip() else None


def _envelope_text(raw: str, path: str, max_len: int, *, required: bool = False) -> str:
    if required and not raw.strip():
        raise InvalidArgument(
            f"{path} is required", reason="MISSING_FIELD", violations=[FieldViolation(path, "required")]
        )
    if len(raw) > max_len:
        raise InvalidArgument(
            f"{path} is {len(raw)} characters; the limit is {max_len}",
            reason="FIELD_TOO_LONG",
            violations=[FieldViolation(path, f"at most {max_len} characters")],
        )
    if "\x00" in raw:
        raise InvalidArgument(
            f"{path} contains a NUL character",
            reason="INVALID_CHARACTER",
            violations=[FieldViolation(path, "no NUL characters")],
        )
    return raw


def webhook_events(request: pb.RecordWebhookRequest) -> list[InboxEvent]:
    """The envelope of every event checked before anything is written; the payloads are not."""
    events = []
    for i, event in enumerate(request.events):
        path = f"events[{i}]"
        if event.provider not in _PROVIDERS:
            raise InvalidArgument(
                f"{path}.provider must be PROVIDER_GHL, PROVIDER_TWILIO or PROVIDER_SENDGRID",
                reason="MISSING_FIELD" if event.provider == pb.PROVIDER_UNSPECIFIED else "INVALID_PROVIDER",
                violations=[FieldViolation(f"{path}.provider", "a Provider other than PROVIDER_UNSPECIFIED")],
            )
        provider_event_id = _envelope_text(
            event.provider_event_id, f"{path}.provider_event_id", MAX_PROVIDER_EVENT_ID, required=True
        )
        if len(event.payload) > MAX_WEBHOOK_PAYLOAD:
            raise InvalidArgument(
                f"{path}.payload is {len(event.payload)} bytes; the limit is {MAX_WEBHOOK_PAYLOAD}",
                reason="FIELD_TOO_LARGE",
                violations=[FieldViolation(f"{path}.payload", f"at most {MAX_WEBHOOK_PAYLOAD} bytes")],
            )
        events.append(
            InboxEvent(
                provider=event.provider,
                provider_event_id=provider_event_id,
                event_type=_envelope_text(event.event_type, f"{path}.event_type", 256).strip(),
                payload=event.payload,
                location_id=_envelope_text(event.location_id, f"{path}.location_id", 200).strip(),
            )
        )
    return events


class IngestServicer(pb_grpc.IngestServiceServicer):
    def __init__(self, repo: IngestRepository, inbox: WebhookInbox, *, import_batch: int) -> None:
        self._repo = repo
        self._inbox = inbox
        self._import_batch = import_batch

    async def RecordWebhook(
        self, request: pb.RecordWebhookRequest, context: Context
    ) -> pb.RecordWebhookResponse:
        events = webhook_events(request)
        receive_time = timestamps.from_proto(request.receive_time) or timestamps.now()
        outcomes = await self._inbox.record(events, receive_time)
        return pb.RecordWebhookResponse(
            results=[
                pb.WebhookResult(
                    provider_event_id=o.provider_event_id,
                    duplicate=o.duplicate,
                    outcome=o.outcome,
                    detail=o.detail,
                    lead_id=str(o.lead_id) if o.lead_id is not None else "",
                    location_id=o.location_id,
                )
                for o in outcomes
            ]
        )

    async def UpsertLead(self, request: pb.UpsertLeadRequest, context: Context) -> pb.UpsertLeadResponse:
        # Everything is validated before the transaction opens, so bad input writes nothing.
        location_id = ids.require_text(request.lead.location_id, "lead.location_id")
        lead_id = (
            ids.parse_uuid(request.lead.lead_id, "lead.lead_id", what="lead id")
            if request.lead.lead_id
            else None
        )
        paths = leads.update_paths(request.update_mask.paths, request.lead)
        incoming = leads.from_proto(request.lead)
        result = await self._repo.upsert_lead(
            lead_id=lead_id,
            location_id=location_id,
            incoming=incoming,
            paths=paths,
            request_id=ids.request_key(request.request_id),
        )
        return pb.UpsertLeadResponse(lead=lead_to_proto(result.row), created=result.created)

    async def GetLead(self, request: pb.GetLeadRequest, context: Context) -> pb.GetLeadResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        row = await self._repo.get_lead(lead_id, _optional_location(request.location_id))
        return pb.GetLeadResponse(lead=lead_to_proto(row))

    async def GetLeadByExternalId(
        self, request: pb.GetLeadByExternalIdRequest, context: Context
    ) -> pb.GetLeadByExternalIdResponse:
        location_id = ids.require_text(request.location_id, "location_id")
        external_id = ids.require_text(request.external_contact_id, "external_contact_id")
        row = await self._repo.get_lead_by_external_id(location_id, external_id)
        return pb.GetLeadByExternalIdResponse(lead=lead_to_proto(row))

    async def ListLeads(self, request: pb.ListLeadsRequest, context: Context) -> pb.ListLeadsResponse:
        location_id = ids.require_text(request.location_id, "location_id")
        size = pagination.page_size(request.page_size)
        source = leads.clean_source(request.source, "source")
        tag = " ".join(request.tag.split()).lower()
        since = timestamps.from_proto(request.updated_since_time)
        query = f"{location_id}|{source}|{tag}|{since.isoformat() if since else ''}"
        after = pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query)
        rows = await self._repo.list_leads(
            location_id, source=source, tag=tag, updated_since=since, after=after, limit=size
        )
        page, token = pagination.page_of(
            rows, size, lambda r: {"t": r["update_time"].isoformat(), "id": str(r["lead_id"])}, query=query
        )
        return pb.ListLeadsResponse(leads=[lead_to_proto(r) for r in page], next_page_token=token)

    async def DeleteLead(self, request: pb.DeleteLeadRequest, context: Context) -> pb.DeleteLeadResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        # Deleting is idempotent by its nature; request_id is only checked for shape.
        ids.request_key(request.request_id)
        row = await self._repo.delete_lead(lead_id, _optional_location(request.location_id))
        return pb.DeleteLeadResponse(
            lead=pb.Lead(
                lead_id=str(row["lead_id"]),
                location_id=row["location_id"],
                external_contact_id=row["external_contact_id"] or "",
                create_time=timestamps.to_proto(row["create_time"]),
                update_time=timestamps.to_proto(row["update_time"]),
                delete_time=timestamps.to_proto(row["delete_time"]),
            )
        )

    async def RecordEvent(self, request: pb.RecordEventRequest, context: Context) -> pb.RecordEventResponse:
        event = leads.event_from_proto(
            request.event, request_id=ids.request_key(request.request_id), now=timestamps.now()
        )
        row, duplicate = await self._repo.record_event(event)
        return pb.RecordEventResponse(event=event_to_proto(row), duplicate=duplicate)

    async def ListLeadEvents(
        self, request: pb.ListLeadEventsRequest, context: Context
    ) -> pb.ListLeadEventsResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        size = pagination.page_size(request.page_size)
        since = timestamps.from_proto(request.occurred_since_time)
        query = f"{lead_id}|{since.isoformat() if since else ''}"
        after = pagination.decode_cursor(
            request.page_token, lambda c: (datetime.fromisoformat(c["t"]), c["id"]), query=query
        )
        rows = await self._repo.list_events(lead_id, occurred_since=since, after=after, limit=size)
        page, token = pagination.page_of(
            rows, size, lambda r: {"t": r["occurred_time"].isoformat(), "id": r["event_id"]}, query=query
        )
        return pb.ListLeadEventsResponse(events=[event_to_proto(r) for r in page], next_page_token=token)

    async def ImportLeads(
        self, request_iterator: AsyncIterator[pb.ImportLeadsRequest], context: Context
    ) -> pb.ImportLeadsResponse:
        """A pipeline: while PostgreSQL writes chunk N, chunk N+1 is read and validated. Validation
        (~0.1 ms of CPU a row) runs in a thread so other RPCs on this loop keep being served.
        Chunks are validated and written strictly in order."""
        state = _ImportState()
        chunk: list[pb.ImportLeadsRequest] = []
        writing: asyncio.Task[None] | None = None
        try:
            async for item in request_iterator:
                chunk.append(item)
                if len(chunk) >= self._import_batch:
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

    async def _write(self, batch: list[LeadFields], state: _ImportState) -> None:
        if not batch:
            return
        assert state.location_id is not None  # set by the validation that accepted these rows
        inserted = await self._repo.import_batch(state.location_id, batch)
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

    def validate(self, chunk: list[pb.ImportLeadsRequest]) -> list[LeadFields]:
        good: list[LeadFields] = []
        for item in chunk:
            self.received += 1
            try:
                location_id = _import_location(item, self.location_id)
                fields = _import_fields(item.lead, location_id)
            except InvalidArgument as err:
                self.rejected += 1
                if len(self.rejections) < MAX_REJECTIONS:
                    field = err.violations[0].field if err.violations else "lead"
                    row = item.row or self.received
                    self.rejections.append(pb.ImportRejection(row=row, field=field, reason=err.reason))
                continue
            self.location_id = location_id
            good.append(fields)
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
    location_id = ids.require_text(named or on_lead or (stream_location or ""), "location_id")
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


__all__ = ["IngestServicer", "event_to_proto", "lead_to_proto"]
