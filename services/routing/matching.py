"""What routing knows of a lead and an agent, whether the agent may take the lead now, and the
features of the pair the success model weighs. Pure: no I/O."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.routing.agents import Window, language_tag, territory_key

# The specialty that serves each intent.
_INTENT_SPECIALTY: dict[int, tuple[str, ...]] = {
    ingest_pb.LEAD_INTENT_BUYER: ("buyer",),
    ingest_pb.LEAD_INTENT_SELLER: ("seller",),
    ingest_pb.LEAD_INTENT_BUYER_AND_SELLER: ("buyer", "seller"),
    ingest_pb.LEAD_INTENT_RENTER: ("rental",),
    ingest_pb.LEAD_INTENT_INVESTOR: ("investor",),
}
LUXURY_USD = 1_000_000
# Response-time bands (median seconds to answer an offered lead, upper bounds) and their
# features; the slowest band starts where the default acceptance SLA (5 min) ends.
RESPONSE_BANDS: tuple[tuple[float, str], ...] = (
    (60.0, "response=under_1m"),
    (300.0, "response=1m_to_5m"),
    (float("inf"), "response=over_5m"),
)
RESPONSE_FEATURES = tuple(feature for _, feature in RESPONSE_BANDS)


def response_feature(median_s: float | None) -> str:
    """The agent's response-time feature; "" before the agent has answered any offer."""
    if median_s is None:
        return ""
    return next(feature for limit, feature in RESPONSE_BANDS if median_s <= limit)


def response_words(median_s: float) -> str:
    """'answers offers in a median 4m 10s' for an agent's reasons."""
    whole = round(median_s)
    minutes, seconds = divmod(whole, 60)
    span = f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    return f"answers offers in a median {span}"


@dataclass(frozen=True)
class LeadProfile:
    lead_id: uuid.UUID
    location_id: str
    source: int
    intent: int
    language: str  # primary tag, "" when unknown
    postal_code: str  # territory_key form
    city: str  # territory_key form
    budget_usd: int
    score: float
    tags: frozenset[str] = frozenset()  # lower-cased, for rules

    @classmethod
    def of(cls, lead: ingest_pb.Lead, score: float) -> LeadProfile:
        return cls(
            lead_id=uuid.UUID(lead.lead_id),
            location_id=lead.location_id,
            source=lead.source,
            intent=lead.intent,
            language=language_tag(lead.preferred_language),
            postal_code=territory_key(lead.postal_code),
            city=territory_key(lead.city),
            budget_usd=lead.budget_usd,
            score=score,
            tags=frozenset(t.strip().lower() for t in lead.tags),
        )


@dataclass(frozen=True)
class AgentProfile:
    """An agent as a routing decision sees it: attributes and load."""

    agent_id: uuid.UUID
    name: str
    available: bool
    capacity: int  # effective: the agent's own, else the location default
    active: int
    last_assign_time: datetime | None
    timezone: str
    languages: frozenset[str]
    specialties: frozenset[str]
    territories: frozenset[str]
    min_price_usd: int
    max_price_usd: int
    working_hours: tuple[Window, ...]
    team_id: str
    team_lead: bool = False
    # Median seconds to answer recent offers (None: none answered yet); a model feature.
    response_s: float | None = None
    # The id as text (ties are broken on it) and the agent's own feature name: computed once,
    # since every route reads them for every agent of the location.
    key: str = field(init=False, repr=False, compare=False)
    own_feature: str = field(init=False, repr=False, compare=False)
    # Seconds since the epoch of the last assignment (0: never): round-robin and ties order on it.
    waited: float = field(init=False, repr=False, compare=False)
    response_feature: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", str(self.agent_id))
        object.__setattr__(self, "own_feature", "agent=" + self.key)
        object.__setattr__(
            self, "waited", self.last_assign_time.timestamp() if self.last_assign_time else 0.0
        )
        object.__setattr__(self, "response_feature", response_feature(self.response_s))

    @property
    def has_room(self) -> bool:
        return self.active < self.capacity


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def in_working_hours(agent: AgentProfile, now: datetime) -> bool:
    """Inside one of the agent's windows on the agent's own clock; no windows means always."""
    if not agent.working_hours:
        return True
    local = now.astimezone(_zone(agent.timezone))
    day = local.isoweekday()
    minute = local.hour * 60 + local.minute
    return any(w.day_of_week == day and w.start_minute <= minute < w.end_minute for w in agent.working_hours)


def price_band(budget_usd: int) -> str:
    if budget_usd <= 0:
        return "unknown"
    for limit, band in ((250_000, "<250k"), (500_000, "250k-500k"), (LUXURY_USD, "500k-1m")):
        if budget_usd < limit:
            return band
    return "1m+"


def territory_match(lead: LeadProfile, agent: AgentProfile) -> bool:
    return bool(agent.territories) and (
        (lead.postal_code != "" and lead.postal_code in agent.territories)
        or (lead.city != "" and lead.city in agent.territories)
    )


def wanted_specialties(lead: LeadProfile) -> tuple[str, ...]:
    """Any one of these serves the lead: its intent's, and luxury for a luxury budget."""
    wanted = _INTENT_SPECIALTY.get(lead.intent, ())
    return (*wanted, "luxury") if lead.budget_usd >= LUXURY_USD else wanted


def specialty_match(lead: LeadProfile, agent: AgentProfile) -> bool:
    return any(s in agent.specialties for s in wanted_specialties(lead))


def price_in_range(lead: LeadProfile, agent: AgentProfile) -> bool:
    if lead.budget_usd <= 0 or not (agent.min_price_usd or agent.max_price_usd):
        return False
    return agent.min_price_usd <= lead.budget_usd and (
        not agent.max_price_usd or lead.budget_usd <= agent.max_price_usd
    )


def lead_features(lead: LeadProfile) -> list[str]:
    """The features of the lead alone: the same for every agent."""
    return [
        "bias",
        f"source={lead.source}",
        f"intent={lead.intent}",
        f"price={price_band(lead.budget_usd)}",
    ]


def pair_features(lead: LeadProfile, agent: AgentProfile) -> list[str]:
    """The features of this lead with this agent: matches, and the agent's own history (its id,
    and its id with the lead's intent, whose weights learn what the agent converts) and how fast
    the agent answers new leads."""
    features = [agent.own_feature, f"{agent.own_feature}|intent={lead.intent}"]
    if lead.language:
        features.append("language_match" if lead.language in agent.languages else "language_mismatch")
    if territory_match(lead, agent):
        features.append("territory_match")
    if specialty_match(lead, agent):
        features.append("specialty_match")
    if price_in_range(lead, agent):
        features.append("price_match")
    if agent.response_feature:
        features.append(agent.response_feature)
    return features


@dataclass(frozen=True)
class Screened:
    eligible: list[AgentProfile]
    # Agent -> why it cannot take the lead now, in words.
    excluded: dict[uuid.UUID, str]
    # Set when the lead's language was a hard constraint.
    language_required: str


def screen(
    lead: LeadProfile,
    agents: list[AgentProfile],
    now: datetime,
    rule: Callable[[AgentProfile], str] | None = None,
) -> Screened:
    """Available, inside working hours, with room, allowed by the matched rule (`rule` says why
    not), and speaking the lead's language when some available agent of the location does."""
    excluded: dict[uuid.UUID, str] = {}
    ready: list[AgentProfile] = []
    for agent in agents:
        refused = rule(agent) if rule is not None else ""
        if refused:
            excluded[agent.agent_id] = refused
        elif not agent.available:
            excluded[agent.agent_id] = "unavailable"
        elif not agent.has_room:
            excluded[agent.agent_id] = f"at capacity ({agent.active} of {agent.capacity})"
        elif not in_working_hours(agent, now):
            excluded[agent.agent_id] = "outside working hours"
        else:
            ready.append(agent)
    required = ""
    if lead.language and any(lead.language in a.languages for a in agents if a.available):
        required = lead.language
        for agent in ready:
            if required not in agent.languages:
                excluded[agent.agent_id] = f"does not speak {required}"
        ready = [a for a in ready if required in a.languages]
    return Screened(ready, excluded, required)
