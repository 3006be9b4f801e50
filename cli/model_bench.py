"""`leadengine bench model`: our conversion model against Odoo-style naive Bayes on a synthetic
population with a hidden truth.

Each seed draws a population of leads whose attributes share a latent "seriousness" (so they
are correlated, as real ones are: pre-approved buyers also state budgets and short timelines),
and whose behaviour (browsing, saving, email, direct contact: decayed event counts) shares a
latent interest in buying now,
and a hidden true conversion probability: logistic in the observable features with weights
drawn around, not equal to, the population prior, plus an effect of the latent trait no
feature shows. Both models learn from the same stream of outcomes and are measured on the
same 20,000 held-out leads after 100, 500 and 2,000 outcomes.

Two bounds show the headroom: the hidden truth's own AUC, and that of our features with the
weights that fit the population best (our fit to the held-out leads' true probabilities, as if
each had been seen infinitely often: it knows the truth, so it is a ceiling, not a competitor).
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rich.table import Table

from cli.terminal import console
from services.intelligence import conversion
from services.intelligence.conversion import FEATURES, PRIOR_WEIGHTS, Model
from services.intelligence.scoring import LeadProfile, timeline_band

CHECKPOINTS = (100, 500, 2000)
TEST_SIZE = 20_000
SOURCES = conversion.SOURCES
NB_ALPHA = 0.1  # Odoo's smoothing


@dataclass(frozen=True)
class Lead:
    profile: LeadProfile
    engagement: float
    behaviour: dict[str, float]  # decayed event count per behaviour group
    p_true: float

    def features(self) -> np.ndarray:
        return conversion.features(self.profile, self.engagement, self.behaviour)


# Mean points of one event of each behaviour group (the default points).
GROUP_POINTS = {"browse": 2.0, "save": 7.0, "email": 2.0, "contact": 13.0}


def _sig(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1 / (1 + np.exp(-z))
    return result


def population(rng: np.random.Generator, n: int, true_weights: np.ndarray) -> list[Lead]:
    z = rng.normal(size=n)
    preapproved = rng.random(n) < _sig(-0.5 + 1.0 * z)
    budget = rng.random(n) < _sig(0.3 + 0.8 * z)
    urgency = z + rng.normal(size=n)
    months = np.where(urgency > 1.0, 2, np.where(urgency > 0.3, 5, np.where(urgency > -0.5, 10, 0)))
    phone = rng.random(n) < _sig(0.8 + 0.5 * z)
    email = rng.random(n) < 0.9
    source_weights = np.array([0.08, 0.07, 0.3, 0.25, 0.15, 0.05, 0.10])
    sources = [SOURCES[rng.choice(len(SOURCES), p=source_weights)] for _ in range(n)]
    # Interest in buying now drives every kind of behaviour, so the kinds are correlated.
    interest = 0.7 * z + 0.7 * rng.normal(size=n)
    counts = {
        "browse": rng.poisson(np.exp(1.0 + 0.8 * interest)),
        "save": rng.poisson(np.exp(-1.0 + 0.9 * interest)),
        "email": rng.poisson(np.exp(0.3 * rng.normal(size=n) + 0.5 * interest)),
        "contact": rng.poisson(np.exp(-1.5 + 1.0 * interest + 0.5 * z)),
    }
    # Events happened over the last weeks: each counts with its decay.
    ages = {g: rng.uniform(0.3, 1.0, size=n) for g in counts}
    leads = []
    for i in range(n):
        profile = LeadProfile(
            budget_usd=400_000 if budget[i] else 0,
            preapproved=bool(preapproved[i]),
            timeline_months=int(months[i]),
            has_phone=bool(phone[i]),
            has_email=bool(email[i]),
            source=sources[i],
        )
        behaviour = {g: float(counts[g][i] * ages[g][i]) for g in counts}
        engagement = sum(GROUP_POINTS[g] * v for g, v in behaviour.items())
        x = conversion.features(profile, engagement, behaviour)
        p = float(_sig(np.array(true_weights @ x + 0.5 * z[i]))[()])
        leads.append(Lead(profile, engagement, behaviour, p))
    return leads


def _bucket(value: float, edges: tuple[float, ...]) -> str:
    for edge in edges:
        if value < edge:
            return f"<{edge:g}"
    return f"{edges[-1]:g}+"


def categorical(lead: Lead) -> dict[str, str]:
    p = lead.profile
    return {
        "preapproved": str(p.preapproved),
        "budget": str(p.budget_usd > 0),
        "timeline": timeline_band(p.timeline_months) or "none",
        "phone": str(p.has_phone),
        "email": str(p.has_email),
        "source": p.source,
        "engagement": _bucket(lead.engagement, (0.5, 5, 15, 30, 60)),
        **{f"behaviour_{g}": _bucket(v, (0.25, 1, 2, 4, 8)) for g, v in lead.behaviour.items()},
    }


class NaiveBayes:
    """Odoo CRM's predictive lead scoring: won/lost counts per (variable, value), +alpha when a
    pair is first seen; P(won) from the totals; each variable's conditional from its own totals;
    the probability clamped to [0.0001, 0.9999]."""

    def __init__(self, alpha: float = NB_ALPHA) -> None:
        self._alpha = alpha
        self._counts: dict[tuple[str, str], list[float]] = {}
        self._won = 0
        self._lost = 0

    def learn(self, values: dict[str, str], won: bool) -> None:
        for pair in values.items():
            counts = self._counts.setdefault(pair, [self._alpha, self._alpha])
            counts[0 if won else 1] += 1
        self._won += won
        self._lost += not won

    def predict(self, values: dict[str, str]) -> float:
        total = self._won + self._lost
        if total == 0 or self._won == 0 or self._lost == 0:
            return 0.5
        totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (variable, _), (won, lost) in self._counts.items():
            totals[variable][0] += won
            totals[variable][1] += lost
        s_won = math.log(self._won / total)
        s_lost = math.log(self._lost / total)
        for pair in values.items():
            if pair not in self._counts:
                continue
            won, lost = self._counts[pair]
            s_won += math.log(won / totals[pair[0]][0])
            s_lost += math.log(lost / totals[pair[0]][1])
        p = 1 / (1 + math.exp(s_lost - s_won))
        return min(max(p, 0.0001), 0.9999)


def run_seed(seed: int) -> dict[tuple[str, int], tuple[float, float]]:
    """(model, outcomes) -> (AUC, calibration error) on the held-out leads; the bounds
    ("truth" and "best_linear") under 0 outcomes."""
    rng = np.random.default_rng(seed)
    true_weights = PRIOR_WEIGHTS + rng.normal(0, 0.6, size=len(FEATURES))
    true_weights[FEATURES.index("bias")] = -2.0  # closed leads convert more often than all leads
    test = population(rng, TEST_SIZE, true_weights)
    train = population(rng, max(CHECKPOINTS), true_weights)
    test_x = [t.features() for t in test]
    test_values = [categorical(t) for t in test]
    test_y = [bool(rng.random() < t.p_true) for t in test]
    test_p = [t.p_true for t in test]
    best = conversion.fit(np.array(test_x), np.array(test_p), PRIOR_WEIGHTS.copy(), iterations=50)
    best_linear = [float(w) for w in np.array(test_x) @ best]
    model, nb = Model.prior(), NaiveBayes()
    results: dict[tuple[str, int], tuple[float, float]] = {}
    xs: list[np.ndarray] = []
    ys: list[float] = []
    for i, lead in enumerate(train, start=1):
        won = bool(rng.random() < lead.p_true)
        xs.append(lead.features())
        ys.append(float(won))
        nb.learn(categorical(lead), won)
        if i in CHECKPOINTS:  # the service refits on every outcome; the result is the same
            model = model.learn(np.array(xs), np.array(ys))
        if i in CHECKPOINTS:
            ours = [model.predict(x) for x in test_x]
            theirs = [nb.predict(v) for v in test_values]
            for name, predicted in (("logreg", ours), ("naive_bayes", theirs)):
                results[(name, i)] = (
                    conversion.auc(predicted, test_y),
                    conversion.calibration_error(predicted, test_y),
                )
    for name, scores in (("truth", test_p), ("best_linear", best_linear)):
        results[(name, 0)] = (conversion.auc(scores, test_y), 0.0)
    return results


Row = dict[str, float | int | list[float]]


def table(seeds: int = 5, first_seed: int = 1) -> list[Row]:
    runs = [run_seed(seed) for seed in range(first_seed, first_seed + seeds)]
    rows: list[Row] = []
    for n in CHECKPOINTS:
        row: Row = {"outcomes": n}
        for name in ("logreg", "naive_bayes"):
            aucs = [r[(name, n)][0] for r in runs]
            eces = [r[(name, n)][1] for r in runs]
            row[f"{name}_auc"] = round(float(np.mean(aucs)), 4)
            row[f"{name}_auc_sd"] = round(float(np.std(aucs)), 4)
            row[f"{name}_ece"] = round(float(np.mean(eces)), 4)
        gains = [r[("logreg", n)][0] - r[("naive_bayes", n)][0] for r in runs]
        row["auc_gain"] = round(float(np.mean(gains)), 4)
        row["auc_gain_per_seed"] = [round(g, 4) for g in gains]
        for bound in ("truth", "best_linear"):
            row[f"{bound}_auc"] = round(float(np.mean([r[(bound, 0)][0] for r in runs])), 4)
        rows.append(row)
    return rows


def command(seeds: int, as_json: bool, first_seed: int = 1) -> int:
    rows = table(seeds, first_seed)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    last = first_seed + seeds - 1
    out = Table(
        title=f"AUC / calibration error on 20,000 held-out leads, mean of seeds {first_seed}-{last}",
        caption="Bounds: these features with the population's best weights reach AUC"
        f" {rows[0]['best_linear_auc']:.4f}, the hidden truth {rows[0]['truth_auc']:.4f}",
    )
    columns = (
        "outcomes",
        "logreg AUC",
        "naive Bayes AUC",
        "AUC gain",
        "gain min / max",
        "logreg ECE",
        "naive Bayes ECE",
    )
    for column in columns:
        out.add_column(column, justify="right")
    for r in rows:
        gains = r["auc_gain_per_seed"]
        assert isinstance(gains, list)
        out.add_row(
            str(r["outcomes"]),
            f"{r['logreg_auc']:.4f} ± {r['logreg_auc_sd']:.4f}",
            f"{r['naive_bayes_auc']:.4f} ± {r['naive_bayes_auc_sd']:.4f}",
            f"{r['auc_gain']:+.4f}",
            f"{min(gains):+.3f} / {max(gains):+.3f}",
            f"{r['logreg_ece']:.4f}",
            f"{r['naive_bayes_ece']:.4f}",
        )
    console.print(out)
    return 0
