"""Scoring a lead (ScoreLead) and reading scores as of now (GetLeadIntelligence).

ScoreLead reads the lead (unless the caller sent it) and its events from ingest
(`ActivityReader`), measures them into score parts (`score_parts`) and stores them; a
retried request_id gets the stored score. Every read evaluates the stored parts at the
moment of reading, so a score decays with time whether or not anything is rescored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.intelligence import conversion, score_parts
from services.intelligence.activity import ActivityReader
from services.intelligence.conversion import Model
from services.intelligence.outcomes import OutcomeRepository
from services.intelligence.points_config import PointsRepository
from services.intelligence.repository import ScoreRepository, StoredScore
from services.intelligence.score_parts import Parts
from services.intelligence.scoring import Factor, Points, Rules
from shared import timestamps
from shared.cache import Kind, TwoLevelCache
from shared.errors import FailedPrecondition, NotFound


def _stored_to_json(s: StoredScore) -> dict[str, Any]:
    return {
        "lead_id": str(s.lead_id),
        "location_id": s.location_id,
        "profile": score_parts.profile_to_json(s.parts.profile),
        "kinds": score_parts.kinds_to_json(s.parts.kinds),
        "fit": s.fit,
        "eng_key": s.eng_key,
        "config_version": s.config_version,
        "score_time": s.score_time.isoformat(),
        "request_id": s.request_id,
    }


def _stored_from_json(d: dict[str, Any]) -> StoredScore:
    return StoredScore(
        lead_id=uuid.UUID(d["lead_id"]),
        location_id=d["location_id"],
        parts=Parts(score_parts.profile_from_json(d["profile"]), score_parts.kinds_from_json(d["kinds"])),
        fit=d["fit"],
        eng_key=d["eng_key"],
        config_version=d["config_version"],
        score_time=datetime.fromisoformat(d["score_time"]),
        request_id=d["request_id"],
    )


def _points_to_json(p: Points) -> dict[str, Any]:
    return {"events": dict(p.events), "fit": dict(p.fit), "version": p.version}


def _model_to_json(m: Model) -> dict[str, Any]:
    return {"weights": m.weights_json(), "version": m.version, "seen": m.outcomes_seen}


# What the two cache levels hold, and for how long (see shared/cache.py for the bounds).
SCORES = Kind("score", ttl_s=60.0, l1_ttl_s=30.0, encode=_stored_to_json, decode=_stored_from_json)
POINTS = Kind(
    "points",
    ttl_s=60.0,
    l1_ttl_s=30.0,
    encode=_points_to_json,
    decode=lambda d: Points(events=d["events"], fit=d["fit"], version=d["version"]),
)
MODELS = Kind(
    "model",
    ttl_s=60.0,
    l1_ttl_s=30.0,
    encode=_model_to_json,
    decode=lambda d: Model.from_json(d["weights"], d["version"], d["seen"]),
)


@dataclass(frozen=True)
class View:
    """A lead's intelligence as of score_time."""

    lead_id: uuid.UUID
    location_id: str
    score: float
    tier: str
    factors: list[Factor]
    score_time: datetime
    model_version: str
    conversion_probability: float


class LocationState:
    """A location's points and conversion model, through the cache."""

    def __init__(self, points: PointsRepository, outcomes: OutcomeRepository, cache: TwoLevelCache) -> None:
        self._points = points
        self._outcomes = outcomes
        self._cache = cache

    async def points(self, location_id: str) -> Points:
        found: Points = await self._cache.get_or_load(
            POINTS, location_id, "", lambda: self._points.get(location_id)
        )
        return found

    async def model(self, location_id: str) -> Model:
        found: Model = await self._cache.get_or_load(
            MODELS, location_id, "", lambda: self._outcomes.model(location_id)
        )
        return found


class LeadScoring:
    def __init__(
        self,
        repo: ScoreRepository,
        activity: ActivityReader,
        rules: Rules,
        state: LocationState,
        cache: TwoLevelCache,
    ) -> None:
        self._repo = repo
        self._activity = activity
        self._rules = rules
        self._state = state
        self._cache = cache

    def model_version(self, points: Points, model: Model) -> str:
        return f"{self._rules.version}/points-v{points.version}/logreg-v{model.version}"

    def view(self, stored: StoredScore, points: Points, model: Model, at: datetime) -> View:
        """The stored parts evaluated at `at`."""
        result = score_parts.evaluate(stored.parts, points, self._rules, at)
        return View(
            lead_id=stored.lead_id,
            location_id=stored.location_id,
            score=result.score,
            tier=result.tier,
            factors=result.factors,
            score_time=at,
            model_version=self.model_version(points, model),
            conversion_probability=model.predict(
                conversion.lead_features(stored.parts, stored.eng_key, at, self._rules)
            ),
        )

    async def view_now(self, stored: StoredScore) -> View:
        points = await self._state.points(stored.location_id)
        model = await self._state.model(stored.location_id)
        return self.view(stored, points, model, timestamps.now())

    async def score(
        self, lead_id: uuid.UUID, request_id: str | None, snapshot: ingest_pb.Lead | None = None
    ) -> View:
        """Score the lead (the caller's snapshot of it when sent, else ingest's) and its recent
        events, and store the parts; a retried request_id returns the stored score as of now."""
        stored = await self._repo.get(lead_id)
        if request_id and stored is not None and stored.request_id == request_id:
            return await self.view_now(stored)
        try:
            # A lead scored before is read back for the location it was scored in.
            lead = await self._activity.lead(lead_id, snapshot, stored.location_id if stored else None)
        except FailedPrecondition as err:
            if err.reason == "LEAD_DELETED":  # a deleted lead leaves every listing
                location = await self._repo.forget_any(lead_id)
                if location is not None:
                    await self._cache.invalidate(SCORES, location, [str(lead_id)])
            raise
        now = timestamps.now()
        events = await self._activity.events(
            lead_id, lead.location_id, now - timedelta(days=self._rules.window_days)
        )
        parts = Parts(lead.profile, score_parts.measure(events, now, self._rules))
        points = await self._state.points(lead.location_id)
        indexed = (
            score_parts.fit_points(parts.profile, points),
            score_parts.engagement_key(parts.kinds, points),
            points.version,
        )
        result = score_parts.evaluate(parts, points, self._rules, now)
        saved = await self._repo.save(lead_id, lead.location_id, parts, indexed, result, now, request_id)
        await self._cache.invalidate(SCORES, lead.location_id, [str(lead_id)])
        return await self.view_now(saved)

    async def latest(self, lead_id: uuid.UUID, location_id: str) -> View:
        """The lead's score as of now; NOT_FOUND for a lead of another location."""

        async def load() -> StoredScore:
            stored = await self._repo.get(lead_id)
            if stored is None or stored.location_id != location_id:
                raise NotFound(
                    f"lead {lead_id} has no score in location {location_id}; call ScoreLead first",
                    reason="SCORE_NOT_FOUND",
                    metadata={"lead_id": str(lead_id), "location_id": location_id},
                )
            return stored

        stored: StoredScore = await self._cache.get_or_load(SCORES, location_id, str(lead_id), load)
        return await self.view_now(stored)
