"""The conversion model: per-location online logistic regression with a population prior. Pure: no I/O.

Features are only what the score may use (fit attributes and engagement as of the moment),
never anything that names or locates a person. Before a location has outcomes its model
is the population prior: weights set from how the fit and engagement points rank leads
(the rules' own judgement, in log-odds). Each WON/LOST outcome takes one AdaGrad step on
the log-loss, with an L2 pull back towards the prior, so a few outcomes cannot swing the
model far and many outcomes can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import numpy.typing as npt

from services.intelligence import score_parts
from services.intelligence.score_parts import KindMass, Parts
from services.intelligence.scoring import ENGAGEMENT_MAX, SOURCE_POINTS, LeadProfile, Rules, timeline_band

Vector = npt.NDArray[np.float64]

SOURCES = tuple(SOURCE_POINTS)
# Event kinds by what they say about a lead; the model learns per location what each is worth.
BEHAVIOUR_GROUPS: dict[str, tuple[str, ...]] = {
    "browse": ("page_view", "listing_view", "search"),
    "save": ("saved_search", "favorite"),
    "email": ("email_open", "email_click"),
    "contact": ("form_submit", "call", "sms_reply", "appointment"),
}
FEATURES: tuple[str, ...] = (
    "bias",
    "preapproved",
    "budget",
    "timeline_3m",
    "timeline_6m",
    "timeline_12m",
    "phone",
    "email",
    *(f"source_{s}" for s in SOURCES),
    "engagement",  # min(engagement, 60) / 60
    "engagement_log",  # ln(1 + engagement) / ln(61)
    # What kind of behaviour: ln(1 + decayed count of the group's events) / ln(21).
    *(f"behaviour_{group}" for group in BEHAVIOUR_GROUPS),
)
# Log-odds per feature for a location with no outcomes: about 2% convert with nothing known,
# and each attribute moves the odds about as much as its points move the score.
PRIOR: dict[str, float] = {
    "bias": -4.0,
    "preapproved": 0.9,
    "budget": 0.4,
    "timeline_3m": 0.8,
    "timeline_6m": 0.5,
    "timeline_12m": 0.2,
    "phone": 0.2,
    "email": 0.2,
    "source_referral": 0.5,
    "source_open_house": 0.4,
    "source_web_form": 0.3,
    "source_portal": 0.2,
    "source_ghl": 0.1,
    "source_other": 0.0,
    "source_import": -0.2,
    "engagement": 1.5,
    "engagement_log": 1.0,
    "behaviour_browse": 0.2,
    "behaviour_save": 0.4,
    "behaviour_email": 0.2,
    "behaviour_contact": 0.8,
}
PRIOR_WEIGHTS: Vector = np.array([PRIOR.get(name, 0.0) for name in FEATURES])
# Prior variance of each weight around the population prior: weakly informative, so a few
# dozen outcomes move the model a little and a few hundred move it where they point.
PRIOR_VARIANCE: Vector | float = 1.0
# The model learns from a location's latest outcomes, so it follows a market that changes.
TRAINING_WINDOW = 5000


def feature_values(
    profile: LeadProfile, engagement: float, behaviour: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The model's inputs by name (names outside FEATURES weigh nothing): fit attributes,
    engagement points and, per behaviour group, the
    decayed count of its events (see behaviour_counts)."""
    band = timeline_band(profile.timeline_months)
    values = {
        "bias": 1.0,
        "preapproved": float(profile.preapproved),
        "budget": float(profile.budget_usd > 0),
        "timeline_3m": float(band == "timeline_3m"),
        "timeline_6m": float(band == "timeline_6m"),
        "timeline_12m": float(band == "timeline_12m"),
        "phone": float(profile.has_phone),
        "email": float(profile.has_email),
        f"source_{profile.source}": 1.0,
        "engagement": min(max(engagement, 0.0), ENGAGEMENT_MAX) / ENGAGEMENT_MAX,
        "engagement_log": math.log1p(max(engagement, 0.0)) / math.log1p(ENGAGEMENT_MAX),
        **{
            f"behaviour_{group}": math.log1p(max(count, 0.0)) / math.log1p(20.0)
            for group, count in (behaviour or {}).items()
        },
    }
    return values


def features(profile: LeadProfile, engagement: float, behaviour: Mapping[str, float] | None = None) -> Vector:
    values = feature_values(profile, engagement, behaviour)
    return np.array([values.get(name, 0.0) for name in FEATURES])


def behaviour_counts(kinds: Mapping[str, KindMass], at: datetime, rules: Rules) -> dict[str, float]:
    """Per behaviour group, its events counted with their decay at `at`."""
    lam_t = score_parts.rate(rules.half_life_days) * score_parts.day_number(at)
    return {
        group: sum(math.exp(kinds[k].log_mass - lam_t) for k in members if k in kinds)
        for group, members in BEHAVIOUR_GROUPS.items()
    }


def lead_features(parts: Parts, eng_key: float, at: datetime, rules: Rules) -> Vector:
    """A stored lead's features as of `at`."""
    engagement = score_parts.engagement_at(eng_key, at, rules)
    return features(parts.profile, engagement, behaviour_counts(parts.kinds, at, rules))


def lead_feature_values(parts: Parts, eng_key: float, at: datetime, rules: Rules) -> dict[str, float]:
    """lead_features by name, for Model.predict_values."""
    engagement = score_parts.engagement_at(eng_key, at, rules)
    return feature_values(parts.profile, engagement, behaviour_counts(parts.kinds, at, rules))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(z, -35.0), 35.0)))


def _sigmoid_array(z: Vector) -> Vector:
    result: Vector = 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))
    return result


def _objective(x: Vector, y: Vector, w: Vector) -> float:
    z = x @ w
    # log(1 + e^z) - y z, written to stay finite for large |z|
    loss = np.logaddexp(0.0, z) - y * z
    return float(loss.sum() + 0.5 * (((w - PRIOR_WEIGHTS) ** 2) / PRIOR_VARIANCE).sum())


def fit(x: Vector, y: Vector, start: Vector, iterations: int = 25) -> Vector:
    """The maximum a posteriori weights: log-loss on the outcomes plus a Gaussian prior
    centred on the population prior, by Newton's method from `start` (the current weights, so
    each new outcome takes a step or two), halving a step until the objective falls."""
    w = start.copy()
    precision = np.diag(np.broadcast_to(1.0 / PRIOR_VARIANCE, w.shape))
    current = _objective(x, y, w)
    for _ in range(iterations):
        p = _sigmoid_array(x @ w)
        gradient = x.T @ (p - y) + precision @ (w - PRIOR_WEIGHTS)
        hessian = (x.T * (p * (1 - p))) @ x + precision
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-4:
            trial = w - scale * step
            value = _objective(x, y, trial)
            if value <= current:
                break
            scale /= 2
        else:
            break  # no step lowers the objective: at the optimum, up to rounding
        w, current = trial, value
        if float(np.abs(scale * step).max()) < 1e-7:
            break
    return w


@dataclass(frozen=True)
class Model:
    weights: Vector
    version: int = 0  # 0 = the prior, untouched
    outcomes_seen: int = 0

    @staticmethod
    def prior() -> Model:
        return Model(PRIOR_WEIGHTS.copy())

    def predict(self, x: Vector) -> float:
        return _sigmoid(float(self.weights @ x))

    @cached_property
    def weight_of(self) -> dict[str, float]:
        return dict(zip(FEATURES, map(float, self.weights), strict=True))

    def predict_values(self, values: Mapping[str, float]) -> float:
        """predict(features) from the features by name: the few set, without building a vector
        (numpy's per-call cost outweighs a 20-term dot product); equal up to float rounding."""
        weight = self.weight_of
        return _sigmoid(sum(weight.get(name, 0.0) * value for name, value in values.items()))

    def learn(self, x: Vector, y: Vector) -> Model:
        """The model refit on these outcomes (features x, 1 = converted), one version later."""
        return Model(fit(x, y, self.weights), self.version + 1, self.outcomes_seen + 1)

    def weights_json(self) -> dict[str, float]:
        return dict(zip(FEATURES, map(float, self.weights), strict=True))

    @staticmethod
    def from_json(weights: dict[str, float], version: int, seen: int) -> Model:
        # A feature added after the model was stored starts at its prior.
        return Model(np.array([weights.get(n, PRIOR.get(n, 0.0)) for n in FEATURES]), version, seen)


# Hold-out measures -------------------------------------------------------------------------------


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Probability that a random positive outranks a random negative (ties count half):
    the Mann-Whitney U from average ranks. 0 when a class is missing."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return 0.0
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_scores = s[order]
    i = 0
    while i < len(s):  # average rank over each run of ties
        j = i
        while j + 1 < len(s) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[y].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def brier(predicted: Sequence[float], labels: Sequence[bool]) -> float:
    if len(predicted) == 0:
        return 0.0
    p = np.asarray(predicted, dtype=float)
    return float(np.mean((p - np.asarray(labels, dtype=float)) ** 2))


def calibration_error(predicted: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: |mean predicted - observed rate| per equal-width bin,
    weighted by the bin's share of predictions."""
    if len(predicted) == 0:
        return 0.0
    p = np.asarray(predicted, dtype=float)
    y = np.asarray(labels, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() / len(p) * abs(p[mask].mean() - y[mask].mean())
    return float(total)
