"""A lead and its recent events, read from ingest (intelligence owns neither)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.intelligence.scoring import Event, LeadProfile
from shared import timestamps
from shared.clients import IngestClient, Peers
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound

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
        self._ingest = IngestClient(peers)

    async def lead(
        self, lead_id: uuid.UUID, snapshot: ingest_pb.Lead | None = None, location: str | None = None
    ) -> Lead:
        """The lead to score: the caller's snapshot when it sent one, else ingest's. Ingest reads a
        lead by id only for the location it is asked for (#15), so without a snapshot the lead's
        location must be known (`location`): otherwise INVALID_ARGUMENT naming `lead`."""
        if snapshot is not None:
            if snapshot.lead_id != str(lead_id):
                raise InvalidArgument(
                    f"lead.lead_id {snapshot.lead_id!r} is not lead_id {str(lead_id)!r}",
                    violations=[FieldViolation("lead.lead_id", "must equal lead_id, or leave lead unset")],
                )
            found: ingest_pb.Lead | None = snapshot
        elif location is None:
            raise InvalidArgument(
                f"lead {lead_id} was never scored, so its location is unknown: send the lead as you"
                " hold it (lead) so intelligence can read it from ingest for its location",
                violations=[FieldViolation("lead", "the lead, required the first time it is scored")],
            )
        else:
            found = await self._ingest.get_lead(lead_id, location)
        if found is None:
            raise _lead_missing(lead_id, "; create it with UpsertLead first")
        if found.HasField("delete_time"):
            raise FailedPrecondition(
                f"lead {lead_id} was deleted; deleted leads are not scored",
                reason="LEAD_DELETED",
                metadata={"lead_id": str(lead_id)},
            )
        return lead_from_proto(found)

    async def events(self, lead_id: uuid.UUID, location: str, since: datetime) -> list[Event]:
        """Every event since `since`, most recent first, one page at a time."""
        raw = await self.raw_events(lead_id, location, since)
        return [e for e in map(event_from_proto, raw) if e is not None]

    async def raw_events(
        self, lead_id: uuid.UUID, location: str, since: datetime
    ) -> list[ingest_pb.LeadEvent]:
        """Every event since `since` as ingest holds it, most recent first."""
        events: list[ingest_pb.LeadEvent] = []
        token = ""
        while True:
            page = await self._ingest.list_lead_events(
                lead_id, location, since, page_size=_PAGE_SIZE, page_token=token
            )
            if page is None:  # deleted between reading the lead and now
                raise _lead_missing(lead_id, "")
            got, token = page
            events.extend(got)
            if not token:
                return events
            if len(events) >= MAX_EVENTS:
                log.warning("event read truncated", extra={"lead_id": str(lead_id), "read": len(events)})
                return events


def _lead_missing(lead_id: uuid.UUID, hint: str) -> NotFound:
    return NotFound(
        f"lead {lead_id} does not exist in ingest{hint}",
        reason="LEAD_NOT_FOUND",
        metadata={"lead_id": str(lead_id)},
    )
