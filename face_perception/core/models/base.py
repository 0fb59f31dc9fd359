"""What every face-chip model shares: spec checks, batching, one ONNX call per batch."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort

from face_perception.core.config import HeadConfig
from face_perception.core.errors import ModelError
from face_perception.core.preprocess import chips_to_tensor
from face_perception.core.runtime import InputSpec, ModelEntry, ModelStore, check_session_io
from face_perception.core.types import FaceResult


class ChipModel:
    """A network that takes aligned face chips [N, C, size, size] and returns one row per chip.

    Subclasses set ``task`` (the manifest task they accept), ``result_field`` (the FaceResult
    field they fill) and, for classifiers, ``labels``; and implement ``_postprocess``.
    """

    task: ClassVar[str]
    result_field: ClassVar[str]
    labels: ClassVar[tuple[str, ...] | None] = None  # the manifest's labels must equal these

    def __init__(self, entry: ModelEntry, session: ort.InferenceSession) -> None:
        if entry.task != self.task:
            raise ModelError(f"model {entry.model_id!r} is a {entry.task} model, not {self.task}")
        if self.labels is not None and entry.labels != self.labels:
            raise ModelError(f"{entry.model_id}: labels {entry.labels} are not {self.labels}")
        check_session_io(session, entry.model_id, inputs=1)
        self.entry = entry
        self.spec: InputSpec = entry.input_spec
        self._session = session
        model_input = session.get_inputs()[0]
        channels = 1 if self.spec.color == "gray" else 3
        expected = [channels, self.spec.size, self.spec.size]
        if list(model_input.shape[1:]) != expected:
            raise ModelError(f"model {entry.model_id!r} takes {model_input.shape}, manifest declares [N, {expected}]")
        self._input_name = model_input.name

    @classmethod
    def from_store(cls, store: ModelStore, model_id: str) -> ChipModel:
        return cls(store.entry(model_id), store.session(model_id))

    @classmethod
    def from_config(cls, store: ModelStore, config: HeadConfig) -> ChipModel:
        """The head's model as its configuration asks (heads with options override this)."""
        return cls.from_store(store, config.model)

    def result_fields(self, prediction: Any) -> dict[str, Any]:
        """The FaceResult fields one prediction fills."""
        return {self.result_field: prediction}

    def complete(self, faces: list[FaceResult]) -> list[FaceResult]:
        """Adjust this head's results once every head has run (default: unchanged)."""
        return faces

    def predict(self, chips_bgr: np.ndarray) -> list[Any]:
        """One result per uint8 BGR chip [N, size, size, 3], all chips in one network call."""
        if len(chips_bgr) == 0:
            return []
        outputs = self._session.run(None, {self._input_name: chips_to_tensor(chips_bgr, self.spec)})[0]
        if outputs.shape[0] != len(chips_bgr):
            raise ModelError(f"{self.entry.model_id}: {outputs.shape[0]} rows for {len(chips_bgr)} chips")
        return self._postprocess(np.asarray(outputs, dtype=np.float32))

    def _postprocess(self, outputs: np.ndarray) -> list[Any]:
        raise NotImplementedError
