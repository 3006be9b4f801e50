"""A lead and its recent events, read from ingest (intelligence owns neither)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import grpc
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.intelligence.scoring import Event, LeadProfile
from shared import deadlines, timestamps
from shared.clients import Peers
from shared.errors import FailedPrecondition, NotFound

log = logging.getLogger(__name__)

_PAGE_SIZE = 500
# Enough for every event that can still earn points (11 kinds x 20 a day x 90
# days is 19,800); beyond it the oldest, least weighty events are left unread.
MAX_EVENTS = 20_000


@dataclass(frozen=True)
class Lead:
    lead_id: str
    location_id: str
    profile: LeadProfile
    create_time: datetime | None


def _enum_suffix(value_name: str, prefix: str) -> str:
    return value_name.removeprefix(prefix).lower()


def event_from_proto(event: ingest_pb.LeadEvent) -> Event | None:
    occurred = timestamps.from_proto(event.occurred_time)
    if occurred is None or event.type == ingest_pb.EVENT_TYPE_UNSPECIFIED:
        return None
    try:
        name = ingest_pb.EventType.Name(event.type)
    except ValueError:  # a kind newer than our stubs: not ours to weigh yet
        return None
    return Event(_enum_suffix(name, "EVENT_TYPE_"), occurred, event.listing_id)


def lead_from_proto(lead: ingest_pb.Lead) -> Lead:
    try:
        source = _enum_suffix(ingest_pb.LeadSource.Name(lead.source), "LEAD_SOURCE_")
    except ValueError:
        source = ""
    # Only these fields may feed a score: nothing that names or locates a person
    # can stand in for a protected class.
    profile = LeadProfile(
        budget_usd=lead.budget_usd,
        preapproved=lead.preapproved,
        timeline_months=lead.timeline_months,
        has_phone=bool(lead.phone),
        has_email=bool(lead.email),
        source="" if source == "unspecified" else source,
    )
    return Lead(lead.lead_id, lead.location_id, profile, timestamps.from_proto(lead.create_time))


class ActivityReader:
    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def lead(self, lead_id: uuid.UUID) -> Lead:
        try:
            resp = await self._peers.ingest.GetLead(
                ingest_pb.GetLeadRequest(lead_id=str(lead_id)), timeout=deadlines.timeout(2.0)
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(
                    f"lead {lead_id} does not exist in ingest; create it with UpsertLead first",
                    reason="LEAD_NOT_FOUND",
                    metadata={"lead_id": str(lead_id)},
                ) from None
            raise
        if resp.lead.HasField("delete_time"):
            raise FailedPrecondition(
                f"lead {lead_id} was deleted; deleted leads are not scored",
                reason="LEAD_DELETED",
                metadata={"lead_id": str(lead_id)},
            )
        return lead_from_proto(resp.lead)

    async def events(self, lead_id: uuid.UUID, since: datetime) -> list[Event]:
        """Every event since `since`, most recent first, one page at a time."""
        events: list[Event] = []
        token = ""
        while True:
            try:
                page = await self._peers.ingest.ListLeadEvents(
                    ingest_pb.ListLeadEventsRequest(
                        lead_id=str(lead_id),
                        page_size=_PAGE_SIZE,
                        page_token=token,
                        occurred_since_time=timestamps.to_proto(since),
                    ),
                    timeout=deadlines.timeout(5.0),
                )
            except grpc.aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.NOT_FOUND:  # deleted between GetLead and now
                    raise NotFound(
                        f"lead {lead_id} does not exist in ingest",
                        reason="LEAD_NOT_FOUND",
                        metadata={"lead_id": str(lead_id)},
                    ) from None
                raise
            events.extend(e for e in map(event_from_proto, page.events) if e is not None)
            token = page.next_page_token
            if not token:
                return events
            if len(events) >= MAX_EVENTS:
                log.warning("event read truncated", extra={"lead_id": str(lead_id), "read": len(events)})
                return events
