"""Which model class serves which head. A new head is one entry here and one in config."""

from __future__ import annotations

from face_perception.core.models.age import AgeEstimator
from face_perception.core.models.base import ChipModel
from face_perception.core.models.emotion import EmotionClassifier
from face_perception.core.models.eyewear import EyewearClassifier
from face_perception.core.models.gender import GenderClassifier

HEAD_CLASSES: dict[str, type[ChipModel]] = {
    "emotion": EmotionClassifier,
    "gender": GenderClassifier,
    "age": AgeEstimator,
    "eyeglasses": EyewearClassifier,
}
