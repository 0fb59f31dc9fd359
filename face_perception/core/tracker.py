"""Multi-face tracker: stable ids across frames, time-based attribute smoothing, events.

Detections are associated to tracks by optimal assignment (Hungarian) on a cost that
mixes box overlap and landmark distance. A track is confirmed after ``min_hits``
detections, survives ``max_missing_s`` without one, and its id is never reused. Head
outputs are smoothed with an exponential average whose weight depends on the time
between frames (``1 - exp(-dt / tau)``), so smoothing is the same at 5 Hz and 30 Hz.
Gender is smoothed as a probability (also over frames where it abstained) and the
abstention rule is applied to the smoothed probability and smoothed age.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np
from scipy.optimize import linear_sum_assignment

from face_perception.core.checks import check_ranges
from face_perception.core.nms import pairwise_iou
from face_perception.core.types import EMOTION_LABELS, Classification, Eyewear, FaceResult, IdentityMatch

_NO_MATCH = 1e6
# Identity votes a track keeps (the latest); a name needs a strict majority of them.
IDENTITY_VOTES = 5

# Names the faces given to it (one batched embedding); the tracker calls it for the tracks due.
Identify = Callable[[list[FaceResult]], list[IdentityMatch]]


@dataclass(frozen=True)
class TrackerConfig:
    """Tracking settings (parameters ``tracking.*``)."""

    enabled: bool = True
    min_hits: int = 3
    max_missing_s: float = 1.0
    min_iou: float = 0.1
    max_landmark_distance: float = 1.0
    smoothing_tau_s: float = 0.5
    emotion_hysteresis: float = 0.15

    def validate(self) -> TrackerConfig:
        check_ranges(
            {
                "tracking.min_hits": (self.min_hits, 1, 100),
                "tracking.max_missing_s": (self.max_missing_s, 0.0, 60.0),
                "tracking.min_iou": (self.min_iou, 0.0, 1.0),
                "tracking.max_landmark_distance": (self.max_landmark_distance, 0.0, 10.0),
                "tracking.smoothing_tau_s": (self.smoothing_tau_s, 0.0, 60.0),
                "tracking.emotion_hysteresis": (self.emotion_hysteresis, 0.0, 1.0),
            }
        )
        return self


class EventType(Enum):
    APPEARED = 0
    DISAPPEARED = 1
    EMOTION_CHANGED = 2
    RECOGNIZED = 3


@dataclass(frozen=True)
class FaceEvent:
    """Something that happened to a tracked person."""

    type: EventType
    track_id: int
    time_s: float
    emotion: str = ""
    previous_emotion: str = ""
    track_age_s: float = 0.0
    identity: str = ""  # RECOGNIZED: the name the track now has
    identity_distance: float = float("nan")


@dataclass(frozen=True)
class TrackedFace:
    """A face of a confirmed track: this frame's raw result and the track's smoothed attributes."""

    track_id: int
    age_s: float
    raw: FaceResult
    smoothed: FaceResult


@dataclass
class _Track:
    track_id: int
    first_seen_s: float
    last_seen_s: float
    face: FaceResult
    hits: int = 1
    confirmed: bool = False
    emotion: np.ndarray | None = None
    male: float | None = None
    age: float | None = None
    age_uncertainty: float | None = None
    eyewear: float | None = None
    emotion_state: str = ""
    matched_now: bool = field(default=True)
    frames_since_identity: int | None = None  # None: never embedded
    identity_votes: deque = field(default_factory=lambda: deque(maxlen=IDENTITY_VOTES))
    identity: IdentityMatch | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px/s of the box centre

    def move_to(self, face: FaceResult, time_s: float) -> None:
        """Take ``face`` as the track's newest detection and update the velocity estimate."""
        elapsed = time_s - self.last_seen_s
        if elapsed > 0:
            measured = (_centre(face) - _centre(self.face)) / elapsed
            self.velocity = measured if self.hits == 1 else 0.5 * (self.velocity + measured)
        self.face, self.last_seen_s, self.hits, self.matched_now = face, time_s, self.hits + 1, True

    def predicted_shift(self, time_s: float) -> np.ndarray:
        return self.velocity * (time_s - self.last_seen_s)

    def smooth(self, face: FaceResult, weight: float) -> None:
        def blend(old, new):
            return new if old is None else old + weight * (new - old)

        if face.emotion is not None:
            scores = np.array([face.emotion.scores[label] for label in EMOTION_LABELS])
            self.emotion = blend(self.emotion, scores)
        if face.gender is not None:
            self.male = blend(self.male, face.gender.scores["male"])
        if face.age is not None:
            self.age = blend(self.age, face.age)
        if face.age_uncertainty_years is not None:
            self.age_uncertainty = blend(self.age_uncertainty, face.age_uncertainty_years)
        if face.eyewear is not None:
            self.eyewear = blend(self.eyewear, face.eyewear.probability)

    def smoothed_face(self) -> FaceResult:
        emotion = None if self.emotion is None else Classification.from_probabilities(EMOTION_LABELS, self.emotion)
        if emotion is not None and self.emotion_state:
            index = EMOTION_LABELS.index(self.emotion_state)
            emotion = Classification(self.emotion_state, float(self.emotion[index]), emotion.scores)
        gender = None
        if self.male is not None and self.face.gender is not None:
            # the smoothed probability and age, decided by the rule that decided this frame
            gender = self.face.gender.redecide(self.male, self.age)
        eyewear = None
        if self.eyewear is not None and self.face.eyewear is not None:
            eyewear = Eyewear(self.eyewear, self.eyewear >= 0.5)
        return replace(
            self.face,
            emotion=emotion,
            gender=gender,
            age=self.age,
            age_uncertainty_years=self.age_uncertainty,
            eyewear=eyewear,
            identity=self.identity,
        )

    def vote(self, match: IdentityMatch) -> bool:
        """Count one frame's identity; returns True when the track's name became known or changed.

        A name is taken when it holds a strict majority of the kept votes (an unknown face votes
        for nobody). Once named, the track keeps its name while it lives: unknown frames do not
        remove it, and another name replaces it only by a majority of a full set of votes.
        """
        self.identity_votes.append(match)
        counts = Counter(m.name for m in self.identity_votes)
        name, count = counts.most_common(1)[0]
        current = self.identity.name if self.identity is not None else None
        distances = [m.distance for m in self.identity_votes if m.name == name]
        if name is None or 2 * count <= len(self.identity_votes):
            if self.identity is None:  # no decision yet: say how near the nearest person is
                self.identity = IdentityMatch(None, min(m.distance for m in self.identity_votes))
            elif current is not None:
                self.identity = IdentityMatch(current, self.identity.distance)
            return False
        if current is not None and name != current and len(self.identity_votes) < IDENTITY_VOTES:
            return False
        self.identity = IdentityMatch(name, float(np.mean(distances)))
        return name != current


def _centre(face: FaceResult) -> np.ndarray:
    box = face.detection.box
    return np.array([(box.x_min + box.x_max) / 2, (box.y_min + box.y_max) / 2])


class FaceTracker:
    """Keeps tracks across frames. Call ``update`` once per frame with its faces and time."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = (config or TrackerConfig()).validate()
        self._tracks: list[_Track] = []
        self._ids = itertools.count(1)
        self._last_time_s: float | None = None

    @property
    def active_track_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks if t.confirmed]

    def update(
        self, faces: list[FaceResult], time_s: float, identify: Identify | None = None, every_n_frames: int = 1
    ) -> tuple[list[TrackedFace], list[FaceEvent]]:
        """Associate this frame's faces; returns confirmed tracks seen now, and the events.

        With ``identify``, each confirmed track seen now is embedded on its first frame and then
        every ``every_n_frames`` frames it is seen (all due tracks in one call), and the track's
        name is decided by a vote over those frames (RECOGNIZED when it becomes known).
        """
        if self._last_time_s is not None and time_s < self._last_time_s:
            raise ValueError(f"time went backwards: {time_s} after {self._last_time_s}")
        dt = 0.0 if self._last_time_s is None else time_s - self._last_time_s
        self._last_time_s = time_s
        weight = 1.0 if self.config.smoothing_tau_s == 0 else 1.0 - math.exp(-dt / self.config.smoothing_tau_s)
        # Expire first: a track unseen for longer than max_missing_s is gone, even if its person is back now.
        events = self._expire(time_s)
        for track in self._tracks:
            track.matched_now = False

        rows, cols = self._associate(faces, time_s)
        matched_faces = set()
        for row, col in zip(rows, cols, strict=True):
            track, face = self._tracks[row], faces[col]
            track.move_to(face, time_s)
            track.smooth(face, weight)
            matched_faces.add(col)
        for index, face in enumerate(faces):
            if index not in matched_faces:
                track = _Track(next(self._ids), time_s, time_s, face)
                track.smooth(face, 1.0)
                self._tracks.append(track)

        # A tentative track must be seen on consecutive frames.
        self._tracks = [t for t in self._tracks if t.confirmed or t.matched_now]

        tracked = []
        for track in self._tracks:
            if not track.matched_now:
                continue
            if not track.confirmed and track.hits >= self.config.min_hits:
                track.confirmed = True
                track.emotion_state = self._top_emotion(track)
                events.append(
                    FaceEvent(
                        EventType.APPEARED,
                        track.track_id,
                        time_s,
                        track.emotion_state,
                        track_age_s=time_s - track.first_seen_s,
                    )
                )
            elif track.confirmed:
                events.extend(self._emotion_change(track, time_s))
        if identify is not None:
            events.extend(self._identify(identify, every_n_frames, time_s))
        for track in self._tracks:
            if track.matched_now and track.confirmed:
                tracked.append(
                    TrackedFace(track.track_id, time_s - track.first_seen_s, track.face, track.smoothed_face())
                )
        return tracked, events

    def _identify(self, identify: Identify, every_n_frames: int, time_s: float) -> list[FaceEvent]:
        due = []
        for track in self._tracks:
            if not (track.matched_now and track.confirmed):
                continue
            if track.frames_since_identity is None or track.frames_since_identity + 1 >= every_n_frames:
                due.append(track)
            else:
                track.frames_since_identity += 1
        if not due:
            return []
        matches = identify([t.face for t in due])
        events = []
        for track, match in zip(due, matches, strict=True):
            track.frames_since_identity = 0
            if track.vote(match):
                age_s = time_s - track.first_seen_s
                name, distance = track.identity.name or "", track.identity.distance
                events.append(
                    FaceEvent(
                        EventType.RECOGNIZED, track.track_id, time_s, track.emotion_state, "", age_s, name, distance
                    )
                )
        return events

    def _expire(self, time_s: float) -> list[FaceEvent]:
        """Drop tracks unseen for more than ``max_missing_s``; a DISAPPEARED event for each confirmed one."""
        events, survivors = [], []
        for track in self._tracks:
            if time_s - track.last_seen_s <= self.config.max_missing_s:
                survivors.append(track)
            elif track.confirmed:
                age_s = time_s - track.first_seen_s
                events.append(FaceEvent(EventType.DISAPPEARED, track.track_id, time_s, track.emotion_state, "", age_s))
        self._tracks = survivors
        return events

    def update_or_restart(
        self, faces: list[FaceResult], time_s: float, identify: Identify | None = None, every_n_frames: int = 1
    ) -> tuple[list[TrackedFace], list[FaceEvent], bool]:
        """Like ``update``, but time going backwards (a replay that loops) restarts tracking.

        Returns the tracked faces, the events, and whether tracking was restarted. Ids keep
        counting up across a restart, so they are never reused.
        """
        restarted = self._last_time_s is not None and time_s < self._last_time_s
        if restarted:
            self._tracks = []
            self._last_time_s = None
        tracked, events = self.update(faces, time_s, identify, every_n_frames)
        return tracked, events, restarted

    def _associate(self, faces: list[FaceResult], time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Track rows and face columns matched by minimum total cost, predicted by constant velocity."""
        if not faces or not self._tracks:
            return np.empty(0, int), np.empty(0, int)
        shifts = np.stack([t.predicted_shift(time_s) for t in self._tracks])  # [T, 2]
        track_boxes = np.array([t.face.detection.box.as_list() for t in self._tracks]) + np.tile(shifts, 2)
        face_boxes = np.array([f.detection.box.as_list() for f in faces])
        iou = pairwise_iou(track_boxes, face_boxes)
        distance = self._landmark_distance(faces, shifts)
        allowed = (iou >= self.config.min_iou) | (distance <= self.config.max_landmark_distance)
        cost = np.where(allowed, (1.0 - iou) + np.nan_to_num(distance, nan=1.0), _NO_MATCH)
        rows, cols = linear_sum_assignment(cost)
        keep = cost[rows, cols] < _NO_MATCH
        return rows[keep], cols[keep]

    def _landmark_distance(self, faces: list[FaceResult], shifts: np.ndarray) -> np.ndarray:
        """Mean landmark distance between each predicted track and face, in units of the track's box size."""
        track_points = np.stack([t.face.detection.landmarks for t in self._tracks]) + shifts[:, None, :]
        face_points = np.stack([f.detection.landmarks for f in faces])  # [F, 5, 2]
        sizes = np.array([max(t.face.detection.box.width, t.face.detection.box.height, 1.0) for t in self._tracks])
        gaps = np.linalg.norm(track_points[:, None] - face_points[None], axis=-1).mean(axis=-1)
        return gaps / sizes[:, None]

    @staticmethod
    def _top_emotion(track: _Track) -> str:
        return "" if track.emotion is None else EMOTION_LABELS[int(np.argmax(track.emotion))]

    def _emotion_change(self, track: _Track, time_s: float) -> list[FaceEvent]:
        if track.emotion is None:
            return []
        best = self._top_emotion(track)
        current = track.emotion_state
        if not current:
            track.emotion_state = best
            return []
        margin = track.emotion[EMOTION_LABELS.index(best)] - track.emotion[EMOTION_LABELS.index(current)]
        if best != current and margin > self.config.emotion_hysteresis:
            track.emotion_state = best
            age_s = time_s - track.first_seen_s
            return [FaceEvent(EventType.EMOTION_CHANGED, track.track_id, time_s, best, current, age_s)]
        return []
