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

    async def get_lead(self, lead_id: uuid.UUID | str) -> pb.Lead | None:
        """The lead (erased fields and delete_time set when it was deleted); None when ingest never had it."""
        try:
            resp = await self._call(
                "GetLead", self._peers.ingest.GetLead, pb.GetLeadRequest(lead_id=str(lead_id)), budget_s=2.0
            )
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
        self, lead_id: uuid.UUID | str, since: datetime, *, page_size: int, page_token: str = ""
    ) -> tuple[list[pb.LeadEvent], str] | None:
        """One page of the lead's events since `since`, newest first, and the next token;
        None when ingest does not know the lead."""
        request = pb.ListLeadEventsRequest(
            lead_id=str(lead_id),
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
