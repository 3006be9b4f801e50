"""Routing rules: per-location data, evaluated in order, the first active match wins (as in
Sierra Interactive and Follow Up Boss lead flow). What a valid rule is, whether a lead matches
it, and which agents it allows. Pure: no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing.agents import territory_key
from services.routing.matching import (
    AgentProfile,
    LeadProfile,
    price_in_range,
    specialty_match,
    territory_match,
)
from shared import inputs
from shared.errors import FieldViolation, InvalidArgument, NotFound

AGENT, TEAM, POND = pb.RULE_TARGET_AGENT, pb.RULE_TARGET_TEAM, pb.RULE_TARGET_POND
SCORE_TIERS = ("cold", "warm", "hot")
# The thresholds intelligence uses by default (INTELLIGENCE_WARM_SCORE / _HOT_SCORE).
WARM_SCORE, HOT_SCORE = 40.0, 70.0
MAX_VALUES = 200


def score_tier(score: float) -> str:
    return "hot" if score >= HOT_SCORE else "warm" if score >= WARM_SCORE else "cold"


@dataclass(frozen=True)
class Conditions:
    sources: frozenset[int] = frozenset()
    tags: frozenset[str] = frozenset()  # lower-cased
    intents: frozenset[int] = frozenset()
    min_price_usd: int = 0
    max_price_usd: int = 0
    postal_codes: frozenset[str] = frozenset()  # territory_key form
    cities: frozenset[str] = frozenset()  # territory_key form
    score_tiers: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": sorted(self.sources),
            "tags": sorted(self.tags),
            "intents": sorted(self.intents),
            "min_price_usd": self.min_price_usd,
            "max_price_usd": self.max_price_usd,
            "postal_codes": sorted(self.postal_codes),
            "cities": sorted(self.cities),
            "score_tiers": sorted(self.score_tiers),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conditions:
        return cls(
            sources=frozenset(data["sources"]),
            tags=frozenset(data["tags"]),
            intents=frozenset(data["intents"]),
            min_price_usd=data["min_price_usd"],
            max_price_usd=data["max_price_usd"],
            postal_codes=frozenset(data["postal_codes"]),
            cities=frozenset(data["cities"]),
            score_tiers=frozenset(data["score_tiers"]),
        )


@dataclass(frozen=True)
class Rule:
    rule_id: uuid.UUID
    location_id: str
    position: int
    name: str
    conditions: Conditions
    target: int
    agent_id: uuid.UUID | None = None
    team_id: str = ""
    require_territory: bool = False
    require_specialty: bool = False
    require_price: bool = False
    active: bool = True
    create_time: datetime | None = None
    update_time: datetime | None = None


def _invalid(path: str, message: str, expected: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_RULE", violations=[FieldViolation(path, expected)])


def _limited(values: Sequence[Any], path: str) -> Sequence[Any]:
    if len(values) > MAX_VALUES:
        raise _invalid(path, f"{path} has {len(values)} values", f"at most {MAX_VALUES}")
    return values


def conditions_from_proto(c: pb.RuleConditions) -> Conditions:
    p = "rule.conditions."
    for i, source in enumerate(c.sources):
        if source not in ingest_pb.LeadSource.values() or source == 0:
            raise _invalid(f"{p}sources[{i}]", f"source {source} is not a LeadSource", "a LeadSource value")
    for i, intent in enumerate(c.intents):
        if intent not in ingest_pb.LeadIntent.values() or intent == 0:
            raise _invalid(f"{p}intents[{i}]", f"intent {intent} is not a LeadIntent", "a LeadIntent value")
    tiers = [t.strip().lower() for t in _limited(c.score_tiers, p + "score_tiers")]
    for i, tier in enumerate(tiers):
        if tier not in SCORE_TIERS:
            raise _invalid(f"{p}score_tiers[{i}]", f"{tier[:20]!r} is not a score tier", "cold, warm or hot")
    if c.min_price_usd < 0 or c.max_price_usd < 0 or (c.max_price_usd and c.max_price_usd < c.min_price_usd):
        raise _invalid(
            p + "max_price_usd", "the price range is not a range", "0 <= min <= max (0 = no bound)"
        )

    def keys(values: Iterable[str], path: str) -> frozenset[str]:
        return frozenset(k for k in (territory_key(v) for v in _limited(list(values), path)) if k)

    return Conditions(
        sources=frozenset(c.sources),
        tags=frozenset(t.strip().lower() for t in _limited(c.tags, p + "tags") if t.strip()),
        intents=frozenset(c.intents),
        min_price_usd=c.min_price_usd,
        max_price_usd=c.max_price_usd,
        postal_codes=keys(c.postal_codes, p + "postal_codes"),
        cities=keys(c.cities, p + "cities"),
        score_tiers=frozenset(tiers),
    )


def rule_from_proto(rule: pb.RoutingRule, rule_id: uuid.UUID) -> Rule:
    """A caller's rule, checked; field paths are those of UpsertRoutingRuleRequest."""
    location_id = inputs.require_text(rule.location_id, "rule.location_id")
    if rule.target not in (AGENT, TEAM, POND):
        raise _invalid("rule.target", "rule.target is required", "RULE_TARGET_AGENT, _TEAM or _POND")
    agent_id = (
        inputs.parse_uuid(rule.agent_id, "rule.agent_id", what="agent id") if rule.target == AGENT else None
    )
    team_id = rule.team_id.strip()
    if rule.target == TEAM and not team_id:
        raise _invalid("rule.team_id", "a team rule needs rule.team_id", "the team's id")
    return Rule(
        rule_id=rule_id,
        location_id=location_id,
        position=rule.position,
        name=inputs.require_text(rule.name, "rule.name"),
        conditions=conditions_from_proto(rule.conditions),
        target=rule.target,
        agent_id=agent_id,
        team_id=team_id if rule.target == TEAM else "",
        require_territory=rule.require_territory,
        require_specialty=rule.require_specialty,
        require_price=rule.require_price,
        active=rule.active,
    )


def rule_missing(rule_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"routing rule {rule_id} does not exist in this location",
        reason="RULE_NOT_FOUND",
        metadata={"rule_id": str(rule_id)},
    )


def matches(c: Conditions, lead: LeadProfile) -> bool:
    """Every condition that is set holds for the lead (values of one condition are OR'ed)."""
    return (
        (not c.sources or lead.source in c.sources)
        and (not c.tags or bool(c.tags & lead.tags))
        and (not c.intents or lead.intent in c.intents)
        and (not c.min_price_usd or lead.budget_usd >= c.min_price_usd)
        and (not c.max_price_usd or 0 < lead.budget_usd <= c.max_price_usd)
        and (not c.postal_codes or lead.postal_code in c.postal_codes)
        and (not c.cities or lead.city in c.cities)
        and (not c.score_tiers or score_tier(lead.score) in c.score_tiers)
    )


def first_match(rules: Iterable[Rule], lead: LeadProfile) -> Rule | None:
    """The first active rule, in position order, whose conditions the lead meets."""
    for rule in sorted(rules, key=lambda r: (r.position, str(r.rule_id))):
        if rule.active and matches(rule.conditions, lead):
            return rule
    return None


def allowed(rule: Rule, lead: LeadProfile, agent: AgentProfile) -> str:
    """Why the rule keeps this agent from the lead; "" when it does not."""
    if rule.target == AGENT and agent.agent_id != rule.agent_id:
        return f"not the agent rule '{rule.name}' names"
    if rule.target == TEAM and agent.team_id != rule.team_id:
        return f"not in team {rule.team_id} (rule '{rule.name}')"
    if rule.require_territory and not territory_match(lead, agent):
        return f"does not cover the lead's territory (rule '{rule.name}')"
    if rule.require_specialty and not specialty_match(lead, agent):
        return f"lacks the specialty (rule '{rule.name}')"
    if rule.require_price and not price_in_range(lead, agent):
        return f"outside the price range (rule '{rule.name}')"
    return ""


def team_of(rule: Rule | None, agents: Sequence[AgentProfile]) -> str | None:
    """The team whose lead is the fallback: the rule's team, or its agent's; None (any team's
    lead) when no rule matched."""
    if rule is None:
        return None
    if rule.target == TEAM:
        return rule.team_id
    named = next((a for a in agents if a.agent_id == rule.agent_id), None)
    return named.team_id if named is not None else ""
