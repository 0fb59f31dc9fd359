"""Posture (standing, sitting, lying, unknown) from 17 COCO keypoints and the person's box.

Body geometry in image coordinates (y down):
- the torso is the line from the mid-hip to the mid-shoulder; its angle from the image's
  vertical says whether the body is upright (small angle) or lying (near 90 degrees);
- for an upright torso, the thighs (hip to knee) tell sitting (thighs near horizontal, or
  knees not below the hips) from standing (thighs near vertical, knees and ankles below);
- the box's aspect (wider than tall) backs up "lying" when the torso angle is in between;
- a head below the hips (torso beyond 90 degrees) is lying too: nobody upright looks like that.
Keypoints below ``min_keypoint_score`` are ignored; without a confident torso the answer is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import Box

_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
_SHOULDERS = (_INDEX["left_shoulder"], _INDEX["right_shoulder"])
_HIPS = (_INDEX["left_hip"], _INDEX["right_hip"])
_KNEES = (_INDEX["left_knee"], _INDEX["right_knee"])
_ANKLES = (_INDEX["left_ankle"], _INDEX["right_ankle"])
_HEAD = tuple(_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))


@dataclass(frozen=True)
class PostureThresholds:
    """Angles in degrees from the image's vertical; scores 0..1."""

    min_keypoint_score: float = 0.3
    upright_max_deg: float = 35.0  # torso within this of vertical: upright
    lying_min_deg: float = 60.0  # torso beyond this: lying
    thigh_sitting_min_deg: float = 50.0  # upright torso with thighs beyond this: sitting
    lying_box_aspect: float = 1.3  # in-between torso in a box this much wider than tall: lying


@dataclass(frozen=True)
class Posture:
    """The posture label (one of POSTURES), a score 0..1, and the torso angle it came from (NaN if none)."""

    label: str
    score: float
    torso_angle_deg: float


def _mean_point(keypoints: np.ndarray, indices: tuple[int, ...], min_score: float) -> tuple[np.ndarray, float] | None:
    """Mean (x, y) of the confident keypoints among ``indices`` and their mean score, or None."""
    rows = keypoints[list(indices)]
    confident = rows[rows[:, 2] >= min_score]
    if len(confident) == 0:
        return None
    return confident[:, :2].mean(axis=0), float(confident[:, 2].mean())


def _angle_from_vertical(upper: np.ndarray, lower: np.ndarray) -> float:
    """Angle in degrees (0..180) between the vector lower->upper and the image's up direction."""
    dx, dy = upper - lower
    return float(np.degrees(np.arctan2(abs(dx), -dy)))


def _ramp(value: float, start: float, end: float) -> float:
    """0 at ``start``, 1 at ``end``, clipped (either direction)."""
    return float(np.clip((value - start) / (end - start), 0.0, 1.0))


def classify_posture(keypoints: np.ndarray, box: Box, thresholds: PostureThresholds | None = None) -> Posture:
    """Posture of one person from keypoints float32 [17, 3] (x, y px, score) and the person's box."""
    t = thresholds or PostureThresholds()
    if keypoints.shape != (len(KEYPOINT_NAMES), 3):
        raise ValueError(f"keypoints must have shape (17, 3), got {keypoints.shape}")
    shoulders = _mean_point(keypoints, _SHOULDERS, t.min_keypoint_score)
    hips = _mean_point(keypoints, _HIPS, t.min_keypoint_score)
    if shoulders is None or hips is None:
        return Posture("unknown", 0.0, float("nan"))
    (shoulder_xy, shoulder_score), (hip_xy, hip_score) = shoulders, hips
    torso_length = float(np.hypot(*(shoulder_xy - hip_xy)))
    if torso_length < 0.1 * max(box.width, box.height, 1.0):
        return Posture("unknown", 0.0, float("nan"))  # shoulders on the hips: a view along the body
    torso = _angle_from_vertical(shoulder_xy, hip_xy)
    confidence = min(shoulder_score, hip_score)
    aspect = box.width / max(box.height, 1e-6)

    if torso >= t.lying_min_deg:  # horizontal, or head below the hips (seen from the head's side)
        margin = _ramp(torso, t.lying_min_deg - 10.0, 90.0)
        return Posture("lying", confidence * (0.5 + 0.5 * margin), torso)
    if torso > t.upright_max_deg and torso < t.lying_min_deg:
        if aspect >= t.lying_box_aspect:
            return Posture("lying", confidence * 0.5, torso)
        return Posture("unknown", 0.0, torso)

    knees = _mean_point(keypoints, _KNEES, t.min_keypoint_score)
    if knees is None:
        return Posture("unknown", 0.0, torso)  # upright, but the legs are not seen
    knee_xy, knee_score = knees
    thigh = _angle_from_vertical(hip_xy, knee_xy)  # hip above knee: 0 when the thigh hangs straight down
    thigh_drop = (knee_xy[1] - hip_xy[1]) / torso_length  # how far the knees sit below the hips, in torsos
    leg_confidence = min(confidence, knee_score)
    if thigh >= t.thigh_sitting_min_deg or thigh_drop < 0.35:
        bent = _ramp(thigh, t.thigh_sitting_min_deg - 10.0, 90.0)
        return Posture("sitting", leg_confidence * (0.5 + 0.5 * bent), torso)
    ankles = _mean_point(keypoints, _ANKLES, t.min_keypoint_score)
    straightness = _ramp(t.thigh_sitting_min_deg - thigh, 0.0, t.thigh_sitting_min_deg - 15.0)
    if ankles is not None and ankles[0][1] > knee_xy[1]:
        return Posture("standing", min(leg_confidence, ankles[1]) * (0.5 + 0.5 * straightness), torso)
    return Posture("standing", leg_confidence * 0.5 * (0.5 + 0.5 * straightness), torso)
