"""Eyewear classifier: probability that glasses or sunglasses are worn over the eyes."""

from __future__ import annotations

import numpy as np

from face_perception.core.errors import ModelError
from face_perception.core.models.base import ChipModel
from face_perception.core.types import Eyewear

EYEWEAR_LABELS = ("none", "eyewear")


def apply_temperature(probability: np.ndarray, temperature: float) -> np.ndarray:
    """Binary temperature scaling: sigmoid(logit(p) / T). T > 1 softens, T < 1 sharpens."""
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-7, 1 - 1e-7)
    return 1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / temperature))


class EyewearClassifier(ChipModel):
    """Eyeglasses head: P(eyewear) per face, and whether it passes the model's threshold.

    The network's probability is calibrated with the manifest's ``temperature`` (fitted by
    ``face-perception calibrate glasses``; 1.0 when absent), then compared with ``threshold``.
    """

    task = "eyewear"
    result_field = "eyewear"
    labels = EYEWEAR_LABELS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.threshold = float(self.entry.raw.get("threshold", 0.5))
        self.temperature = float(self.entry.raw.get("calibration", {}).get("temperature", 1.0))
        if not self.temperature > 0:
            raise ModelError(f"{self.entry.model_id}: temperature {self.temperature} must be positive")

    def _postprocess(self, outputs: np.ndarray) -> list[Eyewear]:
        probability = apply_temperature(outputs[:, 1], self.temperature)
        return [Eyewear(probability=float(p), worn=bool(p >= self.threshold)) for p in probability]
