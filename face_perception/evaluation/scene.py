"""``eval scene``: people found, posture and lying people on COCO-mini, for several re-look settings.

Truth comes from the COCO person instances and their labeled keypoints:
- a labeled person is any non-crowd person instance; "large" ones have a box at least 10% of the
  image's height (the size of a person a home robot has to notice);
- a person's labeled torso (mid-hip to mid-shoulder of the labeled keypoints) within 35 degrees
  of vertical is *upright*, beyond 60 degrees *lying*; others (or without labeled shoulders and hips)
  are left out of the posture numbers;
- the stand-in for lying people is the same photos turned by 90 degrees both ways: every labeled
  person keeps its box and keypoints (turned), so upright people become lying ones. It is a
  stand-in: real people lying on a floor look different from upright people turned on their side.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.nms import pairwise_iou
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.people import PeopleConfig, PeopleFinder, rotate_image
from face_perception.core.scene.types import POSTURES, PersonObservation
from face_perception.evaluation.coco_split import coco_halves
from face_perception.evaluation.tasks import Report

MATCH_IOU = 0.5
LARGE_FRACTION = 0.1
UPRIGHT_MAX_DEG = 35.0
LYING_MIN_DEG = 60.0
TRUTH_POSTURES = ("upright", "lying")
SETTINGS: dict[str, dict[str, object]] = {
    "posture model (default)": {},
    "keypoint rules, turned detection 'hint'": {"posture_model": "", "rotated_detection": "hint"},
}
TALL_PX = 100.0  # people at least this tall (box height, pixels) are the ones a robot must not miss
MAX_PEOPLE = 20  # COCO photos hold crowds; a home scene rarely more than the default 6


@dataclass(frozen=True)
class LabeledPerson:
    box: np.ndarray  # [4] x1, y1, x2, y2
    keypoints: np.ndarray  # [17, 3] x, y, visibility (0 unlabeled, 1 hidden, 2 visible)
    large: bool


@dataclass(frozen=True)
class LabeledImage:
    path: Path
    people: list[LabeledPerson]
    crowd: np.ndarray  # [M, 4] crowd regions: detections there are neither right nor wrong


def coco_people(data: Path) -> list[LabeledImage]:
    """COCO-mini photos with their person instances and keypoints."""
    folder = data / "coco_mini"
    annotations = json.loads((folder / "person_keypoints_train2017.json").read_text())
    images = {image["id"]: image for image in annotations["images"]}
    people: dict[int, list[LabeledPerson]] = {i: [] for i in images}
    crowd: dict[int, list[list[float]]] = {i: [] for i in images}
    for a in annotations["annotations"]:
        x, y, w, h = a["bbox"]
        box = np.array([x, y, x + w, y + h], dtype=np.float64)
        if a.get("iscrowd"):
            crowd[a["image_id"]].append(box.tolist())
            continue
        keypoints = np.array(a["keypoints"], dtype=np.float64).reshape(17, 3)
        large = h >= LARGE_FRACTION * images[a["image_id"]]["height"]
        people[a["image_id"]].append(LabeledPerson(box, keypoints, large))
    return [
        LabeledImage(folder / "images_train2017" / image["file_name"], people[i], np.array(crowd[i]).reshape(-1, 4))
        for i, image in sorted(images.items())
    ]


def rotate_points(points: np.ndarray, quarter_turns: int, height: int, width: int) -> np.ndarray:
    """(x, y) [N, 2] of an image of height x width, in the image turned counter-clockwise by quarter_turns."""
    x, y = points[:, 0], points[:, 1]
    turns = quarter_turns % 4
    if turns == 0:
        return points.copy()
    if turns == 1:
        return np.stack([y, width - 1 - x], axis=1)
    if turns == 2:
        return np.stack([width - 1 - x, height - 1 - y], axis=1)
    return np.stack([height - 1 - y, x], axis=1)


def turn_person(person: LabeledPerson, quarter_turns: int, height: int, width: int) -> LabeledPerson:
    corners = rotate_points(person.box.reshape(2, 2), quarter_turns, height, width)
    box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
    keypoints = person.keypoints.copy()
    keypoints[:, :2] = rotate_points(person.keypoints[:, :2], quarter_turns, height, width)
    large = (box[3] - box[1]) >= LARGE_FRACTION * (width if quarter_turns % 2 else height) or person.large
    return LabeledPerson(box, keypoints, large)


def truth_posture(keypoints: np.ndarray) -> str | None:
    """'upright', 'lying' or None (in between, or shoulders or hips not labeled) from labeled keypoints."""
    labeled = keypoints[:, 2] > 0
    shoulders, hips = [5, 6], [11, 12]
    if not labeled[shoulders].any() or not labeled[hips].any():
        return None
    top = keypoints[shoulders][labeled[shoulders], :2].mean(axis=0)
    bottom = keypoints[hips][labeled[hips], :2].mean(axis=0)
    dx, dy = top - bottom
    if np.hypot(dx, dy) < 1.0:
        return None
    angle = np.degrees(np.arctan2(abs(dx), -dy))
    if angle <= UPRIGHT_MAX_DEG:
        return "upright"
    if angle >= LYING_MIN_DEG:
        return "lying"
    return None


def _tall(person: LabeledPerson) -> bool:
    """At least TALL_PX on the image's vertical axis in the photo as it is (its longer side once turned)."""
    return bool(max(person.box[2] - person.box[0], person.box[3] - person.box[1]) >= TALL_PX)


def keypoint_hits(predicted: np.ndarray, labeled: LabeledPerson) -> tuple[int, int]:
    """(keypoints within 10% of the box diagonal, visible labeled keypoints)."""
    visible = labeled.keypoints[:, 2] == 2
    diagonal = float(np.hypot(*(labeled.box[2:] - labeled.box[:2])))
    distance = np.hypot(*(predicted[visible, :2] - labeled.keypoints[visible, :2]).T)
    return int((distance <= 0.1 * diagonal).sum()), int(visible.sum())


@dataclass
class Tally:
    labeled: int = 0
    labeled_large: int = 0
    labeled_tall: int = 0
    found: int = 0
    found_large: int = 0
    found_tall: int = 0
    detections: int = 0
    false_detections: int = 0
    images: int = 0
    labeled_lying: int = 0
    lying_found_called_lying: int = 0
    false_lying_calls: int = 0  # people called lying that are not a labeled lying person
    keypoints_hit: int = 0
    keypoints_visible: int = 0
    seconds: list[float] = dataclasses.field(default_factory=list)
    cpu_seconds: list[float] = dataclasses.field(default_factory=list)
    postures: dict[str, dict[str, int]] = dataclasses.field(
        default_factory=lambda: {t: dict.fromkeys(POSTURES, 0) for t in TRUTH_POSTURES}
    )

    def add(self, people: list[PersonObservation], image: LabeledImage | None, truth: list[LabeledPerson]) -> None:
        boxes = np.array([p.box.as_list() for p in people], dtype=np.float64).reshape(-1, 4)
        self.images += 1
        self.labeled += len(truth)
        truth_postures = [truth_posture(t.keypoints) for t in truth]
        self.labeled_lying += truth_postures.count("lying")
        lying_matched: set[int] = set()
        self.labeled_large += sum(t.large for t in truth)
        self.labeled_tall += sum(_tall(t) for t in truth)
        self.detections += len(people)
        matched_detections: set[int] = set()
        if len(truth) and len(people):
            iou = pairwise_iou(np.array([t.box for t in truth]), boxes)
            for t_index in np.argsort(-iou.max(axis=1)):  # greedy, best overlaps first
                candidates = [d for d in np.argsort(-iou[t_index]) if d not in matched_detections]
                if not candidates or iou[t_index, candidates[0]] < MATCH_IOU:
                    continue
                d_index = int(candidates[0])
                matched_detections.add(d_index)
                person, observed = truth[t_index], people[d_index]
                self.found += 1
                self.found_large += int(person.large)
                self.found_tall += int(_tall(person))
                hits, visible = keypoint_hits(observed.keypoints, person)
                self.keypoints_hit += hits
                self.keypoints_visible += visible
                posture = truth_postures[t_index]
                if posture is not None:
                    self.postures[posture][observed.posture] += 1
                if posture == "lying" and observed.posture == "lying":
                    self.lying_found_called_lying += 1
                    lying_matched.add(d_index)
        self.false_lying_calls += sum(
            1 for i, p in enumerate(people) if p.posture == "lying" and i not in lying_matched
        )
        crowd = image.crowd if image is not None else np.zeros((0, 4))
        for d_index in set(range(len(people))) - matched_detections:
            in_crowd = len(crowd) and pairwise_iou(boxes[d_index : d_index + 1], crowd).max() > 0.3
            self.false_detections += 0 if in_crowd else 1

    def summary(self) -> dict[str, float]:
        upright = self.postures["upright"]
        lying = self.postures["lying"]
        return {
            "labeled_people": self.labeled,
            "recall": self.found / max(self.labeled, 1),
            "recall_large": self.found_large / max(self.labeled_large, 1),
            "labeled_tall": self.labeled_tall,
            "recall_tall": self.found_tall / max(self.labeled_tall, 1),
            "precision": (self.detections - self.false_detections) / max(self.detections, 1),
            "keypoints_within_10pct": self.keypoints_hit / max(self.keypoints_visible, 1),
            "upright_people": sum(upright.values()),
            "upright_called_lying": upright["lying"] / max(sum(upright.values()), 1),
            "lying_people": sum(lying.values()),
            "lying_called_lying": lying["lying"] / max(sum(lying.values()), 1),
            "labeled_lying": self.labeled_lying,
            "lying_recall": self.lying_found_called_lying / max(self.labeled_lying, 1),
            "false_lying_calls_per_image": self.false_lying_calls / max(self.images, 1),
            "ms_per_image_median": 1000 * float(np.median(self.seconds)) if self.seconds else 0.0,
            "cpu_ms_per_image_median": 1000 * float(np.median(self.cpu_seconds)) if self.cpu_seconds else 0.0,
        }


def _run(finder: PeopleFinder, images: list[LabeledImage], turns: tuple[int, ...]) -> Tally:
    tally = Tally()
    for image in images:
        pixels = read_image(image.path)
        height, width = pixels.shape[:2]
        for quarter_turns in turns:
            turned = rotate_image(pixels, quarter_turns) if quarter_turns else pixels
            truth = [turn_person(p, quarter_turns, height, width) for p in image.people]
            crowd_image = image if not quarter_turns else None
            began, began_cpu = time.perf_counter(), time.thread_time()
            people, _ = finder.find(turned)
            tally.seconds.append(time.perf_counter() - began)
            tally.cpu_seconds.append(time.thread_time() - began_cpu)
            tally.add(people, crowd_image, truth)
    return tally


def _bars_png(values: dict[str, dict[str, float]], path: Path, title: str) -> None:
    from face_perception.evaluation.plots import plt  # the Agg backend

    settings = list(values)
    metrics = list(next(iter(values.values())))
    figure, axes = plt.subplots(figsize=(2.0 + 1.6 * len(metrics), 3.6))
    width = 0.8 / len(settings)
    for i, setting in enumerate(settings):
        heights = [values[setting][m] for m in metrics]
        bars = axes.bar(np.arange(len(metrics)) + i * width, heights, width, label=setting)
        axes.bar_label(bars, fmt="%.2f", fontsize=7)
    axes.set_xticks(np.arange(len(metrics)) + width * (len(settings) - 1) / 2, metrics, fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_title(title)
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _anomalies(images: list[LabeledImage], store: ModelStore, base: PeopleConfig) -> tuple[int, list[str]]:
    """Photos (as they are) for which ``describe`` raises any alert, and their names."""
    from face_perception.core.scene.analyzer import SceneAnalyzer
    from face_perception.core.scene.config import SceneConfig

    analyzer = SceneAnalyzer(SceneConfig().validate(), PeopleFinder.from_store(base, store))
    alerted = [image.path.name for image in images if analyzer.analyze(read_image(image.path)).alerts]
    return len(alerted), alerted


def eval_scene(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    images = coco_people(data)
    halves = coco_halves(int(i.path.stem) for i in images)
    held_out = [i for i in images if halves[int(i.path.stem)] == "test"]
    store = ModelStore(config.models_dir or None, num_threads=1)
    base = PeopleConfig(max_people=MAX_PEOPLE, **({"object_model": model} if model else {}))
    report = Report(f"Scene: people ({base.object_model} + {base.pose_model} + {base.posture_model or 'rules'})")
    upright_rows, turned_rows = [], []
    plot_upright: dict[str, dict[str, float]] = {}
    plot_turned: dict[str, dict[str, float]] = {}
    for name, overrides in SETTINGS.items():
        finder = PeopleFinder.from_store(dataclasses.replace(base, **overrides), store)
        for part, chosen in (("held-out half", held_out), ("all", images)):
            for label, turns, rows, plot in (
                ("photos as they are", (0,), upright_rows, plot_upright),
                ("photos turned 90 degrees both ways", (1, 3), turned_rows, plot_turned),
            ):
                tally = _run(finder, chosen, turns)
                summary = tally.summary()
                report.metrics[f"{label} / {part} / {name}"] = {**summary, "postures": tally.postures}
                rows.append(
                    [
                        f"{name}, {part} ({len(chosen)})",
                        summary["recall"],
                        f"{summary['recall_tall']:.3f} of {summary['labeled_tall']}",
                        summary["precision"],
                        summary["keypoints_within_10pct"],
                        f"{summary['upright_called_lying']:.3f} of {summary['upright_people']}",
                        f"{summary['lying_called_lying']:.3f} of {summary['lying_people']}",
                        f"{summary['lying_recall']:.3f} of {summary['labeled_lying']}",
                        summary["false_lying_calls_per_image"],
                        f"{summary['ms_per_image_median']:.0f} / {summary['cpu_ms_per_image_median']:.0f}",
                    ]
                )
                if part == "held-out half":
                    plot[name] = {
                        "recall": summary["recall"],
                        f"recall (>= {TALL_PX:.0f} px)": summary["recall_tall"],
                        "precision": summary["precision"],
                        "lying recall": summary["lying_recall"],
                        "upright called lying": summary["upright_called_lying"],
                    }
    header = [
        "setting, photos",
        "person recall",
        f"people >= {TALL_PX:.0f} px found",
        "precision",
        "keypoints within 10%",
        "upright called lying",
        "found lying called lying",
        "lying recall",
        "false lying calls per image",
        "ms per image (wall / CPU, median)",
    ]
    alerted, alerted_names = _anomalies(images, store, base)
    alerted_held_out = sum(1 for n in alerted_names if n in {i.path.name for i in held_out})
    report.metrics["photos_raising_an_anomaly"] = {"all": alerted, "held_out": alerted_held_out}
    report.lines += [
        f"{len(images)} COCO-mini photos, {sum(len(i.people) for i in images)} labeled people "
        f"({sum(p.large for i in images for p in i.people)} large: box at least 10% of the image height); the "
        f"held-out half ({len(held_out)} photos, `face_perception/evaluation/coco_split.py`) was never used to "
        f"train or tune. A person is found when a person box overlaps the labeled box at IoU {MATCH_IOU}; "
        f"'people >= {TALL_PX:.0f} px' are those whose box's longer side is at least {TALL_PX:.0f} pixels. "
        f"Posture truth from the labeled keypoints: torso within {UPRIGHT_MAX_DEG:.0f} degrees of vertical is "
        f"upright, beyond {LYING_MIN_DEG:.0f} lying. Defaults of `PeopleConfig`, except max_people {MAX_PEOPLE}. "
        "Times are per call of `PeopleFinder.find` on the photo (about 640x480), one thread.",
        "",
        "## Photos as they are",
        "",
        "'upright called lying' (of the labeled upright people that were found) and 'false lying calls per "
        "image' (people called lying that are not a labeled lying person, false boxes included) are the false "
        "alarms a robot cares about. 'lying recall' counts labeled lying people found and called lying, of all "
        "labeled lying people.",
        "",
    ]
    report.table(header, upright_rows)
    names = f": {', '.join(alerted_names)}" if alerted_names else ""
    report.lines += [
        f"Photos (as they are, none shows anything wrong) for which `describe` raises an alert: {alerted} of "
        f"{len(images)} ({alerted_held_out} of {len(held_out)} held out){names}.",
        "",
    ]
    report.image("upright.png", "photos as they are, held-out half")
    report.lines += [
        "## Lying stand-in: the same photos turned 90 degrees both ways",
        "",
        "Every labeled person of the turned photos counts (upright people become lying ones). This is a "
        "stand-in for people lying on a floor, not a measurement on them.",
        "",
    ]
    report.table(header, turned_rows)
    report.image("turned.png", "photos turned 90 degrees, held-out half")
    _bars_png(plot_upright, out / "upright.png", "COCO-mini held-out half, as they are")
    _bars_png(plot_turned, out / "turned.png", "COCO-mini held-out half turned 90 degrees (lying stand-in)")
    return report
