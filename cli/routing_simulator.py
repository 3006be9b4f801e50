"""`leadengine bench routing-model`: does routing's success model pick better agents?

A synthetic location where the truth is hidden: each agent has a skill and an affinity per
lead intent that no public field shows; speaking the lead's language, covering its territory
and listing the right specialty help (the listed specialties are only loosely tied to the
hidden affinities); and every (lead, agent) pair has its own noise, so no function of the
public features is the truth. Leads arrive one by one, are routed by a policy among agents with
room (capacity 3, a lead stays open for 25 arrivals), and resolve WON or LOST 25 arrivals later,
when the policy learns the outcome. Three policies see the same leads and the same luck (one
uniform draw per lead, so an agent with a higher true probability converts whenever a worse
one would have):

- round-robin: whoever waited longest;
- naive Bayes as Odoo's predictive lead scoring does it (per-field value frequencies among won
  and lost, Laplace alpha 0.1), with the agent as one more field: the agent maximising P(won);
- ours: routing's own code (matching.screen, selection.decide, predictor.SuccessModel);
- ours, blind to response time: the same, with every agent's response time hidden from it.

Speed to lead: each agent also has a true median time to answer a new lead (log-normal, median
2.5 min, from seconds to tens of minutes) whose hidden effect on conversion is -0.35 per
doubling (+0.5 for 20 s, -0.5 for 11 min); routing sees only the median of the agent's last 20
answers (the public `response_s`, so the response-time bands of `matching.RESPONSE_BANDS`).
Comparing "ours" with "ours, blind" says whether that feature helps.

After 100, 500 and 2,000 outcomes the two models are frozen and scored on a hold-out of 5,000
(lead, random agent) pairs drawn from the same world (AUC, expected calibration error); the
realised conversion rate of each policy is over every lead it routed up to that point.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import statistics
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.routing import matching, prediction_stats, selection
from services.routing.matching import AgentProfile, LeadProfile
from services.routing.predictor import SuccessModel

CHECKPOINTS = (100, 500, 2000)
AGENTS = 20
CAPACITY = 3
LIFETIME = 25  # arrivals a lead stays open before its outcome is known
HOLDOUT = 5000
INTENTS = (1, 2, 3, 4, 5)
POSTAL = tuple(f"787{i:02d}" for i in range(12))
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
SPEED_PER_DOUBLING = 0.35  # hidden conversion effect of each doubling of the time to answer
RECENT_ANSWERS = 20  # answers routing's public median is taken over (repository.RECENT_RESPONSES)


@dataclass(frozen=True)
class World:
    agents: list[AgentProfile]
    skill: dict[uuid.UUID, float]
    affinity: dict[tuple[uuid.UUID, int], float]
    seed: int
    # Hidden: the effect of the agent's speed to lead on its leads' conversion.
    speed: dict[uuid.UUID, float] = field(default_factory=dict)
    base: float = -4.3
    source_effect: tuple[float, ...] = (0.0, 0.3, -0.3, 0.5)
    pair_noise: float = 0.6

    def truth(self, lead: LeadProfile, agent: AgentProfile) -> float:
        z = self.base + self.source_effect[lead.source] + self.skill[agent.agent_id]
        z += self.affinity[(agent.agent_id, lead.intent)]
        z += self.speed.get(agent.agent_id, 0.0)
        if lead.language == "es":
            z += 0.6 if "es" in agent.languages else -0.6
        if matching.territory_match(lead, agent):
            z += 0.4
        if matching.specialty_match(lead, agent):
            z += 0.2
        z += self.pair_noise * _pair_normal(self.seed, lead.lead_id, agent.agent_id)
        return 1.0 / (1.0 + math.exp(-z))


def _pair_normal(seed: int, lead_id: uuid.UUID, agent_id: uuid.UUID) -> float:
    """A standard normal fixed per (lead, agent): the part of the truth nobody can see."""
    digest = hashlib.blake2b(f"{seed}:{lead_id}:{agent_id}".encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / (2**64 + 2)
    u2 = int.from_bytes(digest[8:], "big") / 2**64
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def make_world(seed: int) -> World:
    rng = random.Random(seed)  # noqa: S311 - simulated world, not secrets
    agents, skill, affinity = [], {}, {}
    specialty_of = {1: "buyer", 2: "seller", 3: "buyer", 4: "rental", 5: "investor"}
    for i in range(AGENTS):
        agent_id = uuid.UUID(int=rng.getrandbits(128))
        skill[agent_id] = rng.gauss(0, 0.5)
        listed = set()
        for intent in INTENTS:
            affinity[(agent_id, intent)] = a = rng.gauss(0, 0.6)
            if a + rng.gauss(0, 0.6) > 0.4:  # specialties listed: a noisy hint of the affinity
                listed.add(specialty_of[intent])
        agents.append(
            AgentProfile(
                agent_id=agent_id,
                name=f"Agent {i}",
                available=True,
                capacity=CAPACITY,
                active=0,
                last_assign_time=None,
                timezone="",
                languages=frozenset({"en", "es"} if rng.random() < 0.3 else {"en"}),
                specialties=frozenset(listed),
                territories=frozenset(rng.sample(POSTAL, 3)),
                min_price_usd=0,
                max_price_usd=0,
                working_hours=(),
                team_id="",
            )
        )
    # Drawn from a stream of its own, so the rest of each seed's world is unchanged.
    timing = random.Random(seed * 31 + 7)  # noqa: S311 - simulated world, not secrets
    speed, timed = {}, []
    for agent in agents:
        true_s = 150.0 * math.exp(timing.gauss(0, 1.0))
        speed[agent.agent_id] = -SPEED_PER_DOUBLING * math.log2(true_s / 150.0)
        observed = statistics.median(true_s * math.exp(timing.gauss(0, 0.5)) for _ in range(RECENT_ANSWERS))
        timed.append(dataclasses.replace(agent, response_s=observed))
    return World(timed, skill, affinity, seed, speed)


def make_lead(rng: random.Random) -> LeadProfile:
    return LeadProfile(
        lead_id=uuid.UUID(int=rng.getrandbits(128)),
        location_id="sim",
        source=rng.randrange(4),
        intent=rng.choice(INTENTS),
        language="es" if rng.random() < 0.25 else "en",
        postal_code=rng.choice(POSTAL),
        city="",
        budget_usd=rng.choice((0, 300_000, 600_000, 1_500_000)),
        score=50.0,
    )


class NaiveBayes:
    """Odoo's predictive lead scoring: P(won | fields) from per-field value frequencies with
    Laplace smoothing alpha, fields assumed independent given the outcome."""

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.counts: dict[bool, dict[tuple[str, str], int]] = {
            True: defaultdict(int),
            False: defaultdict(int),
        }
        self.totals = {True: 0, False: 0}
        self.values: dict[str, set[str]] = defaultdict(set)

    @staticmethod
    def fields(lead: LeadProfile, agent: AgentProfile) -> list[tuple[str, str]]:
        return [
            ("source", str(lead.source)),
            ("intent", str(lead.intent)),
            ("price", matching.price_band(lead.budget_usd)),
            ("language", lead.language),
            ("postal", lead.postal_code),
            ("agent", str(agent.agent_id)),
        ]

    def learn(self, lead: LeadProfile, agent: AgentProfile, won: bool) -> None:
        self.totals[won] += 1
        for f in self.fields(lead, agent):
            self.counts[won][f] += 1
            self.values[f[0]].add(f[1])

    def predict(self, lead: LeadProfile, agent: AgentProfile) -> float:
        n = self.totals[True] + self.totals[False]
        logs = {}
        for won in (True, False):
            prior = (self.totals[won] + self.alpha) / (n + 2 * self.alpha)
            total = math.log(prior)
            for name, value in self.fields(lead, agent):
                k = max(len(self.values[name]), 1)
                total += math.log(
                    (self.counts[won][(name, value)] + self.alpha) / (self.totals[won] + self.alpha * k)
                )
            logs[won] = total
        return 1.0 / (1.0 + math.exp(logs[False] - logs[True]))


@dataclass
class Policy:
    name: str
    model: SuccessModel | NaiveBayes | None
    load: dict[uuid.UUID, int] = field(default_factory=dict)
    last: dict[uuid.UUID, int] = field(default_factory=dict)
    routed: int = 0
    won: int = 0
    blind: bool = False  # sees no agent's response time

    def seen(self, agent: AgentProfile) -> AgentProfile:
        return dataclasses.replace(agent, response_s=None) if self.blind else agent

    def roster(self, world: World) -> list[AgentProfile]:
        return [dataclasses.replace(self.seen(a), active=self.load.get(a.agent_id, 0)) for a in world.agents]

    def choose(self, world: World, lead: LeadProfile, step: int) -> AgentProfile:
        roster = self.roster(world)
        room = [a for a in roster if a.has_room]
        if isinstance(self.model, SuccessModel):
            screened = matching.screen(lead, roster, NOW)
            decision = selection.decide(
                lead,
                matching.lead_features(lead),
                roster,
                screened,
                self.model,
                load_weight=1.0,
                round_robin=False,
            )
            if decision.chosen is None:  # every speaker of the lead's language is full: anyone
                anyone = dataclasses.replace(lead, language="")
                screened = matching.screen(anyone, roster, NOW)
                decision = selection.decide(
                    anyone,
                    matching.lead_features(lead),
                    roster,
                    screened,
                    self.model,
                    load_weight=1.0,
                    round_robin=False,
                )
            assert decision.chosen is not None
            return decision.chosen.agent
        if isinstance(self.model, NaiveBayes):
            nb = self.model
            return max(room, key=lambda a: (nb.predict(lead, a), -self.last.get(a.agent_id, -1)))
        return min(room, key=lambda a: (self.last.get(a.agent_id, -1), str(a.agent_id)))

    def learn(self, lead: LeadProfile, agent: AgentProfile, won: bool) -> None:
        if isinstance(self.model, SuccessModel):
            self.model.learn(matching.lead_features(lead) + matching.pair_features(lead, agent), won)
        elif isinstance(self.model, NaiveBayes):
            self.model.learn(lead, agent, won)

    def predict(self, lead: LeadProfile, agent: AgentProfile) -> float:
        agent = self.seen(agent)
        if isinstance(self.model, SuccessModel):
            return self.model.predict(matching.lead_features(lead) + matching.pair_features(lead, agent))
        assert isinstance(self.model, NaiveBayes)
        return self.model.predict(lead, agent)


@dataclass(frozen=True)
class Row:
    seed: int
    outcomes: int
    auc_ours: float
    auc_nb: float
    ece_ours: float
    ece_nb: float
    conv_rr: float
    conv_nb: float
    conv_ours: float
    auc_blind: float = 0.0
    ece_blind: float = 0.0
    conv_blind: float = 0.0


def holdout(world: World, seed: int) -> list[tuple[LeadProfile, AgentProfile, bool]]:
    rng = random.Random(seed * 7919 + 1)  # noqa: S311 - simulated world, not secrets
    pairs = []
    for _ in range(HOLDOUT):
        lead, agent = make_lead(rng), rng.choice(world.agents)
        pairs.append((lead, agent, rng.random() < world.truth(lead, agent)))
    return pairs


def run_seed(
    seed: int, checkpoints: Sequence[int] = CHECKPOINTS, model: Callable[[], SuccessModel] = SuccessModel
) -> list[Row]:
    world = make_world(seed)
    rng = random.Random(seed)  # noqa: S311 - simulated world, not secrets
    test = holdout(world, seed)
    policies = [
        Policy("rr", None),
        Policy("nb", NaiveBayes()),
        Policy("ours", model()),
        Policy("blind", model(), blind=True),
    ]
    pending: deque[tuple[int, LeadProfile, list[AgentProfile]]] = deque()
    rows, resolved, step = [], 0, 0
    while resolved < max(checkpoints):
        lead, luck = make_lead(rng), rng.random()
        chosen = []
        for policy in policies:
            agent = policy.choose(world, lead, step)
            policy.load[agent.agent_id] = policy.load.get(agent.agent_id, 0) + 1
            policy.last[agent.agent_id] = step
            chosen.append(agent)
        pending.append((step, lead, chosen))
        while pending and pending[0][0] <= step - LIFETIME:
            _, done, agents = pending.popleft()
            for policy, agent in zip(policies, agents, strict=True):
                won = luck_of(done, rng_seed=seed) < world.truth(done, agent)
                policy.load[agent.agent_id] -= 1
                policy.routed += 1
                policy.won += won
                policy.learn(done, agent, won)
            resolved += 1
            if resolved in checkpoints:
                rows.append(score(seed, resolved, policies, test))
        step += 1
        del luck
    return rows


def luck_of(lead: LeadProfile, *, rng_seed: int) -> float:
    """The lead's one uniform draw, the same whichever policy routed it."""
    digest = hashlib.blake2b(f"luck:{rng_seed}:{lead.lead_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def score(
    seed: int, outcomes: int, policies: list[Policy], test: list[tuple[LeadProfile, AgentProfile, bool]]
) -> Row:
    rr, nb, ours, blind = policies
    actual = [won for _, _, won in test]
    p_ours = [ours.predict(lead, agent) for lead, agent, _ in test]
    p_nb = [nb.predict(lead, agent) for lead, agent, _ in test]
    p_blind = [blind.predict(lead, agent) for lead, agent, _ in test]
    return Row(
        seed=seed,
        outcomes=outcomes,
        auc_ours=prediction_stats.auc(p_ours, actual),
        auc_nb=prediction_stats.auc(p_nb, actual),
        ece_ours=prediction_stats.calibration_error(p_ours, actual),
        ece_nb=prediction_stats.calibration_error(p_nb, actual),
        conv_rr=rr.won / rr.routed,
        conv_nb=nb.won / nb.routed,
        conv_ours=ours.won / ours.routed,
        auc_blind=prediction_stats.auc(p_blind, actual),
        ece_blind=prediction_stats.calibration_error(p_blind, actual),
        conv_blind=blind.won / blind.routed,
    )


def _lift(ours: float, other: float) -> str:
    """Relative conversion lift; "n/a" when the other policy converted no lead at all."""
    return f"{ours / other - 1:+.0%}" if other else "n/a"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| seed | outcomes | AUC ours | AUC NB | calib. err ours | calib. err NB"
        " | conv RR | conv NB | conv ours | lift vs RR | lift vs NB"
        " | AUC blind | calib. err blind | conv blind | response feature lift |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def line(label: str, n: int, r: Sequence[Row]) -> str:
        m = {k: statistics.mean(getattr(x, k) for x in r) for k in Row.__dataclass_fields__ if k != "seed"}
        return (
            f"| {label} | {n} | {m['auc_ours']:.3f} | {m['auc_nb']:.3f}"
            f" | {m['ece_ours']:.4f} | {m['ece_nb']:.4f}"
            f" | {m['conv_rr']:.2%} | {m['conv_nb']:.2%} | {m['conv_ours']:.2%}"
            f" | {_lift(m['conv_ours'], m['conv_rr'])} | {_lift(m['conv_ours'], m['conv_nb'])}"
            f" | {m['auc_blind']:.3f} | {m['ece_blind']:.4f} | {m['conv_blind']:.2%}"
            f" | {_lift(m['conv_ours'], m['conv_blind'])} |"
        )

    for n in sorted({r.outcomes for r in rows}):
        at = [r for r in rows if r.outcomes == n]
        lines.extend(line(str(r.seed), n, [r]) for r in at)
        lines.append(line("**mean**", n, at))
    return "\n".join(lines)


def simulate_command(seeds: int, first_seed: int = 1) -> int:
    rows = [row for seed in range(first_seed, first_seed + seeds) for row in run_seed(seed)]
    print(table(rows))
    return 0
