"""Location profiles: GetLocation, UpdateLocation (an upsert, replayed by request_id), ListLocations.

A profile change publishes nothing: readers (the coordinator) ask GetLocation and keep
the answer for a short while, so a change reaches messages within that while.
"""

from __future__ import annotations

from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import locations
from services.ingest.conversions import location_to_proto
from services.ingest.locations import LocationFields
from services.ingest.repository import locations as location_rows
from services.ingest.repository.locations import LocationReads, StoredLocation
from shared import tenancy
from shared.db import Database


class LocationProfiles:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._reads = LocationReads(db)

    async def get(self, location_id: str) -> StoredLocation:
        found = await self._reads.get(location_id)
        if found is None:
            raise locations.location_missing(location_id)
        return found

    async def update(
        self,
        location_id: str,
        incoming: LocationFields,
        paths: frozenset[str],
        request_id: str | None,
    ) -> pb.UpdateLocationResponse:
        """Everything or nothing: a number another location owns rolls the whole call back."""
        async with self._db.transaction() as conn:
            claimed = request_id is None or await location_rows.claim_request(conn, request_id, location_id)
            if not claimed:
                assert request_id is not None
                stored = await location_rows.replayed(conn, request_id)
                replayed = pb.UpdateLocationResponse.FromString(stored)
                tenancy.ensure_same_key_owner(request_id, replayed.location.location_id, location_id)
                return replayed
            existing, created = await location_rows.locked_or_created(conn, location_id)
            after = locations.merge(existing.fields, incoming, paths)
            if after == existing.fields and not created:
                written = existing
            else:
                taken = await location_rows.claim_numbers(conn, location_id, after.sms_from_numbers)
                if taken:
                    number, owner = next(iter(sorted(taken.items())))
                    raise locations.number_taken(number, owner, after.sms_from_numbers)
                written = await location_rows.write(conn, location_id, after)
            response = pb.UpdateLocationResponse(location=location_to_proto(written), created=created)
            if request_id is not None:
                await location_rows.finish_request(conn, request_id, response.SerializeToString())
        return response

    async def page(self, after: tuple[datetime, str] | None, limit: int) -> list[StoredLocation]:
        return await self._reads.page(after, limit)
