"""Routing rules as data: CRUD, first match wins, agent / team round-robin / pond targets, hard
constraints a rule adds, and the team-lead fallback. RoutingService against real PostgreSQL."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as pb

from tests.integration.test_routing import add_agent, route_request
from tests.support import error_reason as reason
from tests.support import field_violations, mesh


@pytest.fixture(scope="module")
async def routing(migrated_dsn):
    async with mesh(migrated_dsn, only=("routing",)) as m:
        yield m.clients.routing


async def upsert(routing, loc: str, name: str, position: int, target: int, **kw) -> pb.RoutingRule:
    conditions = kw.pop("conditions", pb.RuleConditions())
    rule = pb.RoutingRule(
        location_id=loc, name=name, position=position, target=target, active=True, conditions=conditions, **kw
    )
    resp = await routing.UpsertRoutingRule(pb.UpsertRoutingRuleRequest(rule=rule), timeout=5)
    return resp.rule


async def test_rules_are_data_first_match_wins(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    sam = await add_agent(routing, loc, "Sam")
    lux = [await add_agent(routing, loc, f"Lux {i}", team_id="lux") for i in range(2)]
    await add_agent(routing, loc, "Other")
    await upsert(
        routing, loc, "sellers to Sam", 10, pb.RULE_TARGET_AGENT, agent_id=sam.agent_id,
        conditions=pb.RuleConditions(intents=[ingest_pb.LEAD_INTENT_SELLER]),
    )  # fmt: skip
    await upsert(
        routing, loc, "luxury to the lux team", 20, pb.RULE_TARGET_TEAM, team_id="lux",
        conditions=pb.RuleConditions(min_price_usd=1_000_000),
    )  # fmt: skip
    await upsert(
        routing, loc, "cold portal leads wait", 30, pb.RULE_TARGET_POND,
        conditions=pb.RuleConditions(score_tiers=["cold"], tags=["portal"]),
    )  # fmt: skip

    seller = await routing.RouteLead(route_request(loc, intent=ingest_pb.LEAD_INTENT_SELLER), timeout=5)
    assert seller.assignment.agent_id == sam.agent_id
    assert seller.assignment.reasons[0] == "rule 'sellers to Sam' matched"

    # A luxury seller matches the first rule; luxury buyers go round the team.
    rich_seller = await routing.RouteLead(
        route_request(loc, intent=ingest_pb.LEAD_INTENT_SELLER, budget_usd=2_000_000), timeout=5
    )
    assert rich_seller.assignment.agent_id == sam.agent_id
    buyers = [await routing.RouteLead(route_request(loc, budget_usd=2_000_000), timeout=5) for _ in range(4)]
    assert [b.assignment.agent_id for b in buyers[:2]] != [buyers[0].assignment.agent_id] * 2
    assert {b.assignment.agent_id for b in buyers} == {a.agent_id for a in lux}  # round-robin inside

    ponded = await routing.RouteLead(route_request(loc, tags=["Portal"]), timeout=5)
    assert ponded.assignment.state == pb.ASSIGNMENT_STATE_POND
    assert ponded.assignment.reasons == ["rule 'cold portal leads wait' sends these leads to the pond"]
    hot = pb.RouteLeadRequest()
    hot.CopyFrom(route_request(loc, tags=["portal"]))
    hot.score = 80  # hot: the pond rule does not match, nothing else does: everyone ranks
    routed = await routing.RouteLead(hot, timeout=5)
    assert routed.assignment.state == pb.ASSIGNMENT_STATE_OPEN


async def test_a_rule_can_make_territory_a_hard_constraint_and_team_leads_are_the_fallback(routing) -> None:
    loc = f"loc-{uuid.uuid4()}"
    local = await add_agent(routing, loc, "Local", territories=["78701"], team_id="north", capacity=1)
    await add_agent(routing, loc, "Far", territories=["10001"], team_id="north")
    boss = await add_agent(routing, loc, "Boss", team_id="north", team_lead=True, capacity=1)
    await upsert(routing, loc, "north team, local only", 1, pb.RULE_TARGET_TEAM, team_id="north",
                 require_territory=True)  # fmt: skip
    first = await routing.RouteLead(route_request(loc, postal_code="78701"), timeout=5)
    assert first.assignment.agent_id == local.agent_id
    assert "skipped does not cover the lead's territory" in " ".join(first.assignment.reasons)
    # Local is full now, Far does not cover 78701: the team lead takes it, then nobody can.
    second = await routing.RouteLead(route_request(loc, postal_code="78701"), timeout=5)
    assert second.assignment.agent_id == boss.agent_id
    assert second.assignment.reasons[0].startswith("fallback to team lead Boss")
    third = await routing.RouteLead(route_request(loc, postal_code="78701"), timeout=5)
    assert third.assignment.state == pb.ASSIGNMENT_STATE_POND
    assert "the lead waits in the location's pond" in third.assignment.reasons


async def test_rule_crud_is_idempotent_paged_and_tenant_checked(routing) -> None:
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    rule = pb.RoutingRule(
        location_id=loc, name="to the pond", position=5, target=pb.RULE_TARGET_POND, active=True
    )
    a = await routing.UpsertRoutingRule(pb.UpsertRoutingRuleRequest(rule=rule, request_id="r-1"), timeout=5)
    b = await routing.UpsertRoutingRule(pb.UpsertRoutingRuleRequest(rule=rule, request_id="r-1"), timeout=5)
    assert a.rule.rule_id == b.rule.rule_id
    for position in (3, 1, 4):
        await upsert(routing, loc, f"rule {position}", position, pb.RULE_TARGET_POND)
    seen, token = [], ""
    while True:
        page = await routing.ListRoutingRules(
            pb.ListRoutingRulesRequest(location_id=loc, page_size=2, page_token=token), timeout=5
        )
        seen += [r.position for r in page.rules]
        token = page.next_page_token
        if not token:
            break
    assert seen == [1, 3, 4, 5]

    stolen = pb.RoutingRule()
    stolen.CopyFrom(a.rule)
    stolen.location_id = other
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.UpsertRoutingRule(pb.UpsertRoutingRuleRequest(rule=stolen), timeout=5)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(exc.value) == "RULE_NOT_FOUND"
    theirs = await add_agent(routing, other, "Theirs")
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await upsert(routing, loc, "to their agent", 9, pb.RULE_TARGET_AGENT, agent_id=theirs.agent_id)
    assert reason(exc.value) == "AGENT_NOT_FOUND"

    gone = await routing.DeleteRoutingRule(
        pb.DeleteRoutingRuleRequest(location_id=other, rule_id=a.rule.rule_id), timeout=5
    )
    assert not gone.deleted  # another location's delete touches nothing
    for expected in (True, False):
        gone = await routing.DeleteRoutingRule(
            pb.DeleteRoutingRuleRequest(location_id=loc, rule_id=a.rule.rule_id), timeout=5
        )
        assert gone.deleted is expected


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (pb.RoutingRule(name="x"), "rule.target"),
        (pb.RoutingRule(name="x", target=pb.RULE_TARGET_TEAM), "rule.team_id"),
        (pb.RoutingRule(name="x", target=pb.RULE_TARGET_AGENT), "rule.agent_id"),
        (pb.RoutingRule(target=pb.RULE_TARGET_POND), "rule.name"),
        (
            pb.RoutingRule(
                name="x", target=pb.RULE_TARGET_POND, conditions=pb.RuleConditions(score_tiers=["tepid"])
            ),
            "rule.conditions.score_tiers[0]",
        ),
        (
            pb.RoutingRule(
                name="x",
                target=pb.RULE_TARGET_POND,
                conditions=pb.RuleConditions(min_price_usd=5, max_price_usd=4),
            ),
            "rule.conditions.max_price_usd",
        ),
    ],
)
async def test_bad_rules_are_refused_naming_the_field(routing, rule: pb.RoutingRule, field: str) -> None:
    loc = f"loc-{uuid.uuid4()}"
    rule.location_id = loc
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await routing.UpsertRoutingRule(pb.UpsertRoutingRuleRequest(rule=rule), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == [field]
    listed = await routing.ListRoutingRules(pb.ListRoutingRulesRequest(location_id=loc), timeout=5)
    assert not listed.rules
