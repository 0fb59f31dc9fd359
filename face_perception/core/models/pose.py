"""MoveNet SinglePose (Lightning) on person crops: 17 COCO keypoints per person, in image pixels.

Each person is cut out by one affine warp (a square around the box, optionally turned by a
multiple of 90 degrees so that a lying person stands upright in the crop); keypoints are
mapped back through the inverse warp.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from face_perception.core.errors import ModelError
from face_perception.core.runtime import ModelEntry, ModelStore, check_session_io
from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import Box


@dataclass(frozen=True)
class PoseCrop:
    """Where to look for one person: a box, the padding around it, and a turn of the crop."""

    box: Box
    rotation_deg: int = 0  # 0, 90, 180 or 270: the crop is the image turned counter-clockwise by this much
    padding: float = 0.2  # extra side length, as a fraction of the box's longer side


def crop_transform(crop: PoseCrop, size: int) -> np.ndarray:
    """The 2x3 affine matrix that maps image pixels to crop pixels."""
    if crop.rotation_deg % 90 != 0:
        raise ModelError(f"rotation_deg must be a multiple of 90, got {crop.rotation_deg}")
    cx = (crop.box.x_min + crop.box.x_max) / 2.0
    cy = (crop.box.y_min + crop.box.y_max) / 2.0
    side = max(crop.box.width, crop.box.height, 1.0) * (1.0 + crop.padding)
    scale = size / side
    angle = np.deg2rad(crop.rotation_deg)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    # Counter-clockwise turn of the image in y-down pixels: x' = cos*x + sin*y, y' = -sin*x + cos*y.
    linear = np.array([[cos, sin], [-sin, cos]], dtype=np.float64)
    offset = np.array([size / 2.0, size / 2.0]) - linear @ np.array([cx, cy])
    return np.hstack([linear, offset[:, None]])


class MoveNetPose:
    """Keypoints of one person per crop; the graph takes one crop per call, so crops run one after another."""

    def __init__(self, entry: ModelEntry, session: ort.InferenceSession) -> None:
        if entry.task != "pose":
            raise ModelError(f"model {entry.model_id!r} is a {entry.task} model, not pose")
        if entry.labels != KEYPOINT_NAMES:
            raise ModelError(f"{entry.model_id}: keypoint labels {entry.labels} are not {KEYPOINT_NAMES}")
        check_session_io(session, entry.model_id, inputs=1, outputs=("keypoints",))
        self.size = int(entry.raw["input"]["size"])
        model_input = session.get_inputs()[0]
        if list(model_input.shape[1:]) != [self.size, self.size, 3] or model_input.type != "tensor(int32)":
            raise ModelError(
                f"model {entry.model_id!r} takes {model_input.type} {model_input.shape}, "
                f"manifest declares int32 [1, {self.size}, {self.size}, 3]"
            )
        self.entry = entry
        self._session = session
        self._input_name = model_input.name

    @classmethod
    def from_store(cls, store: ModelStore, model_id: str = "movenet_lightning") -> MoveNetPose:
        return cls(store.entry(model_id), store.session(model_id))

    def predict(self, image_bgr: np.ndarray, crops: list[PoseCrop]) -> np.ndarray:
        """Keypoints float32 [N, 17, 3] (x, y in image pixels, score 0..1), one row per crop."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.size == 0:
            raise ModelError(f"expected a BGR image [H, W, 3], got shape {image_bgr.shape}")
        result = np.zeros((len(crops), len(KEYPOINT_NAMES), 3), dtype=np.float32)
        for i, crop in enumerate(crops):
            matrix = crop_transform(crop, self.size)
            tensor = self._preprocess(image_bgr, matrix)
            raw = self._session.run(None, {self._input_name: tensor})[0].reshape(len(KEYPOINT_NAMES), 3)
            result[i] = self._postprocess(raw, matrix)
        return result

    def _preprocess(self, image_bgr: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        chip = cv2.warpAffine(
            image_bgr, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        return np.ascontiguousarray(chip[None, :, :, ::-1], dtype=np.int32)

    def _postprocess(self, raw: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Network output rows (y, x, score; 0..1 of the crop) to image pixels (x, y, score)."""
        crop_xy = raw[:, [1, 0]].astype(np.float64) * self.size
        inverse = cv2.invertAffineTransform(matrix)
        image_xy = crop_xy @ inverse[:, :2].T + inverse[:, 2]
        return np.hstack([image_xy, raw[:, 2:3]]).astype(np.float32)
