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
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.nms import box_iou
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import ExternalFaces, SceneAnalyzer
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig, PeopleFinder, rotate_image
from face_perception.core.scene.types import ObjectDetection, Person, PersonObservation
from face_perception.core.timing import StageTimer
from face_perception.evaluation.falls_photos import falls_photos, turn_box, upright_turns
from face_perception.evaluation.scene import MATCH_IOU, coco_people, truth_posture
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

    def find(
        self, image_bgr: np.ndarray, timer: StageTimer | None = None
    ) -> tuple[list[PersonObservation], list[ObjectDetection]]:
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
    """The falls photos' held-out part (people, posture, anomalies), then fall sequences of turned COCO photos."""
    photo_metrics, photo_lines = eval_falls_photos(data, out, config)
    report = eval_fall_sequences(data, out, config, model)
    report.title = "Falls: held-out falls photos, and fall sequences of turned COCO-mini photos"
    report.metrics = {"photos": photo_metrics, "sequences": report.metrics}
    report.lines = [*photo_lines, "## Fall sequences of turned COCO-mini photos", "", *report.lines]
    return report


def eval_fall_sequences(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
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


# --- falls photos --------------------------------------------------------------------------------

TRUTH_LABELS = ("fall", "sit", "stand")
CALLED = ("standing", "sitting", "lying on the floor", "lying on furniture", "unknown", "not found")
ANOMALY_TYPES = frozenset({"fall", "lying_on_floor", "distress", "motionless"})


@dataclass
class _PhotoTally:
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {label: dict.fromkeys(CALLED, 0) for label in TRUTH_LABELS}
    )
    fall_photos: int = 0
    fall_photos_alerted: int = 0
    calm_photos: int = 0
    calm_photos_alerted: int = 0
    false_people: int = 0
    with_a_candidate: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TRUTH_LABELS, 0))
    cpu_seconds: list[float] = field(default_factory=list)


def _called(person: Person, on_floor: set[int]) -> str:
    posture = person.observation.posture
    if posture == "lying":
        return "lying on the floor" if person.track_id in on_floor else "lying on furniture"
    return posture


BEFORE = {"posture_model": "", "rotated_detection": "hint"}  # the keypoint rules and turned re-look of before


def _tally_photos(
    analyzer: SceneAnalyzer, chosen: list, turns: dict, finder: PeopleFinder | None = None
) -> tuple[_PhotoTally, dict[str, _PhotoTally]]:
    """Tallies of the analysis of ``chosen`` photos, overall and per kind. With ``finder``, also how
    many labeled people have one of its person candidates at ``MATCH_IOU``: what any decision among
    the candidates could find at best."""
    tally = _PhotoTally()
    per_kind: dict[str, _PhotoTally] = {}
    for photo in chosen:
        image = rotate_image(read_image(photo.path), turns[photo.path])
        height, width = image.shape[:2]
        truth = [(turn_box(p.box, turns[photo.path], height, width), p.label) for p in photo.people]
        began = time.thread_time()
        result = analyzer.analyze(image)
        tally.cpu_seconds.append(time.thread_time() - began)
        kind = per_kind.setdefault(photo.kind, _PhotoTally())
        on_floor = {i for a in result.alerts if a.type == "lying_on_floor" for i in a.people}
        boxes = np.array([p.observation.box.as_list() for p in result.people]).reshape(-1, 4)
        if finder is not None:
            candidates, _ = finder.candidates(image)
            candidate_boxes = np.array([c.detection.box.as_list() for c in candidates]).reshape(-1, 4)
            for box, label in truth:
                if len(candidate_boxes) and box_iou(np.array(box.as_list()), candidate_boxes).max() >= MATCH_IOU:
                    for t in (tally, kind):
                        t.with_a_candidate[label] += 1
        used: set[int] = set()
        for box, label in sorted(truth, key=lambda t: -t[0].width * t[0].height):
            overlap = box_iou(np.array(box.as_list()), boxes)
            order = [i for i in np.argsort(-overlap) if i not in used and overlap[i] >= MATCH_IOU]
            called = "not found"
            if order:
                used.add(int(order[0]))
                called = _called(result.people[int(order[0])], on_floor)
            for t in (tally, kind):
                t.confusion[label][called] += 1
        alerted = any(a.type in ANOMALY_TYPES for a in result.alerts)
        has_fall = any(label == "fall" for _, label in truth)
        for t in (tally, kind):
            t.false_people += len(result.people) - len(used)
            if has_fall:
                t.fall_photos += 1
                t.fall_photos_alerted += int(alerted)
            else:
                t.calm_photos += 1
                t.calm_photos_alerted += int(alerted)
    return tally, per_kind


def eval_falls_photos(
    data: Path, out: Path, config: PipelineConfig, split: str = "test", limit: int | None = None
) -> tuple[dict, list[str]]:
    """People found, posture, and single-photo anomalies on the falls photos of ``split``, turned upright;
    the default people finder, and the keypoint rules of before for comparison. ``limit``: only that
    many photos, spread over the split (quick checks; their orientation then comes from them alone)."""
    store = ModelStore(config.models_dir or None, num_threads=1)
    finder = PeopleFinder.from_store(PeopleConfig(), store)
    photos = falls_photos(data)
    chosen = [p for p in photos if p.split == split]
    if limit:  # spread over the kinds, which the file names group
        chosen = chosen[:: max(1, len(chosen) // limit)][:limit]
    cache = out / "upright_turns.json"
    turns = upright_turns(chosen if limit else photos, finder.detector, read_image, None if limit else cache)
    tally, per_kind = _tally_photos(SceneAnalyzer(SceneConfig().validate(), finder), chosen, turns, finder)
    before_finder = PeopleFinder.from_store(PeopleConfig(**BEFORE), store)
    before, _ = _tally_photos(SceneAnalyzer(SceneConfig().validate(), before_finder), chosen, turns, before_finder)

    def summary(t: _PhotoTally) -> dict[str, float]:
        rows = t.confusion
        people = sum(sum(r.values()) for r in rows.values())
        found = people - sum(r["not found"] for r in rows.values())
        falls = sum(rows["fall"].values())
        upright = sum(rows["sit"].values()) + sum(rows["stand"].values())
        upright_lying = sum(rows[x]["lying on the floor"] + rows[x]["lying on furniture"] for x in ("sit", "stand"))
        return {
            "people": people,
            "people_found": found / max(people, 1),
            "fallen_people": falls,
            "fallen_found": (falls - rows["fall"]["not found"]) / max(falls, 1),
            "people_with_a_candidate": sum(t.with_a_candidate.values()) / max(people, 1),
            "fallen_with_a_candidate": t.with_a_candidate["fall"] / max(falls, 1),
            "fallen_called_lying": (rows["fall"]["lying on the floor"] + rows["fall"]["lying on furniture"])
            / max(falls, 1),
            "fallen_called_lying_on_floor": rows["fall"]["lying on the floor"] / max(falls, 1),
            "sitting_or_standing_people": upright,
            "sitting_or_standing_called_lying": upright_lying / max(upright, 1),
            "photos_with_a_fall": t.fall_photos,
            "photos_with_a_fall_alerted": t.fall_photos_alerted / max(t.fall_photos, 1),
            "calm_photos": t.calm_photos,
            "calm_photos_alerted": t.calm_photos_alerted / max(t.calm_photos, 1),
            "false_people_per_photo": t.false_people / max(t.fall_photos + t.calm_photos, 1),
        }

    metrics = {"all": summary(tally), **{k: summary(v) for k, v in sorted(per_kind.items())}}
    metrics["all"]["cpu_ms_per_photo_median"] = 1000 * float(np.median(tally.cpu_seconds)) if chosen else None
    metrics["confusion"] = tally.confusion
    metrics["before"] = {**summary(before), "confusion": before.confusion}
    metrics["before"]["cpu_ms_per_photo_median"] = 1000 * float(np.median(before.cpu_seconds)) if chosen else None
    lines = [
        f"## Falls photos, {split} part: {len(chosen)} photos turned upright",
        "",
        f"Held-out clips and source photos of `falls/` ({split} part of the split by clip and source photo, "
        "`face_perception/evaluation/falls_photos.py`), each turned upright first (`upright_turns`). "
        f"`describe` on each photo as a still (default parameters, no faces); a labeled person is found "
        f"when a person box overlaps it at IoU {MATCH_IOU}. An anomaly is an active fall, lying_on_floor, "
        "distress or motionless alert.",
        "",
        "| measure | all | " + " | ".join(sorted(per_kind)) + " | all, keypoint rules (before) |",
        "|---|---|" + "---|" * len(per_kind) + "---|",
    ]
    keys = [
        ("people found (IoU >= 0.5)", "people_found"),
        ("fallen people found", "fallen_found"),
        ("people with a person candidate at IoU >= 0.5 (the most any decision could find)", "people_with_a_candidate"),
        ("fallen people with a person candidate", "fallen_with_a_candidate"),
        ("fallen people called lying", "fallen_called_lying"),
        ("fallen people called lying on the floor", "fallen_called_lying_on_floor"),
        ("sitting or standing people called lying", "sitting_or_standing_called_lying"),
        ("photos with a fall raising an anomaly", "photos_with_a_fall_alerted"),
        ("calm photos raising an anomaly", "calm_photos_alerted"),
        ("person boxes matching no labeled person, per photo", "false_people_per_photo"),
    ]
    for title, key in keys:
        cells = [metrics["all"][key], *(metrics[k][key] for k in sorted(per_kind)), metrics["before"][key]]
        lines.append(f"| {title} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    counts = metrics["all"]
    lines += [
        "",
        f"{counts['people']} labeled people ({counts['fallen_people']} fallen, "
        f"{counts['sitting_or_standing_people']} sitting or standing); {counts['photos_with_a_fall']} photos "
        f"with a fall, {counts['calm_photos']} without. Median CPU time per photo "
        f"{counts['cpu_ms_per_photo_median']:.0f} ms (people, posture, alerts and sentence; one thread); "
        f"{metrics['before']['cpu_ms_per_photo_median']:.0f} ms with the keypoint rules of before "
        '(`people.posture_model: ""`, `people.rotated_detection: hint`).',
        "",
        "Confusion (rows: label; columns: what the scene analysis called the person):",
        "",
        "| label | " + " | ".join(CALLED) + " |",
        "|---|" + "---|" * len(CALLED),
        *(f"| {t} | " + " | ".join(str(tally.confusion[t][c]) for c in CALLED) + " |" for t in TRUTH_LABELS),
        "",
    ]
    return metrics, lines
