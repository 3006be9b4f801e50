"""RoutingService handlers for routing rules: proto in, rule store calls, proto out. Mixed into
RoutingServicer, which supplies _rule_store."""

from __future__ import annotations

import uuid

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing import rules
from services.routing.rule_store import RuleStore
from shared import inputs, pagination, timestamps
from shared.rpc import Context

# Rule ids derived from (location, request_id), so a retried create makes one rule.
_RULE_IDS = uuid.UUID("0b7d7a52-3f0e-4d8a-9a41-5f2c9e1d7c70")


def rule_to_proto(rule: rules.Rule) -> pb.RoutingRule:
    c = rule.conditions
    return pb.RoutingRule(
        rule_id=str(rule.rule_id),
        location_id=rule.location_id,
        position=rule.position,
        name=rule.name,
        conditions=pb.RuleConditions(
            sources=sorted(c.sources),  # type: ignore[arg-type]
            tags=sorted(c.tags),
            intents=sorted(c.intents),  # type: ignore[arg-type]
            min_price_usd=c.min_price_usd,
            max_price_usd=c.max_price_usd,
            postal_codes=sorted(c.postal_codes),
            cities=sorted(c.cities),
            score_tiers=sorted(c.score_tiers),
        ),
        target=rule.target,  # type: ignore[arg-type]
        agent_id=str(rule.agent_id or ""),
        team_id=rule.team_id,
        require_territory=rule.require_territory,
        require_specialty=rule.require_specialty,
        require_price=rule.require_price,
        active=rule.active,
        create_time=timestamps.to_proto(rule.create_time),
        update_time=timestamps.to_proto(rule.update_time),
    )


class RuleHandlers:
    _rule_store: RuleStore

    async def UpsertRoutingRule(
        self, request: pb.UpsertRoutingRuleRequest, context: Context
    ) -> pb.UpsertRoutingRuleResponse:
        request_id = inputs.request_key(request.request_id)
        if request.rule.rule_id:
            rule_id = inputs.parse_uuid(request.rule.rule_id, "rule.rule_id", what="rule id")
        elif request_id:
            rule_id = uuid.uuid5(_RULE_IDS, f"{request.rule.location_id.strip()}:{request_id}")
        else:
            rule_id = uuid.uuid4()
        stored = await self._rule_store.upsert(rules.rule_from_proto(request.rule, rule_id))
        if stored is None:
            raise rules.rule_missing(rule_id)
        return pb.UpsertRoutingRuleResponse(rule=rule_to_proto(stored))

    async def ListRoutingRules(
        self, request: pb.ListRoutingRulesRequest, context: Context
    ) -> pb.ListRoutingRulesResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        size = pagination.page_size(request.page_size)
        after = pagination.decode_cursor(
            request.page_token, lambda c: (int(c["p"]), c["id"]), query=location_id
        )
        found = await self._rule_store.page(location_id, after, size)
        page, token = pagination.page_of(
            found, size, lambda r: {"p": str(r.position), "id": str(r.rule_id)}, query=location_id
        )
        return pb.ListRoutingRulesResponse(rules=[rule_to_proto(r) for r in page], next_page_token=token)

    async def DeleteRoutingRule(
        self, request: pb.DeleteRoutingRuleRequest, context: Context
    ) -> pb.DeleteRoutingRuleResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        rule_id = inputs.parse_uuid(request.rule_id, "rule_id", what="rule id")
        return pb.DeleteRoutingRuleResponse(deleted=await self._rule_store.delete(location_id, rule_id))
