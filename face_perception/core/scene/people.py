"""People in one image: NanoDet boxes, MoveNet keypoints, posture; plus the context objects around them.

Person candidates are the detector's person boxes down to a low score
(``candidate_score_threshold``): people lying on a floor, seen from above or partly hidden get
low scores from a detector trained on upright people. Each candidate gets its pose, and the
posture classifier (``posture_model``) decides from the pose, the box, the detector's score and
the detector's own features pooled over the box whether it is one whole person and whether that
person stands, sits or lies (boxes of the turned passes below pool the upright image's features). Without a posture
model, boxes at ``score_threshold`` are people and rules on the keypoints give the posture.

Lying people are what detectors and pose models trained on upright people miss most. Two
re-looks help: a person box wider than tall, or one whose pose is not confident, gets its pose
again on crops turned by 90 degrees both ways (the more confident pose wins); and the detector
also runs on the image turned by 90 degrees, as ``rotated_detection`` says:
``off``; ``hint``: both ways, only when the first pass found a wide person box;
``alternate``: as ``hint``, and otherwise one way per call, switching direction every call (a
camera stream gets both directions every two frames for one extra detector pass per frame);
``always``: both ways on every call (two extra detector passes).
Boxes and keypoints found in turned images are mapped back to the original image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_perception.core.checks import check_range
from face_perception.core.errors import ConfigError, ImageError
from face_perception.core.models.objects import NanoDetDetector
from face_perception.core.models.pose import MoveNetPose, PoseCrop
from face_perception.core.models.posture import (
    POSTURE_CLASSES,
    PostureClassifier,
    candidate_context,
    posture_features,
)
from face_perception.core.nms import nms
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.posture import PostureThresholds, classify_posture
from face_perception.core.scene.types import ObjectDetection, PersonObservation
from face_perception.core.timing import StageTimer
from face_perception.core.types import Box

PERSON_LABEL = "person"
# Two person boxes whose poses agree within this fraction of the stronger box's diagonal, on at
# least SAME_BODY_MIN_KEYPOINTS confident keypoints, are one body: the weaker box is dropped.
SAME_BODY_DISTANCE = 0.1
SAME_BODY_MIN_KEYPOINTS = 5
UPRIGHT_VETO_SCORE = 0.3  # keypoint rules this sure of an upright body outvote the model's "lying"
ROTATED_DETECTION_MODES: tuple[str, ...] = ("off", "hint", "alternate", "always")


@dataclass(frozen=True)
class PeopleConfig:
    """Settings of the people finder; parameter names are ``people.<field>``."""

    object_model: str = "nanodet_m"
    pose_model: str = "movenet_lightning"
    posture_model: str = "posture_mlp"  # "" : person boxes by score_threshold, posture by keypoint rules
    candidate_score_threshold: float = 0.2  # person boxes at or above this are candidates for the posture model
    max_candidates: int = 5  # candidates that get a pose and the posture model (more if the detector is sure of more)
    person_threshold: float = 0.5  # candidates at least this probably one whole person are people
    min_posture_score: float = 0.4  # a person whose most probable posture is less probable than this: "unknown"
    min_lying_score: float = 0.5  # "lying" (the model's) needs at least this probability, else "unknown"
    score_threshold: float = 0.35  # person boxes at or above this are people (with a model: whatever it says)
    object_score_threshold: float = 0.4  # other COCO objects at or above this are context objects
    nms_iou_threshold: float = 0.6
    max_people: int = 6
    max_objects: int = 20
    pose_padding: float = 0.2  # crop side = longer box side * (1 + this)
    min_pose_score: float = 0.3  # mean keypoint score below this: the pose is not confident
    keypoint_score_threshold: float = 0.3  # keypoints below this are ignored by the posture rules
    rotated_pose: bool = True  # re-look at the pose on 90-degree-turned crops of wide or unsure people
    rotated_detection: str = "off"  # one of ROTATED_DETECTION_MODES (see the module's docstring)
    wide_box_aspect: float = 1.0  # a person box wider than tall by this factor is "wide"

    def validate(self) -> PeopleConfig:
        for name in ("object_model", "pose_model"):
            if not getattr(self, name):
                raise ConfigError(f"people.{name} must name a model of the manifest")
        for name in (
            "candidate_score_threshold",
            "person_threshold",
            "min_posture_score",
            "min_lying_score",
            "score_threshold",
            "object_score_threshold",
            "nms_iou_threshold",
            "min_pose_score",
            "keypoint_score_threshold",
        ):
            check_range(f"people.{name}", getattr(self, name), 0.0, 1.0)
        check_range("people.max_people", self.max_people, 1, 100)
        check_range("people.max_candidates", self.max_candidates, 1, 100)
        check_range("people.max_objects", self.max_objects, 0, 300)
        check_range("people.pose_padding", self.pose_padding, 0.0, 2.0)
        check_range("people.wide_box_aspect", self.wide_box_aspect, 0.2, 5.0)
        if self.rotated_detection not in ROTATED_DETECTION_MODES:
            modes = ", ".join(ROTATED_DETECTION_MODES)
            raise ConfigError(f"people.rotated_detection={self.rotated_detection!r} is not one of {modes}")
        return self

    def to_parameters(self) -> dict[str, Any]:
        """Flat ``people.<field>`` parameters, as a YAML file or the node declares them."""
        return {f"people.{f.name}": getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_parameters(cls, params: dict[str, Any]) -> PeopleConfig:
        """A validated config from flat ``people.<field>`` parameters; unknown ``people.*`` names are refused."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in params.items():
            if not key.startswith("people."):
                continue
            name = key[len("people.") :]
            if name not in known:
                raise ConfigError(f"unknown parameter {key!r}; known: {', '.join('people.' + n for n in known)}")
            default = known[name].default
            if isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"{key} must be true or false, got {value!r}")
            try:
                values[name] = type(default)(value)
            except (TypeError, ValueError) as error:
                raise ConfigError(f"{key} must be a {type(default).__name__}, got {value!r}") from error
        return cls(**values).validate()


def _same_body(weaker: PersonObservation, stronger: PersonObservation, score_threshold: float) -> bool:
    both = (weaker.keypoints[:, 2] >= score_threshold) & (stronger.keypoints[:, 2] >= score_threshold)
    if both.sum() < SAME_BODY_MIN_KEYPOINTS:
        return False
    distance = np.linalg.norm(weaker.keypoints[both, :2] - stronger.keypoints[both, :2], axis=1).mean()
    return bool(distance < SAME_BODY_DISTANCE * np.hypot(stronger.box.width, stronger.box.height))


def rotate_image(image: np.ndarray, quarter_turns: int) -> np.ndarray:
    """The image turned counter-clockwise by ``quarter_turns`` * 90 degrees."""
    return np.ascontiguousarray(np.rot90(image, quarter_turns))


def unrotate_points(points: np.ndarray, quarter_turns: int, height: int, width: int) -> np.ndarray:
    """(x, y) [N, 2] in an image turned by ``quarter_turns`` (of an original height x width) back to the original.

    Pixel centers map exactly: the turned image's pixel (i, j) is the original's pixel it was copied from.
    """
    x, y = points[:, 0], points[:, 1]
    turns = quarter_turns % 4
    if turns == 0:
        return points.copy()
    if turns == 1:  # counter-clockwise: original (x, y) -> (y, W - 1 - x)
        return np.stack([width - 1 - y, x], axis=1)
    if turns == 2:
        return np.stack([width - 1 - x, height - 1 - y], axis=1)
    return np.stack([y, height - 1 - x], axis=1)  # clockwise: original (x, y) -> (H - 1 - y, x)


def unrotate_box(box: Box, quarter_turns: int, height: int, width: int) -> Box:
    """A box of the turned image as a box of the original image."""
    corners = np.array([[box.x_min, box.y_min], [box.x_max, box.y_max]], dtype=np.float64)
    back = unrotate_points(corners, quarter_turns, height, width)
    return Box(float(back[:, 0].min()), float(back[:, 1].min()), float(back[:, 0].max()), float(back[:, 1].max()))


@dataclass(frozen=True)
class PersonCandidate:
    """A person box of the detector with its pose and the posture model's input."""

    detection: ObjectDetection
    keypoints: np.ndarray  # float32 [17, 3]: x, y (image px), score
    turned_pose: bool  # the pose came from a crop turned by 90 degrees
    features: np.ndarray  # float32 [NUM_FEATURES], posture_features()


class PeopleFinder:
    """Finds people (box, keypoints, posture) and context objects in one BGR image."""

    def __init__(
        self,
        config: PeopleConfig,
        detector: NanoDetDetector,
        pose: MoveNetPose,
        posture: PostureClassifier | None = None,
    ) -> None:
        self.config = config.validate()
        if config.posture_model and posture is None:
            raise ConfigError(f"people.posture_model={config.posture_model!r} needs its classifier")
        self.detector = detector
        self.pose = pose
        self.posture = posture if config.posture_model else None
        self.thresholds = PostureThresholds(min_keypoint_score=config.keypoint_score_threshold)
        self._calls = 0  # for the alternating direction of rotated_detection="alternate"

    @classmethod
    def from_store(cls, config: PeopleConfig, store: ModelStore) -> PeopleFinder:
        config.validate()
        return cls(
            config,
            NanoDetDetector.from_store(store, config.object_model),
            MoveNetPose.from_store(store, config.pose_model),
            PostureClassifier.from_store(store, config.posture_model) if config.posture_model else None,
        )

    def find(
        self, image_bgr: np.ndarray, timer: StageTimer | None = None
    ) -> tuple[list[PersonObservation], list[ObjectDetection]]:
        """People (the detector's surest first, at most ``max_people``) and non-person objects of a uint8 BGR image.

        ``timer`` (benchmarks) receives the stages ``people_detector``, ``pose`` and ``posture``.
        """
        timer = timer or StageTimer()
        candidates, objects = self.candidates(image_bgr, timer=timer)
        with timer.stage("posture"):
            if self.posture is not None:
                observed = self._by_model(candidates)
            else:
                observed = [self._by_rules(c) for c in candidates]
        observed = observed[: self.config.max_people]  # the detector's order: its surest box of a body first
        return self._drop_same_body(observed), objects[: self.config.max_objects]

    def candidates(
        self,
        image_bgr: np.ndarray,
        person_threshold: float | None = None,
        limit: int | None = None,
        timer: StageTimer | None = None,
    ) -> tuple[list[PersonCandidate], list[ObjectDetection]]:
        """Person candidates with their poses (most confident first), and the context objects.

        By default, person boxes from ``candidate_score_threshold`` with a posture model, from
        ``score_threshold`` without one. Every box at ``score_threshold`` or more is a candidate (at
        most ``max_people``); weaker ones fill up to ``limit`` candidates (``max_candidates``).
        """
        if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ImageError(f"expected a BGR image [H, W, 3], got {getattr(image_bgr, 'shape', type(image_bgr))}")
        if image_bgr.dtype != np.uint8 or image_bgr.size == 0:
            raise ImageError(f"expected a non-empty uint8 image, got {image_bgr.dtype} {image_bgr.shape}")
        config = self.config
        if person_threshold is None:
            person_threshold = config.candidate_score_threshold if self.posture is not None else config.score_threshold
        if limit is None:
            limit = config.max_candidates if self.posture is not None else config.max_people
        timer = timer or StageTimer()
        low = min(person_threshold, config.object_score_threshold)
        with timer.stage("people_detector"):
            detections, region_features = self.detector.detect_with_features(image_bgr, low, config.nms_iou_threshold)
            people = [d for d in detections if d.label == PERSON_LABEL and d.score >= person_threshold]
            objects = [d for d in detections if d.label != PERSON_LABEL and d.score >= config.object_score_threshold]
            strong = [p for p in people if p.score >= config.score_threshold]
            turns = self._detection_turns(any(self._is_wide(p.box) for p in strong))
            if turns:
                people = self._merge(people + self._rotated_people(image_bgr, turns, person_threshold))
        sure = [p for p in people if p.score >= config.score_threshold][: config.max_people]
        weak = [p for p in people if p.score < config.score_threshold][: max(limit - len(sure), 0)]
        people = sure + weak  # most confident first: the detector's order
        boxes = np.array([p.box.as_list() for p in people], dtype=np.float64).reshape(-1, 4)
        scores = np.array([p.score for p in people], dtype=np.float64)
        height, width = image_bgr.shape[:2]
        regions = region_features.pool(boxes)
        with timer.stage("pose"):
            return [
                self._candidate(image_bgr, p, candidate_context(boxes, scores, i, height, width), regions[i])
                for i, p in enumerate(people)
            ], objects

    def _by_rules(self, candidate: PersonCandidate) -> PersonObservation:
        posture = classify_posture(candidate.keypoints, candidate.detection.box, self.thresholds)
        return PersonObservation(
            box=candidate.detection.box,
            score=candidate.detection.score,
            keypoints=candidate.keypoints,
            posture=posture.label,
            posture_score=posture.score,
        )

    def _by_model(self, candidates: list[PersonCandidate]) -> list[PersonObservation]:
        """People among the candidates, and their posture.

        A box the detector itself is sure of (``score_threshold``) is a person, as without a
        model; a weaker one is a person when the model says so (``person_threshold``). The posture
        is the model's where the model takes the box for a person, else the keypoint rules'; a
        lying verdict of the model gives way to the rules when those see a confident upright body
        (clear shoulders, hips and knees in an upright line), and is ``unknown`` when less probable
        than ``min_lying_score``.
        """
        if not candidates:
            return []
        assert self.posture is not None
        config = self.config
        probabilities = self.posture.predict(np.stack([c.features for c in candidates]))
        people = []
        for candidate, p in zip(candidates, probabilities, strict=True):
            person = 1.0 - float(p[0])
            if person < config.person_threshold:
                if candidate.detection.score >= config.score_threshold:
                    people.append(self._by_rules(candidate))
                continue
            conditional = p[1:] / max(float(p[1:].sum()), 1e-6)  # posture given that it is a person
            best = int(np.argmax(conditional))
            label = POSTURE_CLASSES[1 + best] if conditional[best] >= config.min_posture_score else "unknown"
            score = float(conditional[best]) if label != "unknown" else 0.0
            if label == "lying":
                rules = classify_posture(candidate.keypoints, candidate.detection.box, self.thresholds)
                if rules.label in ("standing", "sitting") and rules.score >= UPRIGHT_VETO_SCORE:
                    label, score = rules.label, rules.score
                elif score < config.min_lying_score:  # an unsure "lying" alarms calm photos more than it finds falls
                    label, score = "unknown", 0.0
            people.append(
                PersonObservation(
                    box=candidate.detection.box,
                    score=max(person, candidate.detection.score),
                    keypoints=candidate.keypoints,
                    posture=label,
                    posture_score=score,
                )
            )
        return people

    def _is_wide(self, box: Box) -> bool:
        return box.width > self.config.wide_box_aspect * box.height

    def _detection_turns(self, hint: bool) -> tuple[int, ...]:
        """Quarter turns of the image to run the detector on in this call."""
        mode = self.config.rotated_detection
        self._calls += 1
        if mode == "always" or (hint and mode in ("hint", "alternate")):
            return (1, 3)
        if mode == "alternate":
            return (1,) if self._calls % 2 else (3,)
        return ()

    def _rotated_people(
        self, image_bgr: np.ndarray, quarter_turns: tuple[int, ...], threshold: float
    ) -> list[ObjectDetection]:
        height, width = image_bgr.shape[:2]
        found = []
        for turns in quarter_turns:
            for d in self.detector.detect(rotate_image(image_bgr, turns), threshold):
                if d.label == PERSON_LABEL:
                    found.append(dataclasses.replace(d, box=unrotate_box(d.box, turns, height, width)))
        return found

    def _merge(self, people: list[ObjectDetection]) -> list[ObjectDetection]:
        if not people:
            return []
        boxes = np.array([p.box.as_list() for p in people], dtype=np.float32)
        scores = np.array([p.score for p in people], dtype=np.float32)
        return [people[i] for i in nms(boxes, scores, self.config.nms_iou_threshold)]

    def _drop_same_body(self, people: list[PersonObservation]) -> list[PersonObservation]:
        """Drop a weaker box whose pose lands on a stronger one's body (a fragment of the same person).

        Two boxes of one body (the rotated passes find such fragments) give the same keypoints:
        their confident keypoints lie within ``SAME_BODY_DISTANCE`` of the stronger box's diagonal.
        """
        kept: list[PersonObservation] = []
        threshold = self.config.keypoint_score_threshold
        for person in people:  # highest score first
            if not any(_same_body(person, other, threshold) for other in kept):
                kept.append(person)
        return kept

    def _candidate(
        self, image_bgr: np.ndarray, person: ObjectDetection, context: np.ndarray, region: np.ndarray
    ) -> PersonCandidate:
        config = self.config
        keypoints = self.pose.predict(image_bgr, [PoseCrop(person.box, 0, config.pose_padding)])
        best, turned = keypoints[0], False
        if config.rotated_pose and (self._is_wide(person.box) or best[:, 2].mean() < config.min_pose_score):
            crops = [PoseCrop(person.box, r, config.pose_padding) for r in (90, 270)]
            candidates = np.concatenate([keypoints, self.pose.predict(image_bgr, crops)])
            index = int(np.argmax(candidates[:, :, 2].mean(axis=1)))
            best, turned = candidates[index], index > 0
        best = best.astype(np.float32)
        features = posture_features(best, person.box, person.score, turned, context, region)
        return PersonCandidate(person, best, turned, features)
