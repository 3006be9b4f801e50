"""IngestService handlers: proto in, use-case calls, proto out. No rules, no SQL, no status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from services.ingest import leads
from services.ingest.conversions import event_to_proto, lead_to_proto
from services.ingest.dead_letter_servicer import DeadLetterHandlers
from services.ingest.importing import LeadImport
from services.ingest.lead_writes import LeadWrites
from services.ingest.location_servicer import LocationHandlers
from services.ingest.location_writes import LocationProfiles
from services.ingest.profiles_servicer import LeadProfileHandlers
from services.ingest.recording import WebhookRecorder
from services.ingest.repository.events import EventReads
from services.ingest.repository.leads import LeadReads, StoredLead
from services.ingest.repository.outbox import DeadLetters
from services.ingest.webhooks.envelope import inbox_events
from shared import inputs, pagination, tenancy, timestamps
from shared.rpc import Context


class IngestServicer(
    LocationHandlers, DeadLetterHandlers, LeadProfileHandlers, pb_grpc.IngestServiceServicer
):
    def __init__(
        self,
        *,
        lead_reads: LeadReads,
        event_reads: EventReads,
        writes: LeadWrites,
        recorder: WebhookRecorder,
        importer: LeadImport,
        locations: LocationProfiles,
        dead_letters: DeadLetters,
    ) -> None:
        self._lead_reads = lead_reads
        self._event_reads = event_reads
        self._writes = writes
        self._recorder = recorder
        self._importer = importer
        self._locations = locations
        self._dead_letters = dead_letters

    async def RecordWebhook(
        self, request: pb.RecordWebhookRequest, context: Context
    ) -> pb.RecordWebhookResponse:
        events = inbox_events(request)
        receive_time = timestamps.from_proto(request.receive_time) or timestamps.now()
        outcomes = await self._recorder.record(events, receive_time)
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
        location_id = inputs.require_text(request.lead.location_id, "lead.location_id")
        lead_id = (
            inputs.parse_uuid(request.lead.lead_id, "lead.lead_id", what="lead id")
            if request.lead.lead_id
            else None
        )
        paths = leads.update_paths(request.update_mask.paths, request.lead)
        incoming = leads.from_proto(request.lead)
        result = await self._writes.upsert(
            lead_id=lead_id,
            location_id=location_id,
            incoming=incoming,
            paths=paths,
            request_id=inputs.request_key(request.request_id),
        )
        return pb.UpsertLeadResponse(lead=lead_to_proto(result.lead), created=result.created)

    async def GetLead(self, request: pb.GetLeadRequest, context: Context) -> pb.GetLeadResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        lead = await self._lead_reads.get(lead_id, tenancy.required_location(request.location_id))
        return pb.GetLeadResponse(lead=lead_to_proto(lead))

    async def GetLeadByExternalId(
        self, request: pb.GetLeadByExternalIdRequest, context: Context
    ) -> pb.GetLeadByExternalIdResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        external_id = inputs.require_text(request.external_contact_id, "external_contact_id")
        lead = await self._lead_reads.by_external_id(location_id, external_id)
        return pb.GetLeadByExternalIdResponse(lead=lead_to_proto(lead))

    async def ListLeads(self, request: pb.ListLeadsRequest, context: Context) -> pb.ListLeadsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        size = pagination.page_size(request.page_size)
        filters = leads.lead_filters(request)
        query = f"{location_id}|{filters.fingerprint()}"
        after = pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query)
        found = await self._lead_reads.page(location_id, filters, after=after, limit=size)

        def cursor(r: StoredLead) -> dict[str, str]:
            at = r.create_time if filters.oldest_first else r.update_time
            return {"t": at.isoformat(), "id": str(r.lead_id)}

        page, token = pagination.page_of(found, size, cursor, query=query)
        return pb.ListLeadsResponse(leads=[lead_to_proto(r) for r in page], next_page_token=token)

    async def DeleteLead(self, request: pb.DeleteLeadRequest, context: Context) -> pb.DeleteLeadResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        # Deleting is idempotent by its nature; request_id is only checked for shape.
        inputs.request_key(request.request_id)
        # Required (#15): no service of the mesh deletes leads, and every outside caller knows
        # the location it acts for; another location's lead is NOT_FOUND.
        lead = await self._writes.delete(lead_id, inputs.require_text(request.location_id, "location_id"))
        return pb.DeleteLeadResponse(
            lead=pb.Lead(
                lead_id=str(lead.lead_id),
                location_id=lead.location_id,
                external_contact_id=lead.fields.external_contact_id or "",
                create_time=timestamps.to_proto(lead.create_time),
                update_time=timestamps.to_proto(lead.update_time),
                delete_time=timestamps.to_proto(lead.delete_time),
            )
        )

    async def RecordEvent(self, request: pb.RecordEventRequest, context: Context) -> pb.RecordEventResponse:
        event = leads.event_from_proto(
            request.event, request_id=inputs.request_key(request.request_id), now=timestamps.now()
        )
        stored, duplicate = await self._writes.record_event(event)
        return pb.RecordEventResponse(event=event_to_proto(stored), duplicate=duplicate)

    async def ListLeadEvents(
        self, request: pb.ListLeadEventsRequest, context: Context
    ) -> pb.ListLeadEventsResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = tenancy.required_location(request.location_id)
        size = pagination.page_size(request.page_size)
        since = timestamps.from_proto(request.occurred_since_time)
        query = f"{lead_id}|{since.isoformat() if since else ''}"
        after = pagination.decode_cursor(
            request.page_token, lambda c: (datetime.fromisoformat(c["t"]), c["id"]), query=query
        )
        # another location's lead: NOT_FOUND
        found = await self._event_reads.page(
            lead_id, location_id, occurred_since=since, after=after, limit=size
        )
        page, token = pagination.page_of(
            found, size, lambda r: {"t": r.occurred_time.isoformat(), "id": r.event_id}, query=query
        )
        return pb.ListLeadEventsResponse(events=[event_to_proto(r) for r in page], next_page_token=token)

    async def ImportLeads(
        self, request_iterator: AsyncIterator[pb.ImportLeadsRequest], context: Context
    ) -> pb.ImportLeadsResponse:
        return await self._importer.run(request_iterator)


__all__ = ["IngestServicer"]
