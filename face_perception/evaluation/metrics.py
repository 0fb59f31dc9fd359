"""Metrics on arrays: confusion matrices, calibration, accuracy per group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-12", 0, 12),
    ("13-19", 13, 19),
    ("20-39", 20, 39),
    ("40-59", 40, 59),
    ("60+", 60, 200),
)
RACES: tuple[str, ...] = ("white", "black", "asian", "indian", "other")


def age_band(age: int) -> str:
    for name, low, high in AGE_BANDS:
        if low <= age <= high:
            return name
    raise ValueError(f"age {age} is in no band")


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts [truth, predicted]."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))


@dataclass(frozen=True)
class Calibration:
    """Reliability diagram bins: mean confidence, accuracy and count per bin, and the expected calibration error."""

    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    ece: float


def calibration(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> Calibration:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums_conf = np.bincount(index, weights=confidence, minlength=bins)
    sums_ok = np.bincount(index, weights=correct.astype(float), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(counts > 0, sums_conf / np.maximum(counts, 1), np.nan)
        mean_ok = np.where(counts > 0, sums_ok / np.maximum(counts, 1), np.nan)
    ece = float(np.nansum(counts / max(counts.sum(), 1) * np.abs(mean_conf - mean_ok)))
    return Calibration(mean_conf, mean_ok, counts, ece)


def by_group(values: np.ndarray, groups: np.ndarray) -> dict[str, tuple[float, int]]:
    """Mean of ``values`` per group name, with the group's size, in sorted group order."""
    return {str(g): (float(values[groups == g].mean()), int((groups == g).sum())) for g in sorted(set(groups.tolist()))}
