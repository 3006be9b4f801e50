"""RouteLead's ranking over a location's whole roster at once. Pure: no I/O.

`selection.rank` scores agents one by one in Python; with 1,000 agents in a location that was
most of a route's CPU. Here a location's agents are held as arrays (a `RosterMatrix`, cached by
`assigning.Roster` per roster version and patched in place when only an agent's load moved), so
screening and scoring are a few numpy operations per route. The arithmetic is the same, term by
term and in the same order, as `selection.PairLogit` and `selection.rank` (a test holds them
equal), so a decision reads the same whichever path made it.

Only the agents a route actually looks at become Python tuples: `Order` is the ranked sequence,
materialised one entry at a time (the agent taking the slot, and the candidates kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import overload

import numpy as np
import numpy.typing as npt

from services.routing.matching import (
    RESPONSE_FEATURES,
    AgentProfile,
    LeadProfile,
    in_working_hours,
    wanted_specialties,
)
from services.routing.predictor import SuccessModel

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Entry = tuple[AgentProfile, float, float]


def static(agent: AgentProfile) -> tuple[object, ...]:
    """What a matrix row holds besides the load; when it changes the matrix is rebuilt."""
    return (
        agent.agent_id,
        agent.languages,
        agent.specialties,
        agent.territories,
        agent.min_price_usd,
        agent.max_price_usd,
        agent.working_hours,
        agent.timezone,
    )


class RosterMatrix:
    """A location's agents as arrays, row i being `profiles[i]`."""

    def __init__(self, profiles: Sequence[AgentProfile]) -> None:
        self.profiles: list[AgentProfile] = list(profiles)
        self.index = {a.agent_id: i for i, a in enumerate(self.profiles)}
        n = len(self.profiles)
        self.available = np.zeros(n, dtype=np.bool_)
        self.active = np.zeros(n, dtype=np.int64)
        self.capacity = np.ones(n, dtype=np.int64)
        self.waited = np.zeros(n, dtype=np.float64)
        # Index into RESPONSE_FEATURES + 1; 0: the agent has answered no offer yet.
        self.response = np.zeros(n, dtype=np.int64)
        for i, agent in enumerate(self.profiles):
            self._load(i, agent)
        # Ties end on the agent id as text: its rank among the roster's ids.
        keys = np.array([a.key for a in self.profiles], dtype=object)
        self.key_rank = np.empty(n, dtype=np.int64)
        self.key_rank[np.argsort(keys, kind="stable")] = np.arange(n, dtype=np.int64)
        self.min_price = np.array([a.min_price_usd for a in self.profiles], dtype=np.int64)
        self.max_price = np.array([a.max_price_usd for a in self.profiles], dtype=np.int64)
        self.has_range = (self.min_price != 0) | (self.max_price != 0)
        self.with_hours = [i for i, a in enumerate(self.profiles) if a.working_hours]
        self._speaks: dict[str, Bools] = {}
        self._covers: dict[tuple[str, ...], Bools] = {}
        self._serves: dict[tuple[str, ...], Bools] = {}
        self._model: SuccessModel | None = None
        self._own: dict[int, tuple[Floats, Floats]] = {}

    def __len__(self) -> int:
        return len(self.profiles)

    def _load(self, i: int, agent: AgentProfile) -> None:
        self.available[i] = agent.available
        self.active[i] = agent.active
        self.capacity[i] = agent.capacity
        self.waited[i] = agent.waited
        feature = agent.response_feature
        self.response[i] = RESPONSE_FEATURES.index(feature) + 1 if feature else 0

    def update(self, agent: AgentProfile) -> bool:
        """Take the agent's new load in place; False (nothing changed) when the agent is not a
        row or something besides its load changed: the caller builds a new matrix then."""
        i = self.index.get(agent.agent_id)
        if i is None or static(self.profiles[i]) != static(agent):
            return False
        # A new list: an Order made earlier keeps the profiles it ranked.
        self.profiles = list(self.profiles)
        self.profiles[i] = agent
        self._load(i, agent)
        return True

    def speaks(self, language: str) -> Bools:
        found = self._speaks.get(language)
        if found is None:
            found = np.array([language in a.languages for a in self.profiles], dtype=np.bool_)
            self._speaks[language] = found
        return found

    def covers(self, places: tuple[str, ...]) -> Bools:
        found = self._covers.get(places)
        if found is None:
            found = np.array([not a.territories.isdisjoint(places) for a in self.profiles], dtype=np.bool_)
            self._covers[places] = found
        return found

    def serves(self, wanted: tuple[str, ...]) -> Bools:
        found = self._serves.get(wanted)
        if found is None:
            found = np.array([not a.specialties.isdisjoint(wanted) for a in self.profiles], dtype=np.bool_)
            self._serves[wanted] = found
        return found

    def own_weights(self, model: SuccessModel, intent: int) -> tuple[Floats, Floats]:
        """weights[agent=<id>] + weights[agent=<id>|intent=<intent>] per row, summed in that
        order (as PairLogit does); cached per model object, which changes with each version."""
        if model is not self._model:
            self._model, self._own = model, {}
        found = self._own.get(intent)
        if found is None:
            w = model.weights
            suffix = f"|intent={intent}"
            own = np.array([w.get(a.own_feature, 0.0) for a in self.profiles], dtype=np.float64)
            paired = np.array([w.get(a.own_feature + suffix, 0.0) for a in self.profiles], dtype=np.float64)
            found = (own, paired)
            self._own[intent] = found
        return found

    def in_hours(self, now: datetime) -> Bools:
        inside = np.ones(len(self.profiles), dtype=np.bool_)
        for i in self.with_hours:
            inside[i] = in_working_hours(self.profiles[i], now)
        return inside


class Screen:
    """Who may take the lead (a mask over the matrix rows) and why the others may not."""

    def __init__(self, eligible: Bools, excluded: dict[uuid.UUID, str], language_required: str) -> None:
        self.eligible = eligible
        self.excluded = excluded
        self.language_required = language_required


def screen(
    lead: LeadProfile,
    m: RosterMatrix,
    now: datetime,
    considered: Bools,
    rule: Callable[[AgentProfile], str] | None = None,
    *,
    hours: bool = True,
) -> Screen:
    """matching.screen over the rows in `considered`, with the same reasons, first one wins:
    the rule, unavailable, at capacity, outside working hours, then the lead's language when
    some available considered agent speaks it. `hours` False: working hours do not count."""
    refused = np.zeros(len(m), dtype=np.bool_)
    reasons: dict[int, str] = {}
    if rule is not None:
        for i in np.flatnonzero(considered):
            why = rule(m.profiles[i])
            if why:
                refused[i] = True
                reasons[int(i)] = why
    ok = considered & ~refused
    room = m.active < m.capacity
    inside = m.in_hours(now) if hours else np.ones(len(m), dtype=np.bool_)
    for i in np.flatnonzero(ok & ~(m.available & room & inside)):
        a = m.profiles[i]
        if not a.available:
            reasons[int(i)] = "unavailable"
        elif not a.has_room:
            reasons[int(i)] = f"at capacity ({a.active} of {a.capacity})"
        else:
            reasons[int(i)] = "outside working hours"
    ready = ok & m.available & room & inside
    required = ""
    if lead.language:
        speaks = m.speaks(lead.language)
        if bool(np.any(speaks & m.available & considered)):
            required = lead.language
            for i in np.flatnonzero(ready & ~speaks):
                reasons[int(i)] = f"does not speak {required}"
            ready = ready & speaks
    excluded: dict[uuid.UUID, str] = {m.profiles[i].agent_id: why for i, why in sorted(reasons.items())}
    return Screen(ready, excluded, required)


class Order(Sequence[Entry]):
    """Eligible agents best first as (agent, predicted success, score); an entry becomes a
    tuple only when read."""

    def __init__(self, profiles: list[AgentProfile], rows: Ints, p: Floats, score: Floats) -> None:
        self._profiles = profiles
        self._rows = rows
        self._p = p
        self._score = score

    def __len__(self) -> int:
        return len(self._rows)

    def _entry(self, row: int) -> Entry:
        return (self._profiles[row], float(self._p[row]), float(self._score[row]))

    @overload
    def __getitem__(self, i: int) -> Entry: ...
    @overload
    def __getitem__(self, i: slice) -> list[Entry]: ...
    def __getitem__(self, i: int | slice) -> Entry | list[Entry]:
        if isinstance(i, slice):
            return [self._entry(int(r)) for r in self._rows[i]]
        return self._entry(int(self._rows[i]))

    def __iter__(self) -> Iterator[Entry]:
        for r in self._rows:
            yield self._entry(int(r))

    def tied_with_first(self) -> list[AgentProfile]:
        """The agents after the first whose score equals the first's."""
        if len(self._rows) < 2:
            return []
        rest = self._rows[1:]
        return [self._profiles[int(r)] for r in rest[self._score[rest] == self._score[self._rows[0]]]]


def rank(
    lead: LeadProfile,
    lead_features: list[str],
    m: RosterMatrix,
    eligible: Bools,
    model: SuccessModel,
    *,
    load_weight: float,
    round_robin: bool,
) -> Order:
    """selection.rank over the matrix: the eligible rows, best first."""
    w = model.weight
    own, paired = m.own_weights(model, lead.intent)
    z = model.logit(lead_features) + own
    z = z + paired
    if lead.language:
        match, mismatch = w("language_match"), w("language_mismatch")
        z = z + np.where(m.speaks(lead.language), match, mismatch)
    places = tuple(p for p in (lead.postal_code, lead.city) if p)
    if places:
        z = z + np.where(m.covers(places), w("territory_match"), 0.0)
    wanted = wanted_specialties(lead)
    if wanted:
        z = z + np.where(m.serves(wanted), w("specialty_match"), 0.0)
    budget = lead.budget_usd
    if budget > 0:
        in_range = m.has_range & (m.min_price <= budget) & ((m.max_price == 0) | (budget <= m.max_price))
        z = z + np.where(in_range, w("price_match"), 0.0)
    if bool(np.any(m.response)):
        table = np.array([0.0, *(w(f) for f in RESPONSE_FEATURES)], dtype=np.float64)
        z = np.where(m.response > 0, z + table[m.response], z)
    # sigmoid, as predictor.sigmoid computes it on each side of 0.
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    if load_weight:
        # Rows past capacity are never eligible; clipped so their score is 0, not NaN.
        free = np.maximum(m.capacity - m.active, 0) / np.maximum(m.capacity, 1)
        score = p * (free if load_weight == 1.0 else free**load_weight)
    else:
        score = p
    rows = np.flatnonzero(eligible)
    if round_robin:
        order = np.lexsort((m.key_rank[rows], m.waited[rows]))
    else:
        order = np.lexsort((m.key_rank[rows], m.waited[rows], m.active[rows], -score[rows]))
    return Order(m.profiles, rows[order], p, score)
