"""ContentService handlers for approval, location settings, template overrides and market
facts: proto in, use-case calls, proto out. Mixed into ContentServicer."""

from __future__ import annotations

from datetime import UTC, datetime

from leadengine.content.v1 import content_service_pb2 as pb

from services.content import market, overrides
from services.content.generation import Generation
from services.content.message_protos import CHANNELS, PURPOSES, message_to_proto
from services.content.settings_repository import (
    AUTOPILOT,
    SUGGEST,
    ContentSettingsRepository,
    LocationSettings,
    StoredOverride,
)
from shared import inputs, tenancy, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

APPROVAL_MODES = {pb.APPROVAL_MODE_AUTOPILOT: AUTOPILOT, pb.APPROVAL_MODE_SUGGEST: SUGGEST}
_MODE_ENUM = {v: k for k, v in APPROVAL_MODES.items()}
MAX_OVERRIDES = 64
MAX_MARKET_ROWS = market.MAX_ROWS


def settings_to_proto(settings: LocationSettings) -> pb.LocationContentSettings:
    return pb.LocationContentSettings(
        location_id=settings.location_id,
        approval_mode=_MODE_ENUM[settings.approval_mode],
        value_propositions=settings.value_propositions,
        link_domains=settings.link_domains,
        update_time=timestamps.to_proto(settings.update_time),
    )


def _too_many(field: str, limit: int) -> InvalidArgument:
    return InvalidArgument(
        f"{field} holds more than {limit}; send at most {limit} at a time",
        reason="TOO_MANY_ITEMS",
        violations=[FieldViolation(field, f"at most {limit}")],
    )


class LocationContentHandlers:
    _generation: Generation
    _settings: ContentSettingsRepository

    async def ApproveMessage(
        self, request: pb.ApproveMessageRequest, context: Context
    ) -> pb.ApproveMessageResponse:
        message_id = inputs.parse_uuid(request.message_id, "message_id", what="message id")
        agent_id = inputs.require_text(request.agent_id, "agent_id")
        edited = request.edited_body if request.HasField("edited_body") else None
        if edited is not None and not edited.strip():
            raise InvalidArgument(
                "edited_body is empty; leave it unset to approve the text as written",
                reason="MISSING_FIELD",
                violations=[FieldViolation("edited_body", "the full edited text, or unset")],
            )
        # Required (#15): the agent approving a draft acts for its location; no service of the
        # mesh approves drafts.
        location = tenancy.required_location(request.location_id)
        message = await self._generation.approve(message_id, agent_id, edited, location)
        return pb.ApproveMessageResponse(message=message_to_proto(message))

    async def SetLocationContentSettings(
        self, request: pb.SetLocationContentSettingsRequest, context: Context
    ) -> pb.SetLocationContentSettingsResponse:
        given = request.settings
        location_id = inputs.require_text(given.location_id, "settings.location_id")
        mode = APPROVAL_MODES.get(given.approval_mode)
        if given.approval_mode and mode is None:
            raise InvalidArgument(
                "settings.approval_mode is not a known mode",
                reason="INVALID_ENUM",
                violations=[FieldViolation("settings.approval_mode", "AUTOPILOT or SUGGEST")],
            )
        settings = overrides.validate_settings(
            location_id, mode or AUTOPILOT, list(given.value_propositions), list(given.link_domains)
        )
        stored = await self._settings.put_settings(settings)
        return pb.SetLocationContentSettingsResponse(settings=settings_to_proto(stored))

    async def GetLocationContentSettings(
        self, request: pb.GetLocationContentSettingsRequest, context: Context
    ) -> pb.GetLocationContentSettingsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        settings = await self._settings.settings(location_id)
        return pb.GetLocationContentSettingsResponse(settings=settings_to_proto(settings))

    async def LoadTemplateOverrides(
        self, request: pb.LoadTemplateOverridesRequest, context: Context
    ) -> pb.LoadTemplateOverridesResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        if len(request.overrides) > MAX_OVERRIDES:
            raise _too_many("overrides", MAX_OVERRIDES)
        settings = await self._settings.settings(location_id)
        checked: list[StoredOverride] = []
        seen: set[tuple[str, str, str]] = set()
        for i, given in enumerate(request.overrides):
            channel = CHANNELS.get(given.channel)
            purpose = PURPOSES.get(given.purpose)
            if channel is None or purpose is None:
                field = f"overrides[{i}].{'channel' if channel is None else 'purpose'}"
                raise InvalidArgument(
                    f"{field} is required",
                    reason="MISSING_FIELD",
                    violations=[FieldViolation(field, "a value")],
                )
            language = given.language.strip().lower()
            key = (channel, purpose, language)
            if key in seen:
                field = f"overrides[{i}]"
                raise InvalidArgument(
                    f"{field} repeats {channel}/{purpose}/{language}; one override each",
                    reason="DUPLICATE_OVERRIDE",
                    violations=[FieldViolation(field, "one per channel, purpose and language")],
                )
            seen.add(key)
            override = overrides.validate_override(
                i, channel, purpose, language, given.subject, given.body, settings
            )
            checked.append(StoredOverride(channel, purpose, language, override))
        loaded = await self._settings.replace_overrides(location_id, checked)
        return pb.LoadTemplateOverridesResponse(loaded=loaded)

    async def ImportMarketFacts(
        self, request: pb.ImportMarketFactsRequest, context: Context
    ) -> pb.ImportMarketFactsResponse:
        if len(request.facts) > MAX_MARKET_ROWS:
            raise _too_many("facts", MAX_MARKET_ROWS)
        today = datetime.now(UTC).date()
        newest: dict[tuple[str, str], market.MarketFact] = {}
        for i, given in enumerate(request.facts):
            fact = market.validated(
                i,
                zip_code=given.zip,
                city=given.city,
                price=given.median_price_usd,
                dom=given.days_on_market,
                inventory=given.inventory,
                as_of=given.as_of_date,
                today=today,
            )
            key = (fact.area_kind, fact.area)
            if key not in newest or newest[key].as_of_date <= fact.as_of_date:
                newest[key] = fact
        stored = await self._settings.store_market(list(newest.values()))
        return pb.ImportMarketFactsResponse(stored=stored, skipped_older=len(request.facts) - stored)
