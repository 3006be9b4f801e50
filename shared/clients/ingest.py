"""IngestService as its callers use it: leads, their events, webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared import timestamps
from shared.clients.base import Client
from shared.clients.errors import PeerError
from shared.clients.peers import Peers


class IngestClient(Client):
    peer = "ingest"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def get_lead(self, lead_id: uuid.UUID | str, location_id: str) -> pb.Lead | None:
        """The lead (erased fields and delete_time set when it was deleted); None when ingest never
        had it, or not in location_id (required, #15)."""
        request = pb.GetLeadRequest(lead_id=str(lead_id), location_id=location_id)
        try:
            resp = await self._call("GetLead", self._peers.ingest.GetLead, request, budget_s=2.0)
        except PeerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return resp.lead

    async def list_leads(self, request: pb.ListLeadsRequest) -> tuple[list[pb.Lead], str]:
        """One page of a location's leads under the request's filters, and the next token."""
        page = await self._call("ListLeads", self._peers.ingest.ListLeads, request, budget_s=10.0)
        return list(page.leads), page.next_page_token

    async def list_lead_events(
        self,
        lead_id: uuid.UUID | str,
        location_id: str,
        since: datetime,
        *,
        page_size: int,
        page_token: str = "",
    ) -> tuple[list[pb.LeadEvent], str] | None:
        """One page of the lead's events since `since`, newest first, and the next token;
        None when ingest does not know the lead in location_id."""
        request = pb.ListLeadEventsRequest(
            lead_id=str(lead_id),
            location_id=location_id,
            page_size=page_size,
            page_token=page_token,
            occurred_since_time=timestamps.to_proto(since),
        )
        try:
            page = await self._call(
                "ListLeadEvents", self._peers.ingest.ListLeadEvents, request, budget_s=5.0
            )
        except PeerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return list(page.events), page.next_page_token

    async def record_webhook(
        self, events: list[pb.WebhookEvent], receive_time: Timestamp, *, budget_s: float
    ) -> pb.RecordWebhookResponse:
        """Ingest answers only once every event is committed; PeerError otherwise."""
        return await self._call(
            "RecordWebhook",
            self._peers.ingest.RecordWebhook,
            pb.RecordWebhookRequest(events=events, receive_time=receive_time),
            budget_s=budget_s,
        )

    async def get_location(self, location_id: str) -> pb.Location | None:
        """The location's profile; None when ingest never heard of the location."""
        try:
            resp = await self._call(
                "GetLocation",
                self._peers.ingest.GetLocation,
                pb.GetLocationRequest(location_id=location_id),
                budget_s=2.0,
            )
        except PeerError as err:
            if err.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return resp.location

    async def update_location(
        self, location: pb.Location, *, paths: list[str] | None = None, request_id: str = ""
    ) -> pb.UpdateLocationResponse:
        """Creates or updates the profile (only `paths` when given); INVALID_ARGUMENT as PeerError."""
        request = pb.UpdateLocationRequest(location=location, request_id=request_id)
        if paths is not None:
            request.update_mask.paths.extend(paths)
        return await self._call("UpdateLocation", self._peers.ingest.UpdateLocation, request, budget_s=5.0)

    async def list_locations(
        self, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.Location], str]:
        """One page of locations, newest first, and the next token ("" at the end)."""
        page = await self._call(
            "ListLocations",
            self._peers.ingest.ListLocations,
            pb.ListLocationsRequest(page_size=page_size, page_token=page_token),
            budget_s=5.0,
        )
        return list(page.locations), page.next_page_token

    async def list_dead_letters(
        self, *, location_id: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.DeadLetter], str]:
        page = await self._call(
            "ListDeadLetters",
            self._peers.ingest.ListDeadLetters,
            pb.ListDeadLettersRequest(location_id=location_id, page_size=page_size, page_token=page_token),
            budget_s=5.0,
        )
        return list(page.dead_letters), page.next_page_token

    async def replay_dead_letters(
        self, event_ids: list[str] | None = None, *, location_id: str = "", request_id: str = ""
    ) -> int:
        """Puts the named dead letters (None: all, of location_id when set) back on the outbox;
        returns how many moved."""
        request = pb.ReplayDeadLettersRequest(
            event_ids=event_ids or [], all=event_ids is None, location_id=location_id, request_id=request_id
        )
        resp = await self._call(
            "ReplayDeadLetters", self._peers.ingest.ReplayDeadLetters, request, budget_s=30.0
        )
        return resp.replayed_count

    async def update_lead_fields(self, lead: pb.Lead, paths: list[str], *, request_id: str) -> pb.Lead:
        """Writes only `paths` of the lead named by lead.lead_id (UpsertLead with a mask);
        idempotent on request_id."""
        request = pb.UpsertLeadRequest(lead=lead, request_id=request_id)
        request.update_mask.paths.extend(paths)
        resp = await self._call("UpsertLead", self._peers.ingest.UpsertLead, request, budget_s=2.0)
        return resp.lead
