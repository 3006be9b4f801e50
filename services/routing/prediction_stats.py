"""How well probabilities matched what happened: AUC, Brier score, expected calibration
error. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence


def auc(predicted: Sequence[float], actual: Sequence[bool]) -> float:
    """Area under the ROC curve by the Mann-Whitney U statistic, ties counting half;
    0.5 when only one class is present (no ranking can be judged)."""
    positives = sum(1 for a in actual if a)
    negatives = len(actual) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = sorted(range(len(predicted)), key=lambda i: predicted[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and predicted[order[j + 1]] == predicted[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1  # 1-based ranks, ties share the mean
        rank_sum += mean_rank * sum(1 for k in range(i, j + 1) if actual[order[k]])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def brier(predicted: Sequence[float], actual: Sequence[bool]) -> float:
    if not predicted:
        return 0.0
    return sum((p - (1.0 if a else 0.0)) ** 2 for p, a in zip(predicted, actual, strict=True)) / len(
        predicted
    )


def calibration_error(predicted: Sequence[float], actual: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: |mean predicted - observed rate| per equal-width bin,
    weighted by the bin's share of predictions."""
    if not predicted:
        return 0.0
    totals = [[0.0, 0.0, 0] for _ in range(bins)]
    for p, a in zip(predicted, actual, strict=True):
        b = totals[min(int(p * bins), bins - 1)]
        b[0] += p
        b[1] += 1.0 if a else 0.0
        b[2] += 1
    n = len(predicted)
    return sum(abs(s - w) / n for s, w, c in totals if c)
