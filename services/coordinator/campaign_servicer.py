"""CoordinatorService handlers for recovery campaigns: proto in, use-case calls, proto out.
Mixed into CoordinatorServicer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.campaigns import campaign as rules
from services.coordinator.campaigns.campaign import Campaign
from services.coordinator.campaigns.control import CampaignControl
from services.coordinator.campaigns.preview import (
    DEFAULT_SAMPLE,
    MAX_SAMPLE,
    CampaignPreview,
    sample_to_proto,
)
from services.coordinator.campaigns.repository import CampaignRepository
from shared import inputs, pagination, tenancy, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context


def campaign_to_proto(c: Campaign) -> pb.Campaign:
    n = c.counts
    return pb.Campaign(
        campaign_id=str(c.campaign_id),
        location_id=c.location_id,
        name=c.name,
        cadence_id=str(c.cadence_id) if c.cadence_id else "",
        audience=pb.CampaignAudience(
            min_days_inactive=c.audience.min_days_inactive,
            tags=list(c.audience.tags),
            sources=list(c.audience.sources),  # type: ignore[arg-type]
            max_score=c.audience.max_score,
        ),
        daily_limit=c.daily_limit,
        state=c.state,
        counts=pb.CampaignCounts(
            audience=n.audience,
            enrolled=n.enrolled,
            sent=n.sent,
            replied=n.replied,
            opted_out=n.opted_out,
            converted=n.converted,
            skipped=n.skipped,
        ),
        create_time=timestamps.to_proto(c.create_time),
        update_time=timestamps.to_proto(c.update_time),
    )


def _cursor(c: Campaign) -> dict[str, str]:
    assert c.create_time is not None
    return {"t": c.create_time.isoformat(), "id": str(c.campaign_id)}


def _required_request_id(raw: str) -> str:
    key = inputs.request_key(raw)
    if key is None:
        raise InvalidArgument(
            "request_id is required: a retried StartCampaign must not start a second campaign",
            reason="MISSING_FIELD",
            violations=[FieldViolation("request_id", "required")],
        )
    return key


@dataclass(frozen=True)
class CampaignRoom:
    """What the campaign handlers call."""

    control: CampaignControl
    preview: CampaignPreview
    repository: CampaignRepository


class CampaignHandlers:
    _campaign_room: CampaignRoom

    def _campaign_id(self, raw: str) -> uuid.UUID:
        return inputs.parse_uuid(raw, "campaign_id", what="campaign id")

    async def StartCampaign(
        self, request: pb.StartCampaignRequest, context: Context
    ) -> pb.StartCampaignResponse:
        started = await self._campaign_room.control.start(
            request.campaign, _required_request_id(request.request_id)
        )
        return pb.StartCampaignResponse(campaign=campaign_to_proto(started))

    async def PreviewCampaign(
        self, request: pb.PreviewCampaignRequest, context: Context
    ) -> pb.PreviewCampaignResponse:
        if not 0 <= request.sample_size <= MAX_SAMPLE:
            raise InvalidArgument(
                f"sample_size must be 0..{MAX_SAMPLE}",
                reason="OUT_OF_RANGE",
                violations=[FieldViolation("sample_size", f"0..{MAX_SAMPLE} (0: {DEFAULT_SAMPLE})")],
            )
        inputs.request_key(request.request_id)
        c, cadence = await self._campaign_room.control.resolve(request.campaign, uuid.uuid4())
        purpose = cadence.steps[0].purpose if cadence is not None else rules.RECOVERY_STEPS[0].purpose
        result = await self._campaign_room.preview.preview(c, purpose, request.sample_size or DEFAULT_SAMPLE)
        return pb.PreviewCampaignResponse(
            audience_size=result.audience,
            sample=[sample_to_proto(s) for s in result.sample],
            would_send=result.send,
            would_hold=result.hold,
            would_block=result.block,
            days_to_enroll=rules.days_to_enroll(result.audience, c.daily_limit),
        )

    async def GetCampaign(self, request: pb.GetCampaignRequest, context: Context) -> pb.GetCampaignResponse:
        campaign_id = self._campaign_id(request.campaign_id)
        location = tenancy.required_location(request.location_id)
        found = await self._campaign_room.control.get(campaign_id)
        tenancy.ensure_owned(
            location,
            found.location_id,
            "campaign",
            request.campaign_id,
            "CAMPAIGN_NOT_FOUND",
        )
        return pb.GetCampaignResponse(campaign=campaign_to_proto(found))

    async def ListCampaigns(
        self, request: pb.ListCampaignsRequest, context: Context
    ) -> pb.ListCampaignsResponse:
        location = inputs.require_text(request.location_id, "location_id")
        size = pagination.page_size(request.page_size)
        query = f"campaigns:{location}"
        found = await self._campaign_room.repository.list_campaigns(
            location,
            pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query),
            size,
        )
        page, token = pagination.page_of(found, size, _cursor, query=query)
        return pb.ListCampaignsResponse(campaigns=[campaign_to_proto(c) for c in page], next_page_token=token)

    async def _ensure_campaign_in(self, campaign_id: uuid.UUID, raw_location: str) -> None:
        """A campaign-keyed write claiming a location: the campaign must be in it."""
        if (location := tenancy.claimed_location(raw_location)) is None:
            return
        found = await self._campaign_room.control.get(campaign_id)
        tenancy.ensure_owned(location, found.location_id, "campaign", campaign_id, "CAMPAIGN_NOT_FOUND")

    async def PauseCampaign(
        self, request: pb.PauseCampaignRequest, context: Context
    ) -> pb.PauseCampaignResponse:
        inputs.request_key(request.request_id)
        campaign_id = self._campaign_id(request.campaign_id)
        await self._ensure_campaign_in(campaign_id, tenancy.required_location(request.location_id))
        paused = await self._campaign_room.control.pause(campaign_id)
        return pb.PauseCampaignResponse(campaign=campaign_to_proto(paused))

    async def ResumeCampaign(
        self, request: pb.ResumeCampaignRequest, context: Context
    ) -> pb.ResumeCampaignResponse:
        inputs.request_key(request.request_id)
        campaign_id = self._campaign_id(request.campaign_id)
        await self._ensure_campaign_in(campaign_id, tenancy.required_location(request.location_id))
        resumed = await self._campaign_room.control.resume(campaign_id)
        return pb.ResumeCampaignResponse(campaign=campaign_to_proto(resumed))
