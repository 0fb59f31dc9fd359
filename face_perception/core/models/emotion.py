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
        # A static int8 model ends in a quantized softmax: steps of 1/255 whose row sums to 1 within a
        # few steps. Dividing by the sum makes every row a distribution again (float rows: no change).
        outputs = outputs / np.maximum(outputs.sum(axis=1, keepdims=True), 1e-12)
        return [Classification.from_probabilities(EMOTION_LABELS, row) for row in outputs]
