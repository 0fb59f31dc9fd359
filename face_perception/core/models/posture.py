"""Posture classifier: is a person box one whole person, and is that person standing, sitting or lying.

A small network trained by this project (``face-perception train posture``) on the person
candidates of the object detector: its input is one feature vector per candidate, made here from
the pose model's 17 keypoints, the box, the detector's score and what the detector's heads see in
the box (``RegionFeatures``; ``posture_features``); its output
the probabilities of ``none`` (not one whole person: a part of one, two people, a thing), then
``standing``, ``sitting`` and ``lying``, in the order of the manifest's labels. Lying on the floor
or on a bed or couch is told apart afterwards, from the furniture under the person.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from face_perception.core.errors import ModelError
from face_perception.core.models.objects import NUM_REGION_FEATURES
from face_perception.core.runtime import ModelEntry, ModelStore, check_session_io
from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import Box

POSTURE_CLASSES: tuple[str, ...] = ("none", "standing", "sitting", "lying")
NUM_CONTEXT = 6
NUM_POSE_FEATURES = 17 * 3 + 5 + NUM_CONTEXT  # keypoints, box and score, context
NUM_FEATURES = NUM_POSE_FEATURES + NUM_REGION_FEATURES


def candidate_context(boxes: np.ndarray, scores: np.ndarray, index: int, height: int, width: int) -> np.ndarray:
    """How one candidate sits among the others of its image (float32 [NUM_CONTEXT]).

    ``boxes`` [N, 4] and ``scores`` [N], most confident first. Its score over the best one's; its
    largest IoU with a more confident candidate, the largest share of its box inside one, and of
    one inside it (a part of a person, or a box around a part); its box's log area over the
    image's; its bottom edge over the image's height.
    """
    box = boxes[index]
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1.0)
    iou = inside = contains = 0.0
    if index > 0:
        higher = boxes[:index]
        x1, y1 = np.maximum(box[0], higher[:, 0]), np.maximum(box[1], higher[:, 1])
        x2, y2 = np.minimum(box[2], higher[:, 2]), np.minimum(box[3], higher[:, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        areas = np.maximum((higher[:, 2] - higher[:, 0]) * (higher[:, 3] - higher[:, 1]), 1.0)
        iou = float((inter / (area + areas - inter)).max())
        inside, contains = float((inter / area).max()), float((inter / areas).max())
    return np.array(
        [
            scores[index] / max(float(scores[0]), 1e-6),
            iou,
            inside,
            contains,
            np.log(area / max(height * width, 1)),
            box[3] / max(height, 1),
        ],
        dtype=np.float32,
    )


def posture_features(
    keypoints: np.ndarray,
    box: Box,
    detector_score: float,
    turned_pose: bool,
    context: np.ndarray,
    region: np.ndarray,
) -> np.ndarray:
    """One candidate's feature vector (float32 [NUM_FEATURES]).

    Keypoints (x, y) relative to the box centre in units of the box's longer side, their scores,
    the box's log aspect (width / height), the detector's score and its log, the mean keypoint
    score, whether the pose came from a crop turned by 90 degrees, ``candidate_context``, and the
    detector's features pooled over the box (``region``, ``RegionFeatures.pool``).
    """
    if keypoints.shape != (len(KEYPOINT_NAMES), 3):
        raise ValueError(f"keypoints must have shape (17, 3), got {keypoints.shape}")
    side = max(box.width, box.height, 1.0)
    centre = np.array([(box.x_min + box.x_max) / 2.0, (box.y_min + box.y_max) / 2.0])
    relative = (keypoints[:, :2] - centre) / side
    score = float(np.clip(detector_score, 1e-4, 1.0))
    extra = [
        np.log(max(box.width, 1.0) / max(box.height, 1.0)),
        score,
        np.log(score),
        float(keypoints[:, 2].mean()),
        1.0 if turned_pose else 0.0,
    ]
    if context.shape != (NUM_CONTEXT,):
        raise ValueError(f"context must have shape ({NUM_CONTEXT},), got {context.shape}")
    if region.shape != (NUM_REGION_FEATURES,):
        raise ValueError(f"region must have shape ({NUM_REGION_FEATURES},), got {region.shape}")
    return np.concatenate([relative.ravel(), keypoints[:, 2], extra, context, region]).astype(np.float32)


class PostureClassifier:
    """Probabilities of ``none``, ``standing``, ``sitting``, ``lying`` for a batch of candidates."""

    def __init__(self, entry: ModelEntry, session: ort.InferenceSession) -> None:
        if entry.task != "posture":
            raise ModelError(f"model {entry.model_id!r} is a {entry.task} model, not posture")
        if tuple(entry.labels) != POSTURE_CLASSES:
            raise ModelError(f"{entry.model_id}: labels {entry.labels} are not {POSTURE_CLASSES}")
        check_session_io(session, entry.model_id, inputs=1, outputs=("probabilities",))
        width = session.get_inputs()[0].shape[-1]
        if width != NUM_FEATURES:
            raise ModelError(f"model {entry.model_id!r} takes {width} features, this version makes {NUM_FEATURES}")
        self.entry = entry
        self.labels = POSTURE_CLASSES
        self._session = session
        self._input_name = session.get_inputs()[0].name

    @classmethod
    def from_store(cls, store: ModelStore, model_id: str = "posture_mlp") -> PostureClassifier:
        return cls(store.entry(model_id), store.session(model_id))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """float32 [N, NUM_FEATURES] -> probabilities [N, 4] in the order of POSTURE_CLASSES."""
        if features.ndim != 2 or features.shape[1] != NUM_FEATURES:
            raise ModelError(f"expected features [N, {NUM_FEATURES}], got {features.shape}")
        if len(features) == 0:
            return np.zeros((0, len(POSTURE_CLASSES)), dtype=np.float32)
        (probabilities,) = self._session.run(["probabilities"], {self._input_name: features.astype(np.float32)})
        return probabilities
