"""Apparent-age estimator: the expected value over the model's age bins."""

from __future__ import annotations

import numpy as np

from face_perception.core.errors import ModelError
from face_perception.core.models.base import ChipModel


class AgeEstimator(ChipModel):
    """Age head: years, as the probability-weighted mean of the bin ages."""

    task = "age"
    result_field = "age"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bin_ages = np.asarray(self.entry.raw.get("bin_ages", []), dtype=np.float32)
        if self._bin_ages.size == 0:
            raise ModelError(f"{self.entry.model_id}: the manifest gives no bin_ages")

    def _postprocess(self, outputs: np.ndarray) -> list[float]:
        if outputs.shape[1] != self._bin_ages.size:
            raise ModelError(f"{self.entry.model_id}: {outputs.shape[1]} bins, manifest has {self._bin_ages.size}")
        return [float(v) for v in outputs @ self._bin_ages]
