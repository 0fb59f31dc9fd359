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
class GenderAbstention:
    """When the gender head says nothing: too little confidence, or an apparent age too young.

    The age rule applies only where an age is known (the age head is enabled).
    """

    min_score: float = 0.0
    min_age_years: float = 0.0

    def answers(self, score: float, age_years: float | None) -> bool:
        if not score >= self.min_score:  # also refuses NaN
            return False
        return age_years is None or not age_years < self.min_age_years


@dataclass(frozen=True)
class GenderResult:
    """The gender head's answer: ``label`` is "" and ``score`` NaN when it abstains.

    ``scores`` holds the probability of each label also when abstaining, and ``abstention``
    the rule that decided, so a smoothed probability can be decided by the same rule.
    """

    label: str
    score: float
    scores: dict[str, float]
    abstention: GenderAbstention = GenderAbstention()

    @classmethod
    def decide(cls, male_probability: float, age_years: float | None, abstention: GenderAbstention) -> GenderResult:
        """The answer for a probability of "male" and an apparent age (None: unknown)."""
        scores = {"female": 1.0 - float(male_probability), "male": float(male_probability)}
        label = "male" if male_probability >= 0.5 else "female"
        if not abstention.answers(scores[label], age_years):
            return cls("", float("nan"), scores, abstention)
        return cls(label, scores[label], scores, abstention)

    @property
    def answered(self) -> bool:
        return bool(self.label)

    def redecide(self, male_probability: float, age_years: float | None) -> GenderResult:
        """The same rule applied to another probability and age (the tracker's smoothed values)."""
        return GenderResult.decide(male_probability, age_years, self.abstention)


@dataclass(frozen=True)
class AgeEstimate:
    """Apparent age and the spread of the age head's distribution around it, years."""

    years: float
    uncertainty_years: float


@dataclass(frozen=True)
class Eyewear:
    """Probability that eyewear (glasses or sunglasses) is worn over the eyes."""

    probability: float
    worn: bool


@dataclass(frozen=True)
class IdentityMatch:
    """Who a face is: the nearest enrolled person's ``name`` (None: nobody within the threshold).

    ``distance`` is the Euclidean distance between the face's embedding and the nearest
    embedding of the gallery (inf when the gallery is empty).
    """

    name: str | None
    distance: float


@dataclass(frozen=True)
class FaceResult:
    """A detection plus what each enabled head said about it (None: head disabled)."""

    detection: Detection
    emotion: Classification | None = None
    gender: GenderResult | None = None
    age: float | None = None
    age_uncertainty_years: float | None = None
    eyewear: Eyewear | None = None
    identity: IdentityMatch | None = None  # None: identity off, or not decided for this face yet


@dataclass(frozen=True)
class FrameResult:
    """All faces of one image, and the time the pipeline spent on it."""

    faces: list[FaceResult]
    image_width: int
    image_height: int
    latency_s: float
