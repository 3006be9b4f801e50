"""IntelligenceService handlers for trigger rules and their firings: proto in, use-case
calls, proto out. Mixed into IntelligenceServicer, which supplies `_trigger_firing`."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from google.protobuf import duration_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.trigger_firing import TriggerFiring
from services.intelligence.trigger_repository import Firing
from services.intelligence.trigger_rules import EVENT_COUNT, PRICE_BAND, RETURN, Rule
from shared import inputs, pagination, tenancy, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Evidence is read from intelligence's event window at most (INTELLIGENCE_EVENT_WINDOW_DAYS).
MAX_LOOKBACK = timedelta(days=90)
MAX_SUPPRESSION = timedelta(days=365)


def _duration(d: timedelta) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(d)
    return out


def rule_to_proto(rule: Rule) -> pb.TriggerRule:
    return pb.TriggerRule(
        rule_id=rule.rule_id,
        location_id=rule.location_id,
        name=rule.name,
        disabled=rule.disabled,
        condition=rule.condition,  # type: ignore[arg-type]
        event_types=list(rule.event_types),  # type: ignore[arg-type]
        listing_required=rule.listing_required,
        min_count=rule.min_count,
        window=_duration(rule.window),
        inactivity=_duration(rule.inactivity),
        price_change_percent=rule.price_change_percent,
        baseline=_duration(rule.baseline),
        suppression=_duration(rule.suppression),
        hot=rule.hot,
        is_default=rule.is_default,
        version=rule.version,
        update_time=timestamps.to_proto(rule.update_time),
    )


def firing_to_proto(firing: Firing) -> pb.TriggerFiring:
    return pb.TriggerFiring(
        firing_id=str(firing.firing_id),
        rule_id=firing.rule_id,
        lead_id=str(firing.lead_id),
        location_id=firing.location_id,
        description=firing.description,
        listing_id=firing.listing_id,
        listing_label=firing.listing_label,
        hot=firing.hot,
        event_ids=list(firing.event_ids),
        fire_time=timestamps.to_proto(firing.fire_time),
        suppression=_duration(firing.suppression),
        condition=firing.condition,  # type: ignore[arg-type]
        rule_version=firing.rule_version,
    )


def _bad(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"rule.{field}: {why}", violations=[FieldViolation(f"rule.{field}", why)])


def _span(given: duration_pb2.Duration, field: str, *, required: bool, most: timedelta) -> timedelta:
    value = given.ToTimedelta()
    if value < timedelta(0) or value > most or (required and value == timedelta(0)):
        raise _bad(field, f"{'more than 0 and ' if required else ''}at most {most.days} days")
    return value


def rule_from_proto(given: pb.TriggerRule) -> Rule:
    """A rule as the caller gave it, checked field by field; raises InvalidArgument naming one."""
    location = inputs.require_text(given.location_id, "rule.location_id")
    rule_id = given.rule_id.strip()
    if not _RULE_ID.match(rule_id):
        raise _bad("rule_id", "1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit")
    condition = given.condition
    if condition not in (pb.TRIGGER_CONDITION_SAME_LISTING_VIEWS, EVENT_COUNT, RETURN, PRICE_BAND):
        raise _bad("condition", "one of the TriggerCondition values but UNSPECIFIED")
    if not 1 <= given.min_count <= 1000:
        raise _bad("min_count", "1..1000")
    window = _span(given.window, "window", required=True, most=MAX_LOOKBACK)
    inactivity = _span(given.inactivity, "inactivity", required=condition == RETURN, most=MAX_LOOKBACK)
    baseline = _span(given.baseline, "baseline", required=condition == PRICE_BAND, most=MAX_LOOKBACK)
    if window + max(inactivity, baseline) > MAX_LOOKBACK:
        raise _bad("window", f"window plus inactivity or baseline at most {MAX_LOOKBACK.days} days")
    suppression = _span(given.suppression, "suppression", required=False, most=MAX_SUPPRESSION)
    types = tuple(dict.fromkeys(given.event_types))
    if condition == EVENT_COUNT and not types:
        raise _bad("event_types", "at least one event type for EVENT_COUNT")
    if any(t == ingest_pb.EVENT_TYPE_UNSPECIFIED or t not in ingest_pb.EventType.values() for t in types):
        raise _bad("event_types", "EventType values but UNSPECIFIED")
    percent = given.price_change_percent
    if condition == PRICE_BAND and not (math.isfinite(percent) and 0 < percent <= 1000):
        raise _bad("price_change_percent", "more than 0 and at most 1000 for PRICE_BAND_CHANGE")
    return Rule(
        rule_id=rule_id,
        name=inputs.require_text(given.name, "rule.name") if given.name.strip() else rule_id,
        condition=condition,
        min_count=given.min_count,
        window=window,
        suppression=suppression,
        hot=given.hot,
        event_types=types,
        listing_required=given.listing_required,
        inactivity=inactivity,
        price_change_percent=percent if condition == PRICE_BAND else 0.0,
        baseline=baseline,
        disabled=given.disabled,
        location_id=location,
    )


def _firing_cursor(firing: Firing) -> dict[str, str]:
    return {"t": firing.fire_time.isoformat(), "id": str(firing.firing_id)}


class TriggerRuleHandlers:
    _trigger_firing: TriggerFiring

    async def UpsertTriggerRule(
        self, request: pb.UpsertTriggerRuleRequest, context: Context
    ) -> pb.UpsertTriggerRuleResponse:
        stored = await self._trigger_firing.upsert(rule_from_proto(request.rule))
        return pb.UpsertTriggerRuleResponse(rule=rule_to_proto(stored))

    async def ListTriggerRules(
        self, request: pb.ListTriggerRulesRequest, context: Context
    ) -> pb.ListTriggerRulesResponse:
        location = inputs.require_text(request.location_id, "location_id")
        return pb.ListTriggerRulesResponse(
            rules=[rule_to_proto(r) for r in await self._trigger_firing.rules(location)]
        )

    async def FireTriggers(
        self, request: pb.FireTriggersRequest, context: Context
    ) -> pb.FireTriggersResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        request_id = inputs.request_key(request.request_id)
        if request_id is None:
            raise InvalidArgument(
                "request_id is required: it is what makes a retry return the first call's firings",
                reason="MISSING_FIELD",
                violations=[FieldViolation("request_id", "required")],
            )
        fired = await self._trigger_firing.fire(
            lead_id, request_id, tenancy.required_location(request.location_id)
        )
        return pb.FireTriggersResponse(firings=[firing_to_proto(f) for f in fired])

    async def ListTriggerFirings(
        self, request: pb.ListTriggerFiringsRequest, context: Context
    ) -> pb.ListTriggerFiringsResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location = tenancy.required_location(request.location_id)
        size = pagination.page_size(request.page_size)
        query = f"firings:{lead_id}"
        found = await self._trigger_firing.firings(
            lead_id, pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query), size
        )
        if found:  # every firing of a lead is in the lead's location
            tenancy.ensure_owned(
                location,
                found[0].location_id,
                "lead",
                lead_id,
                "LEAD_NOT_FOUND",
            )
        page, token = pagination.page_of(found, size, _firing_cursor, query=query)
        return pb.ListTriggerFiringsResponse(
            firings=[firing_to_proto(f) for f in page], next_page_token=token
        )
