"""NanoDet-m object detector (COCO 80 classes): boxes, labels and scores in image pixels.

Besides its boxes, the detector hands out what its heads see (``RegionFeatures``): the feature maps
its classification heads read at strides 16 and 32, pooled over any box. The posture classifier
uses them to tell a whole person from a part of one or a thing, at no extra network cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import onnxruntime as ort

from face_perception.core.errors import ModelError
from face_perception.core.nms import nms
from face_perception.core.runtime import ModelEntry, ModelStore, check_session_io
from face_perception.core.scene.types import ObjectDetection
from face_perception.core.types import Box

_BOX_OUTPUTS = ("cls_8", "cls_16", "cls_32", "reg_8", "reg_16", "reg_32")
_FEATURE_OUTPUTS = ("feat_16", "feat_32")  # the head towers' last features, before the class and box layers
_OUTPUTS = _BOX_OUTPUTS + _FEATURE_OUTPUTS
FEATURE_STRIDES = (16, 32)
FEATURE_CHANNELS = 128
NUM_REGION_FEATURES = 2 * FEATURE_CHANNELS * len(FEATURE_STRIDES)  # mean and max per channel and stride
_CLASS_OFFSET_PX = 100_000.0  # separates classes for one class-aware NMS call


@lru_cache(maxsize=4)
def cell_centers(size: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Centers [A, 2] (x, y, input pixels) of every output cell, and each cell's stride [A], in output order."""
    centers, cell_strides = [], []
    for stride in strides:
        cells = size // stride
        rows, cols = np.divmod(np.arange(cells * cells), cells)
        centers.append(np.stack([(cols + 0.5) * stride, (rows + 0.5) * stride], axis=1))
        cell_strides.append(np.full(cells * cells, stride, dtype=np.float32))
    result = np.vstack(centers).astype(np.float32), np.concatenate(cell_strides)
    for array in result:
        array.setflags(write=False)
    return result


def decode_distances(reg: np.ndarray, bins: int) -> np.ndarray:
    """Expected distance (in strides) to the left, top, right and bottom edges from [A, 4 * bins] logits."""
    logits = reg.reshape(len(reg), 4, bins)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return weights @ np.arange(bins, dtype=np.float32)


@dataclass(frozen=True)
class RegionFeatures:
    """The detector's feature maps of one image, to pool over boxes of that image."""

    maps: tuple[np.ndarray, ...]  # one [C, H, W] per FEATURE_STRIDES
    scale: float  # image pixels to input pixels

    def pool(self, boxes: np.ndarray) -> np.ndarray:
        """float32 [N, NUM_REGION_FEATURES] for boxes [N, 4] (x_min, y_min, x_max, y_max, image pixels).

        Per stride, the mean and then the max of every channel over the cells the box covers (at
        least one cell; boxes past the border are clipped to it).
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        pooled = np.zeros((len(boxes), NUM_REGION_FEATURES), dtype=np.float32)
        for row, box in enumerate(boxes):
            parts = []
            for stride, fmap in zip(FEATURE_STRIDES, self.maps, strict=True):
                rows, cols = fmap.shape[1:]
                cells = box * self.scale / stride
                x0 = int(np.clip(np.floor(cells[0]), 0, cols - 1))
                y0 = int(np.clip(np.floor(cells[1]), 0, rows - 1))
                x1 = int(np.clip(np.ceil(cells[2]), x0 + 1, cols))
                y1 = int(np.clip(np.ceil(cells[3]), y0 + 1, rows))
                region = fmap[:, y0:y1, x0:x1]
                parts += [region.mean(axis=(1, 2)), region.max(axis=(1, 2))]
            pooled[row] = np.concatenate(parts)
        return pooled


class NanoDetDetector:
    """Finds COCO objects in a BGR image.

    The image is letterboxed: scaled to fit the network's square input with its aspect kept, at the
    top-left corner, the rest filled with the mean colour. On COCO-mini this finds more people than
    stretching it (see the scene section of models/README.md).
    """

    def __init__(self, entry: ModelEntry, session: ort.InferenceSession) -> None:
        if entry.task != "objects":
            raise ModelError(f"model {entry.model_id!r} is a {entry.task} model, not objects")
        check_session_io(session, entry.model_id, inputs=1, outputs=_OUTPUTS)
        spec = entry.raw["input"]
        self.size = int(spec["size"])
        self.strides = tuple(int(s) for s in spec["strides"])
        self.bins = int(spec["reg_bins"])
        self.labels = entry.labels
        if len(self.labels) != 80 or self.labels[0] != "person":
            raise ModelError(f"{entry.model_id}: expected the 80 COCO labels starting with 'person'")
        shape = session.get_inputs()[0].shape
        if list(shape[1:]) != [3, self.size, self.size]:
            raise ModelError(f"model {entry.model_id!r} takes {shape}, manifest declares size {self.size} (NCHW)")
        self.entry = entry
        self._mean = np.asarray(spec["mean"], dtype=np.float32)
        self._inv_std = 1.0 / np.asarray(spec["std"], dtype=np.float32)
        self._session = session
        self._input_name = session.get_inputs()[0].name

    @classmethod
    def from_store(cls, store: ModelStore, model_id: str = "nanodet_m") -> NanoDetDetector:
        return cls(store.entry(model_id), store.session(model_id))

    def detect(
        self,
        image_bgr: np.ndarray,
        score_threshold: float = 0.3,
        nms_iou_threshold: float = 0.6,
        max_detections: int = 100,
    ) -> list[ObjectDetection]:
        """Objects of one uint8 BGR image [H, W, 3], highest score first."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.size == 0:
            raise ModelError(f"expected a BGR image [H, W, 3], got shape {image_bgr.shape}")
        tensor, scale = self._preprocess(image_bgr)
        outputs = self._session.run(list(_BOX_OUTPUTS), {self._input_name: tensor})
        return self._postprocess(outputs, scale, score_threshold, nms_iou_threshold, max_detections)

    def detect_with_features(
        self,
        image_bgr: np.ndarray,
        score_threshold: float = 0.3,
        nms_iou_threshold: float = 0.6,
        max_detections: int = 100,
    ) -> tuple[list[ObjectDetection], RegionFeatures]:
        """``detect``, and the feature maps of the same network run, to pool over boxes of this image."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.size == 0:
            raise ModelError(f"expected a BGR image [H, W, 3], got shape {image_bgr.shape}")
        tensor, scale = self._preprocess(image_bgr)
        outputs = self._session.run(list(_OUTPUTS), {self._input_name: tensor})
        boxes, features = outputs[: len(_BOX_OUTPUTS)], outputs[len(_BOX_OUTPUTS) :]
        found = self._postprocess(boxes, scale, score_threshold, nms_iou_threshold, max_detections)
        return found, RegionFeatures(tuple(o[0] for o in features), scale)

    def _preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """The letterboxed input tensor, and the scale from image to input pixels."""
        height, width = image_bgr.shape[:2]
        scale = self.size / max(height, width)
        size = (max(1, min(self.size, round(width * scale))), max(1, min(self.size, round(height * scale))))
        canvas = np.zeros((self.size, self.size, 3), dtype=np.float32)  # the mean colour once normalized
        resized = cv2.resize(image_bgr, size, interpolation=cv2.INTER_LINEAR)
        canvas[: size[1], : size[0]] = (resized.astype(np.float32) - self._mean) * self._inv_std
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]), scale

    def _postprocess(
        self,
        outputs: list[np.ndarray],
        scale: float,
        score_threshold: float,
        nms_iou_threshold: float,
        max_detections: int,
    ) -> list[ObjectDetection]:
        levels = len(self.strides)
        scores = np.concatenate([o[0] for o in outputs[:levels]])  # [A, 80], sigmoid already applied
        cells, classes = np.nonzero(scores >= score_threshold)
        if cells.size == 0:
            return []
        reg = np.concatenate([o[0] for o in outputs[levels:]])
        centers, strides = cell_centers(self.size, self.strides)
        unique_cells, inverse = np.unique(cells, return_inverse=True)
        distances = decode_distances(reg[unique_cells], self.bins) * strides[unique_cells, None]
        cell_boxes = np.hstack([centers[unique_cells] - distances[:, :2], centers[unique_cells] + distances[:, 2:]])
        boxes = cell_boxes[inverse] / scale
        picked = scores[cells, classes]
        keep = nms(boxes + classes[:, None] * _CLASS_OFFSET_PX, picked, nms_iou_threshold, max_detections)
        return [
            ObjectDetection(
                label=self.labels[classes[i]],
                score=float(picked[i]),
                box=Box(*(float(v) for v in boxes[i])),
            )
            for i in keep
        ]
