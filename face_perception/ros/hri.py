"""ROS4HRI (REP-155) output: our typed results as ``hri_msgs`` messages on the ``/humans/...`` topics.

Off unless ``hri.enabled`` is true; ``hri_msgs`` is imported only then (``load_hri_msgs``), so
nothing changes for users without it. The values (ids, normalized regions, joints) come from
``face_perception.core.rep155``.

Per-id topics follow the tracks: ``sync`` creates a track's publishers when its id appears and
destroys them when the track ends (expired, or dropped when stamps went backwards).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from rclpy.node import Node
from rclpy.publisher import Publisher
from std_msgs.msg import Header

from face_perception.core import rep155
from face_perception.core.errors import FacePerceptionError
from face_perception.core.preprocess import align_faces
from face_perception.core.scene.types import Person
from face_perception.core.types import FaceResult
from face_perception.ros.conversions import bgr_to_image

FACES_PREFIX = "/humans/faces"
BODIES_PREFIX = "/humans/bodies"
CANDIDATE_MATCHES = "/humans/candidate_matches"
QOS_DEPTH = 10
ALIGNED_SIZE_PX = 128  # the aligned chip's side
ALIGNED_PADDING = 0.25  # share of the face added on each side of the aligned chip

BUILD_HINT = (
    "install it (apt install ros-jazzy-hri-msgs, or rosdep install) or build ros4hri/hri_msgs in a colcon "
    "workspace and source it; or set hri.enabled to false"
)


class HriUnavailableError(FacePerceptionError):
    """``hri.enabled`` is true but the ``hri_msgs`` messages cannot be imported."""


def load_hri_msgs() -> ModuleType:
    """The ``hri_msgs.msg`` module.

    Raises:
        HriUnavailableError: it is not installed (or not sourced); the message says what to do.
    """
    try:
        return importlib.import_module("hri_msgs.msg")
    except ImportError as error:
        text = f"hri.enabled is true but hri_msgs cannot be imported ({error}): {BUILD_HINT}"
        raise HriUnavailableError(text) from error


@dataclass
class _FaceTopics:
    roi: Publisher
    expression: Publisher
    softbiometrics: Publisher
    landmarks: Publisher
    cropped: Publisher
    aligned: Publisher


@dataclass
class _BodyTopics:
    roi: Publisher
    skeleton: Publisher


def _destroy(node: Node, publishers: Iterable[Publisher]) -> None:
    for publisher in publishers:
        node.destroy_publisher(publisher)


class _TrackedTopics:
    """``<prefix>/tracked`` and one set of per-id publishers per live track."""

    def __init__(self, node: Node, msgs: ModuleType, prefix: str) -> None:
        self._node = node
        self._msgs = msgs
        self._prefix = prefix
        self._tracked = node.create_publisher(msgs.IdsList, f"{prefix}/tracked", QOS_DEPTH)
        self._topics: dict[str, object] = {}

    @property
    def ids(self) -> list[str]:
        return sorted(self._topics)

    def _make(self, hri_id: str) -> object:
        raise NotImplementedError

    def _publishers(self, topics: object) -> Iterable[Publisher]:
        return vars(topics).values()

    def sync(self, live_ids: Iterable[str], header: Header) -> None:
        """Create the topics of new ids, destroy those of ended ones, publish ``tracked``."""
        live = set(live_ids)
        for hri_id in sorted(set(self._topics) - live):
            _destroy(self._node, self._publishers(self._topics.pop(hri_id)))
        for hri_id in sorted(live - set(self._topics)):
            self._topics[hri_id] = self._make(hri_id)
        self._tracked.publish(self._msgs.IdsList(header=header, ids=self.ids))

    def topics(self, hri_id: str) -> object:
        return self._topics[hri_id]

    def clear(self, header: Header) -> None:
        """No track any more (the node stops processing): an empty ``tracked``, per-id topics destroyed."""
        self.sync([], header)

    def close(self) -> None:
        for topics in self._topics.values():
            _destroy(self._node, self._publishers(topics))
        self._topics.clear()
        self._node.destroy_publisher(self._tracked)


class FaceTopics(_TrackedTopics):
    """The face node's REP-155 output: ``/humans/faces/tracked`` and, per face id, ``roi``,
    ``expression``, ``softbiometrics``, ``landmarks``, ``cropped`` and ``aligned`` (the two images
    only while subscribed)."""

    def __init__(self, node: Node, msgs: ModuleType) -> None:
        super().__init__(node, msgs, FACES_PREFIX)
        self._matches: Publisher | None = None

    def _make(self, hri_id: str) -> _FaceTopics:
        from sensor_msgs.msg import Image

        base, msgs, create = f"{FACES_PREFIX}/{hri_id}", self._msgs, self._node.create_publisher
        return _FaceTopics(
            roi=create(msgs.NormalizedRegionOfInterest2D, f"{base}/roi", QOS_DEPTH),
            expression=create(msgs.Expression, f"{base}/expression", QOS_DEPTH),
            softbiometrics=create(msgs.SoftBiometrics, f"{base}/softbiometrics", QOS_DEPTH),
            landmarks=create(msgs.FacialLandmarks, f"{base}/landmarks", QOS_DEPTH),
            cropped=create(Image, f"{base}/cropped", 1),
            aligned=create(Image, f"{base}/aligned", 1),
        )

    def publish(
        self, header: Header, image_bgr: np.ndarray, live_track_ids: Iterable[int], seen: list[tuple[int, FaceResult]]
    ) -> None:
        """One frame: ``live_track_ids`` are the tracks alive now (seen or not in this frame), ``seen``
        the (track id, smoothed face) pairs published in this frame's FaceArray."""
        self.sync((rep155.face_id(t) for t in live_track_ids), header)
        height, width = image_bgr.shape[:2]
        for track_id, face in seen:
            hri_id = rep155.face_id(track_id)
            if hri_id not in self._topics:
                continue
            topics: _FaceTopics = self.topics(hri_id)
            topics.roi.publish(self.region(face, header, width, height))
            if face.emotion is not None:
                topics.expression.publish(self.expression(face, header))
            if face.gender is not None or face.age is not None:
                topics.softbiometrics.publish(self.softbiometrics(face, header))
            topics.landmarks.publish(self.landmarks(face, header, width, height))
            if topics.cropped.get_subscription_count() > 0:
                topics.cropped.publish(bgr_to_image(_crop(image_bgr, face), header))
            if topics.aligned.get_subscription_count() > 0:
                chip = align_faces(image_bgr, [face.detection.landmarks], ALIGNED_SIZE_PX, ALIGNED_PADDING)[0]
                topics.aligned.publish(bgr_to_image(chip, header))

    def region(self, face: FaceResult, header: Header, width: int, height: int):
        xmin, ymin, xmax, ymax = rep155.normalized_region(face.detection.box, width, height)
        return self._msgs.NormalizedRegionOfInterest2D(
            header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=float(face.detection.score)
        )

    def expression(self, face: FaceResult, header: Header):
        """The smoothed emotion; valence and arousal are not estimated (0)."""
        return self._msgs.Expression(
            header=header,
            expression=rep155.EXPRESSIONS[face.emotion.label],
            valence=0.0,
            arousal=0.0,
            confidence=float(face.emotion.score),
        )

    def softbiometrics(self, face: FaceResult, header: Header):
        gender, gender_confidence = rep155.GENDER_UNDEFINED, 0.0
        if face.gender is not None and face.gender.answered:
            gender, gender_confidence = rep155.GENDERS[face.gender.label], float(face.gender.score)
        age, age_confidence = 0, 0.0
        if face.age is not None and math.isfinite(face.age):
            age = int(min(255, max(0, round(face.age))))
            age_confidence = rep155.age_confidence(face.age_uncertainty_years)
        return self._msgs.SoftBiometrics(
            header=header, age=age, age_confidence=age_confidence, gender=gender, gender_confidence=gender_confidence
        )

    def landmarks(self, face: FaceResult, header: Header, width: int, height: int):
        points = rep155.facial_landmark_points(face.detection.landmarks, width, height)
        point = self._msgs.NormalizedPointOfInterest2D
        return self._msgs.FacialLandmarks(
            header=header,
            landmarks=[point(x=float(x), y=float(y), c=float(c)) for x, y, c in points],
            height=height,
            width=width,
        )

    def publish_candidate_match(self, track_id: int, name: str | None, confidence: float = 1.0) -> None:
        """The identity hook: say on ``/humans/candidate_matches`` that face ``track_id`` is the known
        person ``name`` (person id ``rep155.person_id(name)``) with ``confidence``; ``name`` None: the
        face is no longer matched to anyone (confidence 0, REP-155's "not associated").

        The face node calls it when identity names a track (``RECOGNIZED``), with confidence
        1 - the embedding distance.
        """
        if self._matches is None:
            self._matches = self._node.create_publisher(self._msgs.IdsMatch, CANDIDATE_MATCHES, QOS_DEPTH)
        msgs = self._msgs
        match = msgs.IdsMatch(id1=rep155.face_id(track_id), id1_type=msgs.IdsMatch.FACE)
        if name is not None:
            match.id2, match.id2_type, match.confidence = rep155.person_id(name), msgs.IdsMatch.PERSON, confidence
        else:
            match.id2_type, match.confidence = msgs.IdsMatch.PERSON, 0.0
        self._matches.publish(match)

    def close(self) -> None:
        if self._matches is not None:
            self._node.destroy_publisher(self._matches)
            self._matches = None
        super().close()


class BodyTopics(_TrackedTopics):
    """The scene node's REP-155 output: ``/humans/bodies/tracked`` and, per body id, ``roi`` and
    ``skeleton2d``; a body whose face is known is matched to it on ``/humans/candidate_matches``."""

    def __init__(self, node: Node, msgs: ModuleType) -> None:
        super().__init__(node, msgs, BODIES_PREFIX)
        self._matches = node.create_publisher(msgs.IdsMatch, CANDIDATE_MATCHES, QOS_DEPTH)
        self._matched: dict[str, str] = {}  # body id -> face id last published

    def _make(self, hri_id: str) -> _BodyTopics:
        base, msgs, create = f"{BODIES_PREFIX}/{hri_id}", self._msgs, self._node.create_publisher
        return _BodyTopics(
            roi=create(msgs.NormalizedRegionOfInterest2D, f"{base}/roi", QOS_DEPTH),
            skeleton=create(msgs.Skeleton2D, f"{base}/skeleton2d", QOS_DEPTH),
        )

    def publish(
        self, header: Header, width: int, height: int, live_track_ids: Iterable[int], people: list[Person]
    ) -> None:
        """One analyzed image: the person tracks alive now, and the people seen in it."""
        self.sync((rep155.body_id(t) for t in live_track_ids), header)
        self._matched = {body: face for body, face in self._matched.items() if body in self._topics}
        point = self._msgs.NormalizedPointOfInterest2D
        for person in people:
            hri_id = rep155.body_id(person.track_id)
            if hri_id not in self._topics:
                continue
            topics: _BodyTopics = self.topics(hri_id)
            observation = person.observation
            xmin, ymin, xmax, ymax = rep155.normalized_region(observation.box, width, height)
            topics.roi.publish(
                self._msgs.NormalizedRegionOfInterest2D(
                    header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=float(observation.score)
                )
            )
            joints = rep155.skeleton_points(observation.keypoints, width, height)
            topics.skeleton.publish(
                self._msgs.Skeleton2D(
                    header=header, skeleton=[point(x=float(x), y=float(y), c=float(c)) for x, y, c in joints]
                )
            )
            if person.face_id:
                self._match_face(hri_id, rep155.face_id(person.face_id))

    def _match_face(self, body: str, face: str) -> None:
        """Publish a body-face match once per pair (REP-155: confidence 1, both seen on one person)."""
        if self._matched.get(body) == face:
            return
        self._matched[body] = face
        msgs = self._msgs
        self._matches.publish(
            msgs.IdsMatch(id1=face, id1_type=msgs.IdsMatch.FACE, id2=body, id2_type=msgs.IdsMatch.BODY, confidence=1.0)
        )

    def close(self) -> None:
        self._node.destroy_publisher(self._matches)
        super().close()


def _crop(image_bgr: np.ndarray, face: FaceResult) -> np.ndarray:
    """The face's box cut from the image (clipped at its border; at least one pixel)."""
    height, width = image_bgr.shape[:2]
    box = face.detection.box
    x0 = min(width - 1, max(0, math.floor(box.x_min)))
    y0 = min(height - 1, max(0, math.floor(box.y_min)))
    x1 = max(x0 + 1, min(width, math.ceil(box.x_max)))
    y1 = max(y0 + 1, min(height, math.ceil(box.y_max)))
    return np.ascontiguousarray(image_bgr[y0:y1, x0:x1])
