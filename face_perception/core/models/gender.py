"""Gender classifier (female / male) on aligned RGB face chips."""

from __future__ import annotations

import numpy as np

from face_perception.core.models.base import ChipModel
from face_perception.core.types import GENDER_LABELS, Classification


class GenderClassifier(ChipModel):
    """Gender head: probability of each label in GENDER_LABELS order."""

    task = "gender"
    result_field = "gender"
    labels = GENDER_LABELS

    def _postprocess(self, outputs: np.ndarray) -> list[Classification]:
        return [Classification.from_probabilities(GENDER_LABELS, row) for row in outputs]
