"""Gender classifier (female / male) on aligned RGB face chips, with abstention."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from face_perception.core.config import GenderConfig, HeadConfig
from face_perception.core.models.base import ChipModel
from face_perception.core.runtime import ModelStore
from face_perception.core.types import GENDER_LABELS, FaceResult, GenderAbstention, GenderResult


class GenderClassifier(ChipModel):
    """Gender head: probability of each label; says nothing ("") where its rule abstains.

    The score rule is applied per chip; the age rule once the age head has run (``complete``).
    """

    task = "gender"
    result_field = "gender"
    labels = GENDER_LABELS

    def __init__(self, *args, abstention: GenderAbstention | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.abstention = abstention or GenderAbstention()

    @classmethod
    def from_config(cls, store: ModelStore, config: HeadConfig) -> GenderClassifier:
        abstention = config.abstention if isinstance(config, GenderConfig) else None
        return cls(store.entry(config.model), store.session(config.model), abstention=abstention)

    def _postprocess(self, outputs: np.ndarray) -> list[GenderResult]:
        male = GENDER_LABELS.index("male")
        return [GenderResult.decide(float(row[male]), None, self.abstention) for row in outputs]

    def complete(self, faces: list[FaceResult]) -> list[FaceResult]:
        """Apply the age rule with each face's apparent age (faces without an age keep their answer)."""
        return [
            face
            if face.gender is None or face.age is None
            else replace(face, gender=face.gender.redecide(face.gender.scores["male"], face.age))
            for face in faces
        ]
