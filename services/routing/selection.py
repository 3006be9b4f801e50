"""Which agent gets a lead, and the words that explain why. Pure: no I/O.

Among the agents `matching.screen` left eligible, each is scored as predicted success times
free capacity raised to the location's load weight: 0 ranks by predicted success alone, higher
values spread leads more evenly. Ties go to fewer open leads, then to whoever waited longest.
Round-robin locations take whoever waited longest, ignoring the model.

Scoring runs for every eligible agent on every route (1,000 agents in a location is the design
load), so it does only arithmetic and dictionary lookups; the words of a candidate are written
only for the few an assignment keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.routing.matching import (
    RESPONSE_FEATURES,
    AgentProfile,
    LeadProfile,
    Screened,
    pair_features,
    response_words,
    wanted_specialties,
)
from services.routing.predictor import SuccessModel, sigmoid
from services.routing.ranking import Order, Screen

# Candidates kept on the assignment: enough to audit a decision without storing the roster.
KEPT_CANDIDATES = 10


@dataclass(frozen=True)
class Ranked:
    agent: AgentProfile
    predicted: float
    score: float
    reasons: tuple[str, ...]
    features: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    chosen: Ranked | None  # None: nobody eligible, the lead goes to the pond
    # Every eligible agent with its predicted success and score, best first.
    order: Sequence[tuple[AgentProfile, float, float]]
    reasons: list[str]


def _names(agents: list[AgentProfile]) -> str:
    shown = ", ".join(a.name for a in agents[:3])
    return shown + (f" and {len(agents) - 3} more" if len(agents) > 3 else "")


def _waited(agent: AgentProfile) -> float:
    return agent.waited


def explain(
    lead: LeadProfile, lead_features: list[str], agent: AgentProfile, p: float, score: float
) -> Ranked:
    pair = pair_features(lead, agent)
    why = [f"P(won) {p:.3f}", f"holds {agent.active} of {agent.capacity}"]
    why.extend(f for f in pair if not f.startswith(("agent=", "response=")))
    if agent.response_s is not None:
        why.append(f"{response_words(agent.response_s)} ({agent.response_feature})")
    return Ranked(agent, p, score, tuple(why), tuple(lead_features + pair))


def candidate(
    lead: LeadProfile, lead_features: list[str], entry: tuple[AgentProfile, float, float]
) -> dict[str, object]:
    """One of the ranked agents an assignment keeps (Assignment.candidates), with its words."""
    r = explain(lead, lead_features, *entry)
    return {
        "agent_id": str(r.agent.agent_id),
        "predicted_success": r.predicted,
        "active_lead_count": r.agent.active,
        "score": r.score,
        "reasons": list(r.reasons),
    }


class PairLogit:
    """model.logit(lead_features + pair_features(lead, agent)) for one lead and many agents,
    with the lead's part and the match weights looked up once (a test holds the two equal)."""

    def __init__(self, model: SuccessModel, lead: LeadProfile, lead_features: list[str]) -> None:
        w = model.weight
        self._weights = model.weights
        self._lead = lead
        self._base = model.logit(lead_features)
        self._intent = f"|intent={lead.intent}"
        self._language = w("language_match"), w("language_mismatch")
        self._territory = w("territory_match")
        self._specialty = w("specialty_match")
        self._price = w("price_match")
        self._response = {f: w(f) for f in RESPONSE_FEATURES}
        self._wanted = wanted_specialties(lead)
        self._places = tuple(p for p in (lead.postal_code, lead.city) if p)
        self._language_wanted = lead.language
        self._budget = lead.budget_usd  # price_in_range, inlined in __call__

    def __call__(self, agent: AgentProfile) -> float:
        # Runs once per agent of the location on every route (1,000 in the bench): set
        # operations in C and the price test inlined, rather than generators and calls.
        weights = self._weights
        own = agent.own_feature
        z = self._base + weights.get(own, 0.0) + weights.get(own + self._intent, 0.0)
        if self._language_wanted:
            z += self._language[0] if self._language_wanted in agent.languages else self._language[1]
        if not agent.territories.isdisjoint(self._places):
            z += self._territory
        if not agent.specialties.isdisjoint(self._wanted):
            z += self._specialty
        budget, low, high = self._budget, agent.min_price_usd, agent.max_price_usd
        if budget > 0 and (low or high) and low <= budget and (not high or budget <= high):
            z += self._price
        if agent.response_feature:
            z += self._response[agent.response_feature]
        return z


def rank(
    lead: LeadProfile,
    lead_features: list[str],
    screened: Screened,
    model: SuccessModel,
    *,
    load_weight: float,
    round_robin: bool,
) -> list[tuple[AgentProfile, float, float]]:
    """(agent, predicted success, score) of every eligible agent, best first."""
    logit = PairLogit(model, lead, lead_features)
    scored = []
    for agent in screened.eligible:
        p = sigmoid(logit(agent))
        if load_weight:
            p_free = (agent.capacity - agent.active) / agent.capacity  # eligible: capacity >= 1
            score = p * (p_free if load_weight == 1.0 else p_free**load_weight)
        else:
            score = p
        # Agent keys are unique, so the sort never reaches the agent itself.
        first, active = (0.0, 0) if round_robin else (-score, agent.active)
        scored.append((first, active, agent.waited, agent.key, agent, p, score))
    scored.sort()
    return [(entry[4], entry[5], entry[6]) for entry in scored]


def decide(
    lead: LeadProfile,
    lead_features: list[str],
    agents: list[AgentProfile],
    screened: Screened | Screen,
    model: SuccessModel,
    *,
    load_weight: float,
    round_robin: bool,
    order: Sequence[tuple[AgentProfile, float, float]] | None = None,
) -> Decision:
    """`order`: the ranking already made over the roster matrix (ranking.rank); else `rank`
    ranks `screened.eligible` here."""
    if order is None:
        assert isinstance(screened, Screened)
        order = rank(lead, lead_features, screened, model, load_weight=load_weight, round_robin=round_robin)
    by_reason: dict[str, list[AgentProfile]] = {}
    by_id = {a.agent_id: a for a in agents} if screened.excluded else {}
    for agent_id, why in screened.excluded.items():
        by_reason.setdefault(why.split(" (")[0], []).append(by_id[agent_id])
    skipped = [f"skipped {why}: {_names(group)}" for why, group in sorted(by_reason.items())]
    if not order:
        if not agents:
            why = f"location {lead.location_id} has no agents; add one with UpsertAgent"
        else:
            why = f"no agent of location {lead.location_id} can take the lead now"
        return Decision(None, [], [why, *skipped, "the lead waits in the location's pond"])
    a, p, score = order[0]
    best = explain(lead, lead_features, a, p, score)
    if round_robin:
        first = f"{a.name} is next in round-robin among {len(order)} eligible agent(s)"
    else:
        first = (
            f"{a.name} ranks first of {len(order)} eligible agent(s): predicted success "
            f"{p:.1%}, holds {a.active} of {a.capacity} open leads"
            + (f", {response_words(a.response_s)}" if a.response_s is not None else "")
        )
    reasons = [first]
    if screened.language_required:
        reasons.append(
            f"the lead prefers {screened.language_required}; only agents who speak it were eligible"
        )
    if round_robin:
        tied: list[AgentProfile] = []
    elif isinstance(order, Order):
        tied = order.tied_with_first()
    else:
        tied = [other for other, _, s in order[1:] if s == score]
    if tied:
        reasons.append(f"tie with {_names(tied)}: fewer open leads, then longest wait since a last lead")
    return Decision(best, order, reasons + skipped)


def team_leads(
    lead: LeadProfile,
    lead_features: list[str],
    agents: list[AgentProfile],
    model: SuccessModel,
    team_id: str | None,
) -> list[tuple[AgentProfile, float, float]]:
    """The fallback when nobody eligible can take a lead: team leads (of `team_id`, or of any
    team when None) who are available and have room, whoever waited longest first. Working
    hours and language do not hold them back: a lead with an owner beats a lead in the pond,
    but capacity still does."""
    logit = PairLogit(model, lead, lead_features)
    ready = [
        a
        for a in agents
        if a.team_lead
        and a.available
        and a.has_room
        and (team_id is None or (team_id and a.team_id == team_id))
    ]
    ready.sort(key=lambda a: (_waited(a), a.key))
    return [(a, p, p) for a in ready for p in (sigmoid(logit(a)),)]
