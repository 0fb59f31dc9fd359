"""The scene analyzer: people (pose, posture), their faces, tracks, alerts and a sentence per image.

Faces come from the face pipeline run here, or from outside (the ROS node takes them from
the face node's ``faces`` topic). Each face is attached to the person whose head region
(the box around the confident nose, eye and ear keypoints, enlarged) holds its centre.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

from face_perception.core.config import PipelineConfig
from face_perception.core.images import as_bgr
from face_perception.core.pipeline import FacePipeline
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.alerts import AlertEngine, CaptionAlerts
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig, PeopleFinder
from face_perception.core.scene.sentence import LYING_FURNITURE, SITTING_FURNITURE, furniture_under, scene_sentence
from face_perception.core.scene.tracker import PersonTracker
from face_perception.core.scene.types import ObjectDetection, Person, PersonObservation, SceneResult
from face_perception.core.timing import StageTimer
from face_perception.core.tracker import FaceTracker
from face_perception.core.types import FaceResult

log = logging.getLogger(__name__)
HEAD_KEYPOINTS = slice(0, 5)  # nose, eyes, ears
MAX_IMAGE_SIDE_PX = PipelineConfig().max_image_side_px  # without a face pipeline, the same image size limit
_NO_MATCH = 1e6
_ALERT_NOTES = {
    "fall": "seems to have fallen",
    "motionless": "has not moved for a while",
    "lying_on_floor": "may need help",
}


class PeopleSource(Protocol):
    """What finds people and objects in an image (``PeopleFinder``)."""

    def find(
        self, image_bgr: np.ndarray, timer: StageTimer | None = None
    ) -> tuple[list[PersonObservation], list[ObjectDetection]]: ...


class Captioner(Protocol):
    """An optional neural captioner."""

    def caption(self, image_bgr: np.ndarray) -> str: ...


@dataclass(frozen=True)
class ExternalFaces:
    """Faces found elsewhere for this image (the face node's), with their ids (``Face.id``)."""

    faces: list[FaceResult]
    ids: list[int]


def head_region(observation: PersonObservation, min_score: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The head's box [x1, y1, x2, y2] and centre point (the nose when confident), or None when no head keypoint is."""
    head = observation.keypoints[HEAD_KEYPOINTS]
    confident = head[head[:, 2] >= min_score, :2]
    if not len(confident):
        return None
    low, high = confident.min(axis=0), confident.max(axis=0)
    box = observation.box
    margin = max(float((high - low).max()), 0.08 * max(box.width, box.height))
    region = np.array([low[0] - margin, low[1] - margin, high[0] + margin, high[1] + margin])
    nose = observation.keypoints[0]
    centre = nose[:2] if nose[2] >= min_score else confident.mean(axis=0)
    return region, centre


def support_of(observation: PersonObservation, objects: list[ObjectDetection], min_overlap: float) -> str:
    """What a lying person lies on ("floor" without a bed or couch under the box) or a sitting one sits on."""
    if observation.posture == "lying":
        furniture = furniture_under(observation.box, objects, LYING_FURNITURE, min_overlap)
        return "floor" if furniture is None else furniture.label
    if observation.posture == "sitting":
        furniture = furniture_under(observation.box, objects, SITTING_FURNITURE, min_overlap)
        return "" if furniture is None else furniture.label
    return ""


def attach_faces(observations: list[PersonObservation], faces: list[FaceResult], min_score: float) -> list[int | None]:
    """For each person, the index of its face in ``faces`` (or None): optimal assignment on the
    distance from the face's centre to the head point, among faces whose centre lies in the head region."""
    matches: list[int | None] = [None] * len(observations)
    if not observations or not faces:
        return matches
    centres = np.array(
        [
            [(f.detection.box.x_min + f.detection.box.x_max) / 2, (f.detection.box.y_min + f.detection.box.y_max) / 2]
            for f in faces
        ]
    )
    cost = np.full((len(observations), len(faces)), _NO_MATCH)
    for row, observation in enumerate(observations):
        head = head_region(observation, min_score)
        if head is None:
            continue
        region, point = head
        inside = (
            (centres[:, 0] >= region[0])
            & (centres[:, 0] <= region[2])
            & (centres[:, 1] >= region[1])
            & (centres[:, 1] <= region[3])
        )
        size = max(region[2] - region[0], region[3] - region[1], 1.0)
        cost[row] = np.where(inside, np.linalg.norm(centres - point, axis=1) / size, _NO_MATCH)
    rows, cols = linear_sum_assignment(cost)
    for row, col in zip(rows, cols, strict=True):
        if cost[row, col] < _NO_MATCH:
            matches[int(row)] = int(col)
    return matches


class SceneAnalyzer:
    """Turns images into ``SceneResult``s. ``analyze(image)`` treats the image as a still photo;
    ``analyze(image, time_s)`` treats it as the next frame of a sequence (tracks and alerts over time)."""

    def __init__(
        self,
        config: SceneConfig,
        people: PeopleSource,
        faces: FacePipeline | None = None,
        captioner: Captioner | None = None,
        caption_alerts: CaptionAlerts | None = None,
    ) -> None:
        self.config = config.validate()
        self.people = people
        self.face_pipeline = faces
        self.captioner = captioner
        self.caption_alerts = caption_alerts
        self.reset()

    @classmethod
    def from_store(
        cls,
        config: SceneConfig,
        people: PeopleConfig,
        store: ModelStore,
        faces: PipelineConfig | None = None,
        captioner: Captioner | None = None,
        caption_alerts: CaptionAlerts | None = None,
    ) -> SceneAnalyzer:
        """The analyzer with the people finder and (unless ``faces`` is None) the face pipeline, from one store."""
        finder = PeopleFinder.from_store(people, store)
        pipeline = FacePipeline(faces, store) if faces is not None else None
        return cls(config, finder, pipeline, captioner, caption_alerts)

    def reset(self) -> None:
        """Start over: no tracks, no people's history; active alerts clear at the next image.

        Person, face and alert ids keep counting up, so none is reused in one analyzer's life.
        """
        self._last_time_s: float | None = None
        self._caption_time_s: float | None = None  # frame time of the last caption made (sequences only)
        self._last_caption: tuple[str, list[tuple[str, float]]] = ("", [])
        if hasattr(self, "tracker"):
            self.tracker.restart()
            self.alerts.reset()
            return  # the face tracker restarts by itself when time goes back
        self.tracker = PersonTracker(self.config.tracking)
        self.alerts = AlertEngine(self.config.alerts, self.config.sentence)
        tracking = self.face_pipeline.config.tracking if self.face_pipeline is not None else None
        self.face_tracker = FaceTracker(tracking) if tracking is not None and tracking.enabled else None

    def analyze(
        self,
        image: np.ndarray,
        time_s: float | None = None,
        faces: ExternalFaces | None = None,
        timer: StageTimer | None = None,
    ) -> SceneResult:
        """Analyze one image (gray, BGR or BGRA uint8).

        Args:
            time_s: the frame's header time; None: a still photo (fresh tracks, states count as held).
            faces: faces found elsewhere for this image; None: run the face pipeline (if any).
            timer: receives the time of each stage (benchmarks): the people finder's, ``faces``,
                ``tracking_and_alerts``, ``sentence`` and ``caption``.

        Raises:
            ImageError: the image is empty, too large or of an unsupported type.

        A ``time_s`` earlier than the previous frame's (a replay that loops) starts over (``reset``).
        """
        start = time.perf_counter()
        if time_s is not None and self._last_time_s is not None and time_s < self._last_time_s:
            log.warning("time went back from %.3f s to %.3f s: tracks and alerts start over", self._last_time_s, time_s)
            self.reset()
        if time_s is not None:
            self._last_time_s = time_s
        limit = self.face_pipeline.config.max_image_side_px if self.face_pipeline is not None else MAX_IMAGE_SIDE_PX
        image_bgr = as_bgr(image, limit)
        timer = timer or StageTimer()
        observations, objects = self.people.find(image_bgr, timer)
        with timer.stage("faces"):
            face_list, face_ids = self._faces(image_bgr, time_s, faces)
        still = time_s is None
        with timer.stage("caption"):
            caption, findings = self._caption(image_bgr, time_s)
        with timer.stage("tracking_and_alerts"):
            context = [o for o in objects if o.label != "person"]
            people = self._people(observations, context, face_list, face_ids, time_s)
            engine = AlertEngine(self.config.alerts, self.config.sentence) if still else self.alerts
            update = engine.update(people, context, 0.0 if still else time_s, still=still, caption_findings=findings)
        notes: dict[int, str] = {}
        for alert in update.active:
            for track_id in alert.people:
                if alert.type in _ALERT_NOTES and track_id not in notes:
                    notes[track_id] = _ALERT_NOTES[alert.type]
        with timer.stage("sentence"):
            description = scene_sentence(people, context, notes, self.config.sentence)
        if caption:
            description += f" ({caption.strip().rstrip('.')})"
        height, width = image_bgr.shape[:2]
        return SceneResult(
            people=people,
            objects=context,
            description=description,
            alerts=update.active,
            image_width=width,
            image_height=height,
            latency_s=time.perf_counter() - start,
            caption=caption,
            changed_alerts=update.changed,
        )

    def _people(
        self,
        observations: list[PersonObservation],
        context: list[ObjectDetection],
        face_list: list[FaceResult],
        face_ids: list[int],
        time_s: float | None,
    ) -> list[Person]:
        """Tracked people with their faces and what they lie or sit on (a still photo: fresh tracks)."""
        tracker = PersonTracker(self.config.tracking) if time_s is None else self.tracker
        tracked = tracker.update(observations, 0.0 if time_s is None else time_s)
        matches = attach_faces(observations, face_list, self.config.face_keypoint_score)
        overlap = self.config.alerts.furniture_min_overlap
        return [
            Person(
                observation=t.observation,
                face=None if m is None else face_list[m],
                face_id=0 if m is None else face_ids[m],
                track_id=t.track_id,
                track_age_s=t.age_s,
                support=support_of(t.observation, context, overlap),
            )
            for t, m in zip(tracked, matches, strict=True)
        ]

    def _caption(self, image_bgr: np.ndarray, time_s: float | None) -> tuple[str, list[tuple[str, float]]]:
        """The caption and its findings: made anew for a still photo, and in a sequence at most once per
        ``captioner.period_s`` of frame time (the last ones are reused in between, so its alerts hold)."""
        if self.captioner is None:
            return "", []
        last = self._caption_time_s
        if time_s is not None and last is not None and time_s - last < self.config.captioner.period_s:
            return self._last_caption
        caption = self.captioner.caption(image_bgr)
        findings = self.caption_alerts(caption) if self.caption_alerts is not None and caption else []
        if time_s is not None:
            self._caption_time_s = time_s
            self._last_caption = (caption, findings)
        return caption, findings

    def _faces(
        self, image_bgr: np.ndarray, time_s: float | None, given: ExternalFaces | None
    ) -> tuple[list[FaceResult], list[int]]:
        if given is not None:
            return given.faces, given.ids
        if self.face_pipeline is None:
            return [], []
        found = self.face_pipeline.process(image_bgr).faces
        if time_s is None or self.face_tracker is None:
            return found, [0] * len(found)
        tracked, _, _ = self.face_tracker.update_or_restart(found, time_s)
        return [t.smoothed for t in tracked], [t.track_id for t in tracked]
