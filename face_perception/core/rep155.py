"""ROS4HRI (REP-155) conventions as plain values: ids, normalized regions, expression names, joints.

No ROS here: ``face_perception.ros.hri`` turns these values into ``hri_msgs`` messages.

Ids are REP-155 short strings, the same for a track's whole life: a letter for the kind (``f``
face, ``b`` body) and the track id in lowercase base 36, at least 4 digits (face 1 is ``f0001``,
body 46656 is ``b100g``; ids past ``zzzz`` grow longer rather than wrap). They start with a letter,
so they are valid ROS topic name tokens (``/humans/faces/f0001/roi``); a node restart counts again
from 1, as our ``Face.id`` and ``Person.id`` do.
"""

from __future__ import annotations

import math
import re

import numpy as np

from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import Box

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_DIGITS = 4

# Our emotion labels (types.EMOTION_LABELS) -> hri_msgs/Expression constants.
EXPRESSIONS: dict[str, str] = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "scared",
    "happy": "happy",
    "sad": "sad",
    "surprise": "surprised",
    "neutral": "neutral",
}

# hri_msgs/SoftBiometrics gender constants.
GENDER_UNDEFINED, GENDER_FEMALE, GENDER_MALE = 0, 1, 2
GENDERS: dict[str, int] = {"female": GENDER_FEMALE, "male": GENDER_MALE}

# hri_msgs/Skeleton2D joints (OpenPose COCO order, 18) -> the COCO keypoint that fills it. NECK has
# no COCO keypoint: it is the middle of the two shoulders (score: the lower of theirs).
SKELETON_JOINTS: tuple[str, ...] = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
)
DERIVED_JOINTS: frozenset[str] = frozenset({"neck"})

# hri_msgs/FacialLandmarks indices (70 points, dlib/OpenPose) of our five landmarks
# (types.LANDMARK_NAMES: the eye on the image's left is the person's right eye).
FACIAL_LANDMARK_COUNT = 70
LANDMARK_INDICES: tuple[int, ...] = (
    68,  # RIGHT_PUPIL <- eye_image_left
    69,  # LEFT_PUPIL <- eye_image_right
    30,  # NOSE <- nose
    48,  # MOUTH_OUTER_RIGHT <- mouth_image_left
    54,  # MOUTH_OUTER_LEFT <- mouth_image_right
)

# age_confidence is 0.5 where the 68% interval (Face.age_uncertainty_years) is +-10 years.
AGE_CONFIDENCE_HALF_YEARS = 10.0


def _base36(number: int) -> str:
    if number < 1:
        raise ValueError(f"track ids start at 1, got {number}")
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
    return digits.rjust(ID_DIGITS, "0")


def face_id(track_id: int) -> str:
    """The REP-155 id of the face whose ``Face.id`` is ``track_id`` (1 -> ``f0001``)."""
    return "f" + _base36(track_id)


def body_id(track_id: int) -> str:
    """The REP-155 id of the body whose ``Person.id`` is ``track_id`` (1 -> ``b0001``)."""
    return "b" + _base36(track_id)


def person_id(name: str) -> str:
    """A REP-155 person id for a known person's name: ``p_`` and the name in lowercase letters, digits
    and underscores (``"Ada Lovelace"`` -> ``p_ada_lovelace``), a valid topic name token.

    Raises:
        ValueError: the name has no letter or digit.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        raise ValueError(f"a person's name needs a letter or digit, got {name!r}")
    return "p_" + slug


def normalized_region(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """``box`` (pixels) as (xmin, ymin, xmax, ymax) in [0, 1] of the image, clipped at its border."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")

    def clip(value: float) -> float:
        return min(1.0, max(0.0, value))

    return (
        clip(box.x_min / width),
        clip(box.y_min / height),
        clip(box.x_max / width),
        clip(box.y_max / height),
    )


def age_confidence(uncertainty_years: float | None) -> float:
    """``SoftBiometrics.age_confidence`` from the 68% interval's half-width; 0 when unknown."""
    if uncertainty_years is None or not math.isfinite(uncertainty_years):
        return 0.0
    return 1.0 / (1.0 + max(0.0, uncertainty_years) / AGE_CONFIDENCE_HALF_YEARS)


def skeleton_points(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 18 Skeleton2D joints as float32 [18, 3] (x, y normalized to [0, 1]; score) from COCO
    keypoints [17, 3] (x, y in pixels; score)."""
    if keypoints.shape != (len(KEYPOINT_NAMES), 3):
        raise ValueError(f"keypoints must have shape (17, 3), got {keypoints.shape}")
    by_name = {name: keypoints[index] for index, name in enumerate(KEYPOINT_NAMES)}
    left, right = by_name["left_shoulder"], by_name["right_shoulder"]
    by_name["neck"] = np.array([(left[0] + right[0]) / 2, (left[1] + right[1]) / 2, min(left[2], right[2])])
    points = np.array([by_name[joint] for joint in SKELETON_JOINTS], dtype=np.float32)
    points[:, 0] = np.clip(points[:, 0] / width, 0.0, 1.0)
    points[:, 1] = np.clip(points[:, 1] / height, 0.0, 1.0)
    points[:, 2] = np.clip(points[:, 2], 0.0, 1.0)
    return points


def facial_landmark_points(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 70 FacialLandmarks points as float32 [70, 3] (x, y normalized; confidence): our five filled
    with confidence 1, the other 65 zero with confidence 0."""
    points = np.zeros((FACIAL_LANDMARK_COUNT, 3), dtype=np.float32)
    for (x, y), index in zip(landmarks, LANDMARK_INDICES, strict=True):
        points[index] = (min(1.0, max(0.0, x / width)), min(1.0, max(0.0, y / height)), 1.0)
    return points
