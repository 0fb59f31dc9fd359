"""The face pipeline: detect, align, run every enabled head in one batch per head."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import as_bgr
from face_perception.core.models.base import ChipModel
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.preprocess import align_faces, resize_crops
from face_perception.core.registry import HEAD_CLASSES
from face_perception.core.runtime import ModelStore
from face_perception.core.types import Box, Detection, FaceResult, FrameResult


class FacePipeline:
    """Turns a BGR image into typed face results. Build once; call ``process`` per frame."""

    def __init__(self, config: PipelineConfig, store: ModelStore | None = None) -> None:
        self.config = config.validate()
        self.store = store or ModelStore(config.models_dir or None, config.num_threads)
        self.detector = RetinaFaceDetector.from_store(config.detector, self.store)
        self.heads: dict[str, ChipModel] = {
            name: HEAD_CLASSES[name].from_store(self.store, head.model)
            for name, head in config.heads.items()
            if head.enabled
        }

    def process(self, image: np.ndarray) -> FrameResult:
        """Detect and classify every face of one image (gray, BGR or BGRA uint8).

        Raises:
            ImageError: the image is empty, too large or of an unsupported type.
        """
        start = time.perf_counter()
        image_bgr = as_bgr(image, self.config.max_image_side_px)
        detections = self.detector.detect(image_bgr)
        faces = self._classify(
            detections, lambda size, padding: align_faces(image_bgr, [d.landmarks for d in detections], size, padding)
        )
        height, width = image_bgr.shape[:2]
        return FrameResult(faces, width, height, time.perf_counter() - start)

    def process_crops(self, crops: list[np.ndarray]) -> list[FaceResult]:
        """Classify images that are each one face crop already (detection skipped).

        Each crop becomes a face whose box is the whole crop, with score 1 and
        unknown (NaN) landmarks; the crop is resized to each head's input.
        """
        crops_bgr = [as_bgr(crop, self.config.max_image_side_px) for crop in crops]
        detections = [
            Detection(
                box=Box(0.0, 0.0, float(c.shape[1]), float(c.shape[0])),
                score=1.0,
                landmarks=np.full((5, 2), np.nan, dtype=np.float32),
            )
            for c in crops_bgr
        ]
        return self._classify(detections, lambda size, _padding: resize_crops(crops_bgr, size))

    def _classify(self, detections: list[Detection], make_chips) -> list[FaceResult]:
        faces = [FaceResult(detection=d) for d in detections]
        if not faces:
            return faces
        chips_by_spec: dict[tuple[int, float], np.ndarray] = {}
        for head in self.heads.values():
            key = (head.spec.size, head.spec.crop_padding)
            if key not in chips_by_spec:
                chips_by_spec[key] = make_chips(*key)
            predictions = head.predict(chips_by_spec[key])
            faces = [
                dataclasses.replace(face, **{head.result_field: prediction})
                for face, prediction in zip(faces, predictions, strict=True)
            ]
        return faces
