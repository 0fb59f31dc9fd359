"""Face embedding network: an aligned chip becomes a vector; one person's vectors lie close."""

from __future__ import annotations

import numpy as np

from face_perception.core.errors import ModelError
from face_perception.core.models.base import ChipModel


class FaceEmbedder(ChipModel):
    """Identity head: one embedding row per chip, as the network gives it (dlib's is not normalised).

    The manifest entry gives ``embedding_size`` and the published ``threshold`` (Euclidean distance
    below which two faces are the same person).
    """

    task = "identity"
    result_field = "identity"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.embedding_size = int(self.entry.raw["embedding_size"])
        self.published_threshold = float(self.entry.raw["threshold"])

    def embed(self, chips_bgr: np.ndarray) -> np.ndarray:
        """Embeddings float32 [N, embedding_size] of uint8 BGR chips [N, size, size, 3], one network call."""
        if len(chips_bgr) == 0:
            return np.empty((0, self.embedding_size), np.float32)
        return np.stack(self.predict(chips_bgr))

    def _postprocess(self, outputs: np.ndarray) -> list[np.ndarray]:
        if outputs.ndim != 2 or outputs.shape[1] != self.embedding_size:
            raise ModelError(f"{self.entry.model_id}: output {outputs.shape}, expected [N, {self.embedding_size}]")
        return list(outputs)
