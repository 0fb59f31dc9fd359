"""Person tracker: stable ids for people across frames, on header time.

People are matched to tracks by optimal assignment (Hungarian) on box overlap, the
distance between box centres (in units of the track's box size) and the change of box
area (log ratio): a person who falls, whose box turns from tall to wide but keeps about
its area, keeps the id, and a smaller detection beside them does not take it. A track survives ``max_missing_s``
without a match; ids are never reused, also across a restart.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from face_perception.core.checks import check_ranges
from face_perception.core.nms import pairwise_iou
from face_perception.core.scene.types import PersonObservation

_NO_MATCH = 1e6


@dataclass(frozen=True)
class PersonTrackerConfig:
    """Person tracking settings (parameters ``person_tracking.*``)."""

    min_iou: float = 0.1
    max_centre_distance: float = 0.8
    max_missing_s: float = 2.0
    size_weight: float = 0.5

    def validate(self) -> PersonTrackerConfig:
        check_ranges(
            {
                "person_tracking.min_iou": (self.min_iou, 0.0, 1.0),
                "person_tracking.max_centre_distance": (self.max_centre_distance, 0.0, 10.0),
                "person_tracking.max_missing_s": (self.max_missing_s, 0.0, 600.0),
                "person_tracking.size_weight": (self.size_weight, 0.0, 10.0),
            }
        )
        return self


@dataclass(frozen=True)
class TrackedObservation:
    """A person of this frame with its track: id and seconds since first seen."""

    track_id: int
    age_s: float
    observation: PersonObservation


@dataclass
class _Track:
    track_id: int
    first_seen_s: float
    last_seen_s: float
    box: np.ndarray  # [4] x1, y1, x2, y2


def _areas(boxes: np.ndarray) -> np.ndarray:
    return np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)


def _centres(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


class PersonTracker:
    """Keeps person tracks. Call ``update`` once per frame with its people and header time."""

    def __init__(self, config: PersonTrackerConfig | None = None) -> None:
        self.config = (config or PersonTrackerConfig()).validate()
        self._tracks: list[_Track] = []
        self._ids = itertools.count(1)
        self._last_time_s: float | None = None

    @property
    def track_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks]

    def update(self, people: list[PersonObservation], time_s: float) -> list[TrackedObservation]:
        """One tracked entry per observation, in the observations' order.

        Raises:
            ValueError: ``time_s`` is earlier than the previous frame's (use ``update_or_restart``).
        """
        if self._last_time_s is not None and time_s < self._last_time_s:
            raise ValueError(f"time went backwards: {time_s} after {self._last_time_s}")
        self._last_time_s = time_s
        boxes = np.array([p.box.as_list() for p in people], dtype=np.float64).reshape(-1, 4)
        assigned: dict[int, _Track] = {}
        rows, cols = self._associate(boxes)
        for row, col in zip(rows, cols, strict=True):
            track = self._tracks[row]
            track.box, track.last_seen_s = boxes[col], time_s
            assigned[int(col)] = track
        for index in range(len(people)):
            if index not in assigned:
                track = _Track(next(self._ids), time_s, time_s, boxes[index])
                self._tracks.append(track)
                assigned[index] = track
        self._tracks = [t for t in self._tracks if time_s - t.last_seen_s <= self.config.max_missing_s]
        return [
            TrackedObservation(assigned[i].track_id, time_s - assigned[i].first_seen_s, person)
            for i, person in enumerate(people)
        ]

    def restart(self) -> None:
        """Drop every track; ids keep counting up, so they are never reused."""
        self._tracks, self._last_time_s = [], None

    def update_or_restart(
        self, people: list[PersonObservation], time_s: float
    ) -> tuple[list[TrackedObservation], bool]:
        """Like ``update``; time going backwards (a looping replay) drops every track first.

        Returns the tracked people and whether tracking restarted; ids keep counting up.
        """
        restarted = self._last_time_s is not None and time_s < self._last_time_s
        if restarted:
            self.restart()
        return self.update(people, time_s), restarted

    def _associate(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(boxes) or not self._tracks:
            return np.empty(0, int), np.empty(0, int)
        track_boxes = np.stack([t.box for t in self._tracks])
        iou = pairwise_iou(track_boxes, boxes)
        sizes = np.maximum(np.maximum(track_boxes[:, 2] - track_boxes[:, 0], track_boxes[:, 3] - track_boxes[:, 1]), 1)
        distance = np.linalg.norm(_centres(track_boxes)[:, None] - _centres(boxes)[None], axis=-1) / sizes[:, None]
        allowed = (iou >= self.config.min_iou) | (distance <= self.config.max_centre_distance)
        size_change = np.abs(np.log(_areas(track_boxes)[:, None] / _areas(boxes)[None]))
        cost = np.where(allowed, (1.0 - iou) + distance + self.config.size_weight * size_change, _NO_MATCH)
        rows, cols = linear_sum_assignment(cost)
        keep = cost[rows, cols] < _NO_MATCH
        return rows[keep], cols[keep]
