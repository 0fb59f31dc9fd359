"""Typed results passed between the detector, the heads, the pipeline and its users."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EMOTION_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GENDER_LABELS: tuple[str, ...] = ("female", "male")
LANDMARK_NAMES: tuple[str, ...] = (
    "eye_image_left",
    "eye_image_right",
    "nose",
    "mouth_image_left",
    "mouth_image_right",
)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in image pixels; may extend past the image border."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        return self.y_max - self.y_min

    def as_list(self) -> list[float]:
        return [self.x_min, self.y_min, self.x_max, self.y_max]


@dataclass(frozen=True)
class Detection:
    """One detected face: box, confidence and five landmarks (x, y) in pixels."""

    box: Box
    score: float
    landmarks: np.ndarray = field(repr=False)  # float32 [5, 2], order of LANDMARK_NAMES

    def __post_init__(self) -> None:
        if self.landmarks.shape != (5, 2):
            raise ValueError(f"landmarks must have shape (5, 2), got {self.landmarks.shape}")


@dataclass(frozen=True)
class Classification:
    """A categorical head's answer: the winning label, its probability, every class."""

    label: str
    score: float
    scores: dict[str, float]

    @classmethod
    def from_probabilities(cls, labels: tuple[str, ...], probabilities: np.ndarray) -> Classification:
        best = int(np.argmax(probabilities))
        return cls(
            label=labels[best],
            score=float(probabilities[best]),
            scores={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
        )


@dataclass(frozen=True)
class Eyewear:
    """Probability that eyewear (glasses or sunglasses) is worn over the eyes."""

    probability: float
    worn: bool


@dataclass(frozen=True)
class FaceResult:
    """A detection plus what each enabled head said about it (None: head disabled)."""

    detection: Detection
    emotion: Classification | None = None
    gender: Classification | None = None
    age: float | None = None
    eyewear: Eyewear | None = None


@dataclass(frozen=True)
class FrameResult:
    """All faces of one image, and the time the pipeline spent on it."""

    faces: list[FaceResult]
    image_width: int
    image_height: int
    latency_s: float
