"""Eyewear classifier: probability that glasses or sunglasses are worn over the eyes."""

from __future__ import annotations

import numpy as np

from face_perception.core.models.base import ChipModel
from face_perception.core.types import Eyewear

EYEWEAR_LABELS = ("none", "eyewear")


class EyewearClassifier(ChipModel):
    """Eyeglasses head: P(eyewear) per face, and whether it passes the model's threshold."""

    task = "eyewear"
    result_field = "eyewear"
    labels = EYEWEAR_LABELS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.threshold = float(self.entry.raw.get("threshold", 0.5))

    def _postprocess(self, outputs: np.ndarray) -> list[Eyewear]:
        return [Eyewear(probability=float(p), worn=bool(p >= self.threshold)) for p in outputs[:, 1]]
