"""The success model: P(the lead converts, outcome WON | lead, agent), logistic regression over
binary features, learned online one outcome at a time. Pure: no I/O.

Before any outcome it answers from a prior (a base rate and mild bonuses for language,
territory, specialty and price matches, as peers' routing rules encode, and for agents who
answer new leads fast). Each outcome takes one
AdaGrad step whose L2 term pulls every weight back toward that prior, so an agent seen a few
times moves a little and an agent seen often is judged on its own record.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

BASE_RATE = 0.03
PRIOR: Mapping[str, float] = {
    "bias": math.log(BASE_RATE / (1 - BASE_RATE)),
    "language_match": 0.4,
    "language_mismatch": -0.4,
    "territory_match": 0.3,
    "specialty_match": 0.3,
    "price_match": 0.15,
    # Speed to lead: an agent who answers new leads within a minute converts more of them than
    # one who lets them wait past the acceptance SLA (speed to lead, domain.md §1).
    "response=under_1m": 0.2,
    "response=1m_to_5m": 0.0,
    "response=over_5m": -0.3,
}
LEARNING_RATE = 0.3
L2 = 0.02


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass
class SuccessModel:
    weights: dict[str, float] = field(default_factory=dict)
    # AdaGrad: squared gradients summed per feature.
    squares: dict[str, float] = field(default_factory=dict)
    outcomes_seen: int = 0
    learning_rate: float = LEARNING_RATE
    l2: float = L2

    def weight(self, feature: str) -> float:
        found = self.weights.get(feature)
        return PRIOR.get(feature, 0.0) if found is None else found

    def logit(self, features: Iterable[str]) -> float:
        return sum(self.weight(f) for f in features)

    def predict(self, features: Iterable[str]) -> float:
        return sigmoid(self.logit(features))

    def learn(self, features: Iterable[str], won: bool) -> None:
        names = list(dict.fromkeys(features))
        error = self.predict(names) - (1.0 if won else 0.0)
        for name in names:
            w = self.weight(name)
            g = error + self.l2 * (w - PRIOR.get(name, 0.0))
            s = self.squares.get(name, 0.0) + g * g
            self.squares[name] = s
            self.weights[name] = w - self.learning_rate * g / math.sqrt(s + 1e-8)
        self.outcomes_seen += 1

    def to_json(self) -> dict[str, Any]:
        return {"w": self.weights, "g": self.squares, "n": self.outcomes_seen}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuccessModel:
        return cls(
            weights={str(k): float(v) for k, v in data.get("w", {}).items()},
            squares={str(k): float(v) for k, v in data.get("g", {}).items()},
            outcomes_seen=int(data.get("n", 0)),
        )
