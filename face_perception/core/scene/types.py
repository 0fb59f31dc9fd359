"""Typed results of scene analysis, shared by the models, the analyzer, the alerts and their users."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from face_perception.core.types import Box, FaceResult

# COCO's 17 person keypoints, in the order every pose array uses.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
POSTURES: tuple[str, ...] = ("standing", "sitting", "lying", "unknown")
ALERT_TYPES: tuple[str, ...] = (
    "fall",
    "lying_on_floor",
    "distress",
    "motionless",
    "caption",
    "holding_dangerous_object",
)


@dataclass(frozen=True)
class ObjectDetection:
    """One object of the COCO-80 classes found by the object detector (people included)."""

    label: str
    score: float
    box: Box


@dataclass(frozen=True)
class PersonObservation:
    """A person found in one image: box, pose and posture, before faces and tracking."""

    box: Box
    score: float
    keypoints: np.ndarray = field(repr=False)  # float32 [17, 3]: x, y (image px), score; order KEYPOINT_NAMES
    posture: str = "unknown"  # one of POSTURES
    posture_score: float = 0.0

    def __post_init__(self) -> None:
        if self.keypoints.shape != (17, 3):
            raise ValueError(f"keypoints must have shape (17, 3), got {self.keypoints.shape}")
        if self.posture not in POSTURES:
            raise ValueError(f"posture must be one of {POSTURES}, got {self.posture!r}")


@dataclass(frozen=True)
class Person:
    """A person of the scene: the observation, its face (if seen), and its track."""

    observation: PersonObservation
    face: FaceResult | None = None
    face_id: int = 0  # the face node's Face.id when matched, 0 otherwise
    track_id: int = 0  # person track id (0 on a single image without tracking)
    track_age_s: float = 0.0  # seconds (header time) since the track was first seen
    support: str = ""  # what a lying or sitting person is on: "floor", "bed", "couch", "chair", ... or ""


@dataclass(frozen=True)
class Alert:
    """Something wrong, raised once, updated while it lasts, cleared when it ends."""

    alert_id: int  # unique per run; the same while the alert lasts
    type: str  # one of ALERT_TYPES
    score: float  # 0 to 1
    people: tuple[int, ...]  # person track ids it concerns
    since_s: float  # header time the condition started
    description: str
    active: bool  # False once, when it clears
    updated_s: float = 0.0  # header time of the frame that raised, last changed or cleared it


@dataclass(frozen=True)
class SceneResult:
    """Everything the scene analysis says about one image."""

    people: list[Person]
    objects: list[ObjectDetection]  # context objects (not persons)
    description: str
    alerts: list[Alert]  # the active ones
    image_width: int
    image_height: int
    latency_s: float
    caption: str = ""  # the neural captioner's sentence, when one is configured
    changed_alerts: list[Alert] = field(default_factory=list)  # raised, updated or cleared in this image
