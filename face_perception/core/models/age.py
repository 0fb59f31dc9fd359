"""Apparent-age estimator: the expected value over the model's age bins, and their spread."""

from __future__ import annotations

from typing import Any

import numpy as np

from face_perception.core.errors import ModelError
from face_perception.core.models.base import ChipModel
from face_perception.core.types import AgeEstimate

# Coefficients of the uncertainty in the manifest's calibration, with their defaults (the spread alone).
UNCERTAINTY_TERMS = {"offset_years": 0.0, "per_sd": 1.0, "per_year": 0.0}


class AgeEstimator(ChipModel):
    """Age head: years, as the probability-weighted mean of the bin ages.

    The uncertainty is the half-width, years, of an interval around the age that holds the true age
    for about 68% of faces: ``offset_years + per_sd * spread + per_year * age``, where ``spread`` is
    the standard deviation of the bin distribution. The coefficients are the manifest entry's
    ``calibration`` (fitted by ``face-perception calibrate age``); without one it is the spread alone.
    """

    task = "age"
    result_field = "age"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bin_ages = np.asarray(self.entry.raw.get("bin_ages", []), dtype=np.float64)
        if self._bin_ages.size == 0:
            raise ModelError(f"{self.entry.model_id}: the manifest gives no bin_ages")
        calibration = self.entry.raw.get("calibration", {})
        self._uncertainty = tuple(float(calibration.get(k, d)) for k, d in UNCERTAINTY_TERMS.items())

    def _postprocess(self, outputs: np.ndarray) -> list[AgeEstimate]:
        if outputs.shape[1] != self._bin_ages.size:
            raise ModelError(f"{self.entry.model_id}: {outputs.shape[1]} bins, manifest has {self._bin_ages.size}")
        mean, spread = bin_moments(outputs, self._bin_ages)
        offset, per_sd, per_year = self._uncertainty
        uncertainty = np.maximum(offset + per_sd * spread + per_year * mean, 0.0)
        return [AgeEstimate(float(m), float(u)) for m, u in zip(mean, uncertainty, strict=True)]

    def result_fields(self, prediction: AgeEstimate) -> dict[str, Any]:
        return {"age": prediction.years, "age_uncertainty_years": prediction.uncertainty_years}


def bin_moments(probabilities: np.ndarray, bin_ages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean age [N] and standard deviation [N], years, of bin distributions [N, bins] (rows sum to 1)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    mean = probabilities @ bin_ages
    variance = probabilities @ bin_ages**2 - mean**2
    return mean, np.sqrt(np.maximum(variance, 0.0))
