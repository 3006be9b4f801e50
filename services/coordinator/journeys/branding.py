"""Who a location's messages come from: its brand and CAN-SPAM postal address, as ingest
holds them (IngestService.GetLocation), laid over the deployment's defaults.

Every message content writes for the coordinator goes through BrandedContent, so the
first touch, cadence steps and agent notices all name the location's brand, and its
email carries the location's postal address. A location that sets neither keeps the
defaults (COORDINATOR_BRAND_NAME, CONTENT_POSTAL_ADDRESS). Profiles are kept
in-process for `ttl_s`, so a change made with UpdateLocation reaches messages within
that time; a message written while ingest cannot answer waits and is retried (the
event or step is redelivered), rather than going out under the wrong name or without
its address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from leadengine.content.v1 import content_service_pb2 as content_pb

from shared.clients import ContentClient, IngestClient, Peers, Refused


@dataclass(frozen=True)
class Branding:
    brand_name: str = ""  # "" = the caller's default
    postal_address: str = ""  # "" = content's default


class LocationBranding:
    """Location profiles from ingest, cached in-process (misses too) for ttl_s."""

    def __init__(
        self, ingest: IngestClient, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ingest = ingest
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Branding]] = {}

    async def brand_name(self, location_id: str) -> str:
        return (await self.of(location_id)).brand_name

    async def of(self, location_id: str) -> Branding:
        now = self._clock()
        hit = self._cache.get(location_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        location = await self._ingest.get_location(location_id)
        branding = (
            Branding(brand_name=location.brand_name, postal_address=location.postal_address)
            if location is not None
            else Branding()
        )
        if len(self._cache) > 10_000:  # bounded: drop what has expired, else everything
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) > 10_000:
                self._cache.clear()
        self._cache[location_id] = (now + self._ttl_s, branding)
        return branding


def branded(
    request: content_pb.GenerateMessageRequest, branding: Branding
) -> content_pb.GenerateMessageRequest:
    """The request with the location's brand and postal address where it sets them."""
    result = content_pb.GenerateMessageRequest()
    result.CopyFrom(request)
    if branding.brand_name:
        result.context.brand_name = branding.brand_name
    if branding.postal_address:
        result.context.postal_address = branding.postal_address
    return result


class BrandedContent(ContentClient):
    """ContentClient that writes every message as its location's brand. With `inner` (another
    ContentClient, e.g. one that also logs what content answered) the branded request goes
    through it; without, straight to content."""

    def __init__(self, peers: Peers, branding: LocationBranding, inner: ContentClient | None = None) -> None:
        super().__init__(peers)
        self._branding = branding
        self._inner = inner

    async def generate_message(
        self, request: content_pb.GenerateMessageRequest
    ) -> content_pb.Message | Refused:
        request = branded(request, await self._branding.of(request.location_id))
        if self._inner is not None:
            return await self._inner.generate_message(request)
        return await super().generate_message(request)
