"""``eval falls``: fall and lying-on-floor alerts on sequences built from real COCO-mini photos.

Each photo with one large labeled upright person (torso within 35 degrees of vertical, ankles
labeled) gives two sequences at ``FPS`` frames per second of header time, in a 640x640 frame:
- a fall: the photo for ``UPRIGHT_S``, then the photo turned a quarter around the person's
  ankles (the person lies on the floor) for ``LYING_S``, then upright again for ``UP_AGAIN_S``;
- no fall: the photo for the same total time.
The real people finder and the scene analyzer (no faces) run on every frame; the frames of a
phase are the same image, so the finder's result per distinct image is computed once.
Turned photos are a stand-in: real people on a floor look different from upright people turned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import ExternalFaces, SceneAnalyzer
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig, PeopleFinder
from face_perception.core.scene.types import ObjectDetection, PersonObservation
from face_perception.evaluation.scene import coco_people, truth_posture
from face_perception.evaluation.tasks import Report

FPS = 2.0
UPRIGHT_S, LYING_S, UP_AGAIN_S = 3.0, 14.0, 5.0
FRAME_SIDE = 640


@dataclass(frozen=True)
class Sequence:
    name: str
    phases: list[tuple[np.ndarray, float]]  # (image, seconds) in order
    fall_at_s: float | None  # header time of the first lying frame; None: no fall


@dataclass
class _Outcome:
    fall_raised_s: float | None = None
    fall_cleared_s: float | None = None
    lying_raised_s: float | None = None
    false_alerts: int = 0


def _framed(image: np.ndarray) -> np.ndarray:
    frame = np.full((FRAME_SIDE, FRAME_SIDE, 3), 110, np.uint8)
    height, width = min(image.shape[0], FRAME_SIDE), min(image.shape[1], FRAME_SIDE)
    frame[:height, :width] = image[:height, :width]
    return frame


def _turned_about(frame: np.ndarray, pivot: np.ndarray, towards_left: bool) -> np.ndarray:
    """The frame turned a quarter around ``pivot``: an upright person's head goes left or right."""
    matrix = cv2.getRotationMatrix2D((float(pivot[0]), float(pivot[1])), -90.0 if towards_left else 90.0, 1.0)
    return cv2.warpAffine(frame, matrix, (FRAME_SIDE, FRAME_SIDE), borderValue=(110, 110, 110))


def fall_sequences(data: Path) -> list[Sequence]:
    """A fall and a no-fall sequence per photo with one large upright person whose ankles are labeled."""
    sequences = []
    for labeled in coco_people(data):
        large = [p for p in labeled.people if p.large]
        if len(large) != 1 or truth_posture(large[0].keypoints) != "upright":
            continue
        ankles = large[0].keypoints[15:17]
        if not (ankles[:, 2] > 0).any():
            continue
        frame = _framed(read_image(labeled.path))
        pivot = ankles[ankles[:, 2] > 0, :2].mean(axis=0)
        turned = _turned_about(frame, pivot, towards_left=pivot[0] > FRAME_SIDE / 2)
        name = labeled.path.name
        sequences.append(Sequence(name, [(frame, UPRIGHT_S), (turned, LYING_S), (frame, UP_AGAIN_S)], UPRIGHT_S))
        sequences.append(Sequence(name, [(frame, UPRIGHT_S + LYING_S + UP_AGAIN_S)], None))
    return sequences


class _CachedFinder:
    """The people finder, asked once per distinct image."""

    def __init__(self, finder: PeopleFinder) -> None:
        self.finder = finder
        self.cache: dict[int, tuple[list[PersonObservation], list[ObjectDetection]]] = {}
        self.seconds: list[float] = []

    def find(self, image_bgr: np.ndarray) -> tuple[list[PersonObservation], list[ObjectDetection]]:
        key = hash(image_bgr.tobytes())
        if key not in self.cache:
            began = time.perf_counter()
            self.cache[key] = self.finder.find(image_bgr)
            self.seconds.append(time.perf_counter() - began)
        return self.cache[key]


def run_sequence(analyzer: SceneAnalyzer, sequence: Sequence) -> _Outcome:
    analyzer.reset()
    outcome, time_s = _Outcome(), 0.0
    for image, seconds in sequence.phases:
        for _ in range(round(seconds * FPS)):
            result = analyzer.analyze(image, time_s, ExternalFaces([], []))
            for alert in result.changed_alerts:
                if sequence.fall_at_s is None and alert.active:
                    outcome.false_alerts += 1
                elif alert.type == "fall" and alert.active and outcome.fall_raised_s is None:
                    outcome.fall_raised_s = time_s
                elif alert.type == "fall" and not alert.active and outcome.fall_cleared_s is None:
                    outcome.fall_cleared_s = time_s
                elif alert.type == "lying_on_floor" and alert.active and outcome.lying_raised_s is None:
                    outcome.lying_raised_s = time_s
            time_s += 1.0 / FPS
    return outcome


def eval_falls(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    """Falls found, their delay, clearing after getting up, and false alarms on no-fall sequences."""
    scene = SceneConfig().validate()
    finder = _CachedFinder(PeopleFinder.from_store(PeopleConfig(), ModelStore(config.models_dir or None)))
    analyzer = SceneAnalyzer(scene, finder)
    sequences = fall_sequences(data)
    falls = [s for s in sequences if s.fall_at_s is not None]
    calm = [s for s in sequences if s.fall_at_s is None]
    fall_outcomes = [(s, run_sequence(analyzer, s)) for s in falls]
    calm_outcomes = [run_sequence(analyzer, s) for s in calm]
    window_s = scene.alerts.fall_window_s
    found = [(s, o) for s, o in fall_outcomes if o.fall_raised_s is not None]
    delays = [o.fall_raised_s - s.fall_at_s for s, o in found]
    up_at = UPRIGHT_S + LYING_S
    cleared = [o for _, o in found if o.fall_cleared_s is not None and o.fall_cleared_s >= up_at]
    lying = [o for _, o in fall_outcomes if o.lying_raised_s is not None]
    metrics = {
        "fall_sequences": len(falls),
        "falls_found": len(found),
        "fall_recall": len(found) / len(falls) if falls else float("nan"),
        "median_delay_s": float(np.median(delays)) if delays else float("nan"),
        "lying_on_floor_raised": len(lying),
        "cleared_after_getting_up": len(cleared),
        "median_clear_delay_s": float(np.median([o.fall_cleared_s - up_at for o in cleared])) if cleared else None,
        "no_fall_sequences": len(calm),
        "false_alarm_sequences": sum(o.false_alerts > 0 for o in calm_outcomes),
        "finder_ms_median": 1000.0 * float(np.median(finder.seconds)) if finder.seconds else None,
    }
    report = Report("Falls on turned COCO-mini photos (fall, lying_on_floor alerts)", metrics=metrics)
    report.lines += [
        f"Sequences at {FPS:g} fps of header time: upright {UPRIGHT_S:g} s, turned a quarter around the ankles "
        f"(lying) {LYING_S:g} s, upright again {UP_AGAIN_S:g} s; no-fall sequences stay upright. Default alert "
        f"settings (fall window {window_s:g} s, lying_on_floor after {scene.alerts.lying_min_s:g} s, "
        f"clear after {scene.alerts.clear_s:g} s).",
        "",
    ]
    report.table(
        ["measure", "value"],
        [
            ["falls found", f"{len(found)} / {len(falls)}"],
            ["median delay from the first lying frame", metrics["median_delay_s"]],
            ["lying_on_floor raised", f"{len(lying)} / {len(falls)}"],
            ["fall cleared after getting up", f"{len(cleared)} / {len(found)}"],
            ["no-fall sequences with any alert", f"{metrics['false_alarm_sequences']} / {len(calm)}"],
        ],
    )
    report.table(
        ["photo", "fall raised (s)", "lying_on_floor (s)", "cleared (s)"],
        [[s.name, o.fall_raised_s, o.lying_raised_s, o.fall_cleared_s] for s, o in fall_outcomes],
    )
    return report
