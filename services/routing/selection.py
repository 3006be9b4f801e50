"""Which agent gets a lead, and the words that explain why. Pure: no I/O.

Among the agents `matching.screen` left eligible, each is scored as predicted success times
free capacity raised to the location's load weight: 0 ranks by predicted success alone, higher
values spread leads more evenly. Ties go to fewer open leads, then to whoever waited longest.
Round-robin locations take whoever waited longest, ignoring the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.routing.matching import AgentProfile, LeadProfile, Screened, pair_features
from services.routing.predictor import SuccessModel, sigmoid

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
    ranked: list[Ranked]  # every eligible agent, best first (an assignment keeps KEPT_CANDIDATES)
    reasons: list[str]


def _names(agents: list[AgentProfile]) -> str:
    shown = ", ".join(a.name for a in agents[:3])
    return shown + (f" and {len(agents) - 3} more" if len(agents) > 3 else "")


def _waited(agent: AgentProfile) -> float:
    return agent.last_assign_time.timestamp() if agent.last_assign_time else 0.0


def free_share(agent: AgentProfile) -> float:
    return max(agent.capacity - agent.active, 0) / agent.capacity if agent.capacity else 0.0


def rank(
    lead: LeadProfile,
    lead_features: list[str],
    screened: Screened,
    model: SuccessModel,
    *,
    load_weight: float,
    round_robin: bool,
) -> list[Ranked]:
    """Every eligible agent, best first."""
    base = model.logit(lead_features)
    scored: list[tuple[tuple[float, int, float, str], Ranked]] = []
    for agent in screened.eligible:
        pair = pair_features(lead, agent)
        p = sigmoid(base + model.logit(pair))
        score = p * free_share(agent) ** load_weight
        why = [f"P(won) {p:.3f}", f"holds {agent.active} of {agent.capacity}"]
        why.extend(f for f in pair if not f.startswith("agent="))
        ranked = Ranked(agent, p, score, tuple(why), tuple(lead_features + pair))
        key = (
            (0.0, 0, _waited(agent), str(agent.agent_id))
            if round_robin
            else (-score, agent.active, _waited(agent), str(agent.agent_id))
        )
        scored.append((key, ranked))
    scored.sort(key=lambda pair: pair[0])
    return [r for _, r in scored]


def decide(
    lead: LeadProfile,
    lead_features: list[str],
    agents: list[AgentProfile],
    screened: Screened,
    model: SuccessModel,
    *,
    load_weight: float,
    round_robin: bool,
) -> Decision:
    ranked = rank(lead, lead_features, screened, model, load_weight=load_weight, round_robin=round_robin)
    by_reason: dict[str, list[AgentProfile]] = {}
    for agent in agents:
        why = screened.excluded.get(agent.agent_id)
        if why is not None:
            by_reason.setdefault(why.split(" (")[0], []).append(agent)
    skipped = [f"skipped {why}: {_names(group)}" for why, group in sorted(by_reason.items())]
    if not ranked:
        if not agents:
            why = f"location {lead.location_id} has no agents; add one with UpsertAgent"
        else:
            why = f"no agent of location {lead.location_id} can take the lead now"
        return Decision(None, [], [why, *skipped, "the lead waits in the location's pond"])
    best = ranked[0]
    a = best.agent
    if round_robin:
        first = f"{a.name} is next in round-robin among {len(ranked)} eligible agent(s)"
    else:
        first = (
            f"{a.name} ranks first of {len(ranked)} eligible agent(s): predicted success "
            f"{best.predicted:.1%}, holds {a.active} of {a.capacity} open leads"
        )
    reasons = [first]
    if screened.language_required:
        reasons.append(
            f"the lead prefers {screened.language_required}; only agents who speak it were eligible"
        )
    tied = [r.agent for r in ranked[1:] if r.score == best.score and not round_robin]
    if tied:
        reasons.append(f"tie with {_names(tied)}: fewer open leads, then longest wait since a last lead")
    return Decision(best, ranked, reasons + skipped)
