"""Alerts about tracked people, on header time: falls, lying on the floor, distress, not moving.

Each condition is followed per person as a run: it starts the first frame the condition
holds and survives gaps shorter than ``alerts.clear_s`` (a frame of "unknown" posture
does not end a fall). An alert is raised once when its run has lasted long enough, is
updated while the run lasts, and is cleared once the condition has been absent for
``alerts.clear_s``, so a flickering posture never makes alerts chatter.

On a single still image (``still=True``) a state counts as held: someone lying on the
floor raises ``lying_on_floor`` and a sad or afraid face raises ``distress`` at once.
``fall`` and ``motionless`` need a change over time and are never raised from one image.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from face_perception.core.checks import check_ranges
from face_perception.core.scene.sentence import (
    LYING_FURNITURE,
    SentenceConfig,
    furniture_under,
    nearest_object,
    object_word,
    person_phrase,
    usable_face,
    with_article,
)
from face_perception.core.scene.types import Alert, ObjectDetection, Person

DISTRESS_EMOTIONS: tuple[str, ...] = ("fear", "sad")
WRISTS: tuple[int, int] = (9, 10)  # left and right wrist in KEYPOINT_NAMES
UPRIGHT_POSTURES: tuple[str, ...] = ("standing", "sitting")

# A finding of the optional captioner: (the alarming phrase it used, score 0 to 1).
CaptionFinding = tuple[str, float]
CaptionAlerts = Callable[[str], list[CaptionFinding]]


@dataclass(frozen=True)
class AlertConfig:
    """Alert thresholds (parameters ``alerts.*``); times are header time, seconds."""

    fall_window_s: float = 3.0
    lying_min_s: float = 10.0
    distress_min_s: float = 3.0
    distress_min_score: float = 0.5
    motionless_min_s: float = 15.0
    motion_tolerance: float = 0.05
    min_keypoint_score: float = 0.3
    clear_s: float = 2.0
    furniture_min_overlap: float = 0.3
    update_min_score_change: float = 0.1
    dangerous_objects: str = "knife,scissors"  # comma-separated COCO labels; "" turns the alert off
    holding_min_s: float = 1.0
    hand_margin: float = 0.25

    @property
    def dangerous_labels(self) -> frozenset[str]:
        return frozenset(label.strip() for label in self.dangerous_objects.split(",") if label.strip())

    def validate(self) -> AlertConfig:
        check_ranges(
            {
                "alerts.fall_window_s": (self.fall_window_s, 0.0, 60.0),
                "alerts.lying_min_s": (self.lying_min_s, 0.0, 3600.0),
                "alerts.distress_min_s": (self.distress_min_s, 0.0, 3600.0),
                "alerts.distress_min_score": (self.distress_min_score, 0.0, 1.0),
                "alerts.motionless_min_s": (self.motionless_min_s, 0.0, 3600.0),
                "alerts.motion_tolerance": (self.motion_tolerance, 0.0, 1.0),
                "alerts.min_keypoint_score": (self.min_keypoint_score, 0.0, 1.0),
                "alerts.clear_s": (self.clear_s, 0.0, 600.0),
                "alerts.furniture_min_overlap": (self.furniture_min_overlap, 0.0, 1.0),
                "alerts.update_min_score_change": (self.update_min_score_change, 0.0, 1.0),
                "alerts.holding_min_s": (self.holding_min_s, 0.0, 3600.0),
                "alerts.hand_margin": (self.hand_margin, 0.0, 2.0),
            }
        )
        return self


@dataclass(frozen=True)
class AlertUpdate:
    """One frame's alerts: every active one, and those raised, changed or cleared in this frame."""

    active: list[Alert]
    changed: list[Alert]


@dataclass
class _Run:
    """A condition over time: when it started and when it last held; gaps up to ``tolerance_s`` join."""

    since_s: float | None = None
    last_s: float | None = None

    def update(self, holds: bool, time_s: float, tolerance_s: float) -> bool:
        """Feed this frame; returns True when a new run started now."""
        if not holds:
            if self.last_s is not None and time_s - self.last_s > tolerance_s:
                self.since_s = self.last_s = None
            return False
        started = self.last_s is None or time_s - self.last_s > tolerance_s
        if started:
            self.since_s = time_s
        self.last_s = time_s
        return started

    def duration_s(self, time_s: float) -> float:
        return -1.0 if self.since_s is None else time_s - self.since_s

    @property
    def alive(self) -> bool:
        return self.since_s is not None


@dataclass
class _PersonState:
    last_upright_s: float | None = None
    last_furniture_s: float | None = None  # last time a bed or couch was seen under the person
    last_seen_s: float = 0.0
    floor: _Run = field(default_factory=_Run)
    lying: _Run = field(default_factory=_Run)
    still: _Run = field(default_factory=_Run)
    distress: _Run = field(default_factory=_Run)
    holding: _Run = field(default_factory=_Run)
    held: ObjectDetection | None = None  # the dangerous object in the person's hand, last seen
    fall_since_s: float | None = None
    pose_reference: np.ndarray | None = None
    lying_score: float = 0.0
    distress_score: float = 0.0
    person: Person | None = None
    objects: list[ObjectDetection] = field(default_factory=list)


@dataclass
class _Live:
    alert: Alert


def held_object(keypoints: np.ndarray, objects: list[ObjectDetection], config: AlertConfig) -> ObjectDetection | None:
    """The most confident dangerous object (``alerts.dangerous_objects``) whose box, grown by ``hand_margin``
    of its size on each side, holds a confident wrist; None when there is none."""
    labels = config.dangerous_labels
    wrists = keypoints[list(WRISTS)]
    wrists = wrists[wrists[:, 2] >= config.min_keypoint_score, :2]
    if not labels or not len(wrists):
        return None
    best = None
    for obj in objects:
        if obj.label not in labels or (best is not None and obj.score <= best.score):
            continue
        box = obj.box
        margin = config.hand_margin * max(box.width, box.height)
        inside = (
            (wrists[:, 0] >= box.x_min - margin)
            & (wrists[:, 0] <= box.x_max + margin)
            & (wrists[:, 1] >= box.y_min - margin)
            & (wrists[:, 1] <= box.y_max + margin)
        )
        if inside.any():
            best = obj
    return best


class AlertEngine:
    """Turns tracked people, frame after frame, into raised, updated and cleared alerts."""

    def __init__(self, config: AlertConfig | None = None, sentence: SentenceConfig | None = None) -> None:
        self.config = (config or AlertConfig()).validate()
        self.sentence = (sentence or SentenceConfig()).validate()
        self._ids = itertools.count(1)
        self._people: dict[int, _PersonState] = {}
        self._captions: dict[str, _Run] = {}
        self._caption_scores: dict[str, float] = {}
        self._live: dict[tuple[str, int | str], _Live] = {}
        self._last_time_s: float | None = None

    @property
    def active(self) -> list[Alert]:
        return [live.alert for live in self._live.values()]

    def reset(self) -> None:
        """Forget every person (a replay looped); active alerts clear at the next update."""
        self._people = {}
        self._captions = {}
        self._caption_scores = {}
        self._last_time_s = None

    def update(
        self,
        people: list[Person],
        objects: list[ObjectDetection],
        time_s: float,
        still: bool = False,
        caption_findings: list[CaptionFinding] | None = None,
    ) -> AlertUpdate:
        """Feed one frame's tracked people (``Person.track_id`` set) and context objects."""
        if self._last_time_s is not None and time_s < self._last_time_s:
            raise ValueError(f"time went backwards: {time_s} after {self._last_time_s}")
        self._last_time_s = time_s
        wanted: dict[tuple[str, int | str], tuple[float, float, tuple[int, ...], str]] = {}
        seen = set()
        for person in people:
            seen.add(person.track_id)
            state = self._people.setdefault(person.track_id, _PersonState())
            self._observe(state, person, objects, time_s)
            for alert_type, (since_s, score) in self._conditions(state, time_s, still).items():
                wanted[(alert_type, person.track_id)] = (
                    since_s,
                    score,
                    (person.track_id,),
                    self._describe(alert_type, state, still),
                )
        for track_id, state in list(self._people.items()):
            if track_id in seen:
                continue
            for run in (state.floor, state.lying, state.still, state.distress, state.holding):
                run.update(False, time_s, self.config.clear_s)
            for alert_type, (since_s, score) in self._conditions(state, time_s, still).items():
                wanted[(alert_type, track_id)] = (since_s, score, (track_id,), self._describe(alert_type, state, still))
            if time_s - state.last_seen_s > self.config.clear_s and not any(k[1] == track_id for k in wanted):
                del self._people[track_id]
        for phrase, (since_s, score) in self._caption_conditions(caption_findings or [], time_s).items():
            wanted[("caption", phrase)] = (since_s, score, (), f"The scene looks alarming: {phrase}.")
        return self._apply(wanted, time_s)

    # -- per-person conditions ---------------------------------------------------------------

    def _observe(self, state: _PersonState, person: Person, objects: list[ObjectDetection], time_s: float) -> None:
        config = self.config
        observation = person.observation
        state.last_seen_s, state.person, state.objects = time_s, person, objects
        lying = observation.posture == "lying"
        if furniture_under(observation.box, objects, LYING_FURNITURE, config.furniture_min_overlap) is not None:
            state.last_furniture_s = time_s
        # a bed or couch missed by the detector for less than clear_s is still there
        on_furniture = state.last_furniture_s is not None and time_s - state.last_furniture_s <= config.clear_s
        if observation.posture in UPRIGHT_POSTURES:
            state.last_upright_s = time_s
        state.lying.update(lying, time_s, config.clear_s)
        started = state.floor.update(lying and not on_furniture, time_s, config.clear_s)
        if lying:
            state.lying_score = observation.posture_score
        if started:
            recent = state.last_upright_s is not None and time_s - state.last_upright_s <= config.fall_window_s
            state.fall_since_s = time_s if recent else None
        if not state.floor.alive:
            state.fall_since_s = None
        if not lying:
            state.pose_reference = None
        if lying and self._moved(state, observation.keypoints, observation.box):
            state.still = _Run()  # moved: stillness starts over from this pose
        else:
            state.still.update(lying, time_s, config.clear_s)
        face = usable_face(person, self.sentence)
        distressed = (
            face is not None
            and face.emotion is not None
            and face.emotion.label in DISTRESS_EMOTIONS
            and face.emotion.score >= config.distress_min_score
        )
        if distressed:
            state.distress_score = face.emotion.score
        state.distress.update(distressed, time_s, config.clear_s)
        held = held_object(observation.keypoints, objects, config)
        if held is not None:
            state.held = held
        state.holding.update(held is not None, time_s, config.clear_s)

    def _moved(self, state: _PersonState, keypoints: np.ndarray, box) -> bool:
        """Whether the confident keypoints moved more than the tolerance since the still run began."""
        reference = state.pose_reference
        confident = keypoints[:, 2] >= self.config.min_keypoint_score
        if reference is None or not (confident & (reference[:, 2] >= self.config.min_keypoint_score)).any():
            state.pose_reference = keypoints.copy()
            return True
        both = confident & (reference[:, 2] >= self.config.min_keypoint_score)
        size = max(box.width, box.height, 1.0)
        shift = float(np.linalg.norm(keypoints[both, :2] - reference[both, :2], axis=1).mean()) / size
        if shift > self.config.motion_tolerance:
            state.pose_reference = keypoints.copy()
            return True
        return False

    def _conditions(self, state: _PersonState, time_s: float, still: bool) -> dict[str, tuple[float, float]]:
        """Alert types whose condition is met now: type -> (since when, score)."""
        config = self.config
        met: dict[str, tuple[float, float]] = {}
        if state.floor.alive and (still or state.floor.duration_s(time_s) >= config.lying_min_s):
            met["lying_on_floor"] = (state.floor.since_s, state.lying_score)
        if state.fall_since_s is not None and state.floor.alive and not still:
            met["fall"] = (state.fall_since_s, state.lying_score)
        if (
            not still
            and state.lying.alive
            and state.still.alive
            and state.still.duration_s(time_s) >= config.motionless_min_s
        ):
            met["motionless"] = (state.still.since_s, state.lying_score)
        if state.distress.alive and (still or state.distress.duration_s(time_s) >= config.distress_min_s):
            met["distress"] = (state.distress.since_s, state.distress_score)
        if state.holding.alive and (still or state.holding.duration_s(time_s) >= config.holding_min_s):
            met["holding_dangerous_object"] = (state.holding.since_s, state.held.score if state.held else 0.0)
        return met

    def _caption_conditions(self, findings: list[CaptionFinding], time_s: float) -> dict[str, tuple[float, float]]:
        met = {}
        current = dict(findings)
        for phrase in set(self._captions) | set(current):
            run = self._captions.setdefault(phrase, _Run())
            run.update(phrase in current, time_s, self.config.clear_s)
            if phrase in current:
                self._caption_scores[phrase] = float(current[phrase])
            if run.alive:
                met[phrase] = (run.since_s, self._caption_scores[phrase])
            else:
                del self._captions[phrase]
                self._caption_scores.pop(phrase, None)
        return met

    def _describe(self, alert_type: str, state: _PersonState, still: bool) -> str:
        """The alert's sentence; it names no changing duration, so it only changes with its subject."""
        phrase, _ = person_phrase(state.person, self.sentence)
        subject = phrase[0].upper() + phrase[1:]
        box = state.person.observation.box
        near = nearest_object(box, state.objects, None)
        where = "on the floor" + (f" next to {with_article(object_word(near.label))}" if near is not None else "")
        if alert_type == "holding_dangerous_object":
            thing = with_article(object_word(state.held.label)) if state.held is not None else "something sharp"
            return f"{subject} is holding {thing}."
        if still:  # one photo shows a state, not how long it lasted
            if alert_type == "lying_on_floor":
                return f"{subject} is lying {where}."
            return f"{subject} looks distressed."
        if alert_type == "fall":
            return f"{subject} seems to have fallen and is lying {where}."
        if alert_type == "lying_on_floor":
            return f"{subject} has been lying {where} for at least {self.config.lying_min_s:g} s."
        if alert_type == "motionless":
            return f"{subject} is lying and has not moved for at least {self.config.motionless_min_s:g} s."
        return f"{subject} has looked distressed for at least {self.config.distress_min_s:g} s."

    # -- raise, update, clear ----------------------------------------------------------------

    def _apply(self, wanted: dict, time_s: float) -> AlertUpdate:
        changed: list[Alert] = []
        for key in list(self._live):
            if key not in wanted:
                cleared = replace(self._live.pop(key).alert, active=False, updated_s=time_s)
                changed.append(cleared)
        for key, (since_s, score, people, description) in wanted.items():
            live = self._live.get(key)
            if live is None:
                alert = Alert(next(self._ids), key[0], float(score), people, since_s, description, True, time_s)
                self._live[key] = _Live(alert)
                changed.append(alert)
                continue
            old = live.alert
            significant = (
                description != old.description
                or people != old.people
                or abs(score - old.score) >= self.config.update_min_score_change
            )
            if significant:
                live.alert = replace(old, score=float(score), people=people, description=description, updated_s=time_s)
                changed.append(live.alert)
        return AlertUpdate(self.active, changed)
