"""IngestService handlers for location profiles: proto in, use-case calls, proto out.
Mixed into IngestServicer, which supplies `_locations`."""

from __future__ import annotations

from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import locations
from services.ingest.conversions import location_to_proto
from services.ingest.location_writes import LocationProfiles
from shared import inputs, pagination
from shared.rpc import Context


def _cursor(c: dict[str, str]) -> tuple[datetime, str]:
    return datetime.fromisoformat(c["t"]), c["id"]


class LocationHandlers:
    _locations: LocationProfiles

    async def GetLocation(self, request: pb.GetLocationRequest, context: Context) -> pb.GetLocationResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        return pb.GetLocationResponse(location=location_to_proto(await self._locations.get(location_id)))

    async def UpdateLocation(
        self, request: pb.UpdateLocationRequest, context: Context
    ) -> pb.UpdateLocationResponse:
        # Everything is validated before the transaction opens, so bad input writes nothing.
        location_id = inputs.require_text(request.location.location_id, "location.location_id")
        paths = locations.update_paths(request.update_mask.paths, request.location)
        incoming = locations.from_proto(request.location)
        return await self._locations.update(
            location_id, incoming, paths, inputs.request_key(request.request_id)
        )

    async def ListLocations(
        self, request: pb.ListLocationsRequest, context: Context
    ) -> pb.ListLocationsResponse:
        size = pagination.page_size(request.page_size)
        after = pagination.decode_cursor(request.page_token, _cursor, query="locations")
        found = await self._locations.page(after, size)
        page, token = pagination.page_of(
            found, size, lambda r: {"t": r.create_time.isoformat(), "id": r.location_id}, query="locations"
        )
        return pb.ListLocationsResponse(locations=[location_to_proto(r) for r in page], next_page_token=token)
