"""Facial expression classifier over the seven FER2013 classes."""

from __future__ import annotations

import numpy as np

from face_perception.core.models.base import ChipModel
from face_perception.core.types import EMOTION_LABELS, Classification


class EmotionClassifier(ChipModel):
    """Emotion head: softmax probabilities in EMOTION_LABELS order."""

    task = "emotion"
    result_field = "emotion"
    labels = EMOTION_LABELS

    def _postprocess(self, outputs: np.ndarray) -> list[Classification]:
        return [Classification.from_probabilities(EMOTION_LABELS, row) for row in outputs]
