"""The success model and the statistics that judge it. Pure, so property-tested."""

from __future__ import annotations

import json
import random

from hypothesis import given
from hypothesis import strategies as st

from services.routing import prediction_stats
from services.routing.predictor import BASE_RATE, SuccessModel

scored = st.lists(
    st.tuples(st.floats(min_value=0, max_value=1, allow_nan=False), st.booleans()), min_size=1, max_size=60
)


def brute_auc(predicted: list[float], actual: list[bool]) -> float:
    pos = [p for p, a in zip(predicted, actual, strict=True) if a]
    neg = [p for p, a in zip(predicted, actual, strict=True) if not a]
    if not pos or not neg:
        return 0.5
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@given(scored)
def test_auc_is_the_share_of_positive_negative_pairs_ranked_right(pairs: list[tuple[float, bool]]) -> None:
    predicted, actual = [p for p, _ in pairs], [a for _, a in pairs]
    assert abs(prediction_stats.auc(predicted, actual) - brute_auc(predicted, actual)) < 1e-9


@given(scored)
def test_brier_and_calibration_error_are_bounded(pairs: list[tuple[float, bool]]) -> None:
    predicted, actual = [p for p, _ in pairs], [a for _, a in pairs]
    assert 0.0 <= prediction_stats.brier(predicted, actual) <= 1.0
    assert 0.0 <= prediction_stats.calibration_error(predicted, actual) <= 1.0


def test_perfect_and_inverted_rankings() -> None:
    assert prediction_stats.auc([0.1, 0.2, 0.9], [False, False, True]) == 1.0
    assert prediction_stats.auc([0.9, 0.2, 0.1], [False, False, True]) == 0.0
    assert prediction_stats.calibration_error([0.25] * 4, [True, False, False, False]) == 0.0
    assert prediction_stats.brier([1.0, 0.0], [True, False]) == 0.0


def test_before_any_outcome_the_prior_answers() -> None:
    model = SuccessModel()
    assert abs(model.predict(["bias"]) - BASE_RATE) < 1e-9
    assert (
        model.predict(["bias", "language_match"])
        > model.predict(["bias"])
        > model.predict(["bias", "language_mismatch"])
    )


def test_learning_separates_a_strong_agent_from_a_weak_one() -> None:
    rng = random.Random(7)
    model = SuccessModel()
    for _ in range(3000):
        strong = rng.random() < 0.5
        won = rng.random() < (0.12 if strong else 0.02)
        model.learn(["bias", "agent=strong" if strong else "agent=weak"], won)
    p_strong, p_weak = model.predict(["bias", "agent=strong"]), model.predict(["bias", "agent=weak"])
    assert p_strong > 2 * p_weak
    assert 0.06 < p_strong < 0.2  # roughly calibrated, not just ordered
    assert model.outcomes_seen == 3000


@given(st.lists(st.tuples(st.sampled_from(["bias", "a", "b", "language_match"]), st.booleans()), max_size=40))
def test_a_model_survives_its_json_round_trip(steps: list[tuple[str, bool]]) -> None:
    model = SuccessModel()
    for feature, won in steps:
        model.learn(["bias", feature], won)
    again = SuccessModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.weights == model.weights
    assert again.squares == model.squares
    assert again.outcomes_seen == model.outcomes_seen
