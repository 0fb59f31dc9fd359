"""One evaluation per task: run the pipeline on labeled data, compute metrics, draw plots, write markdown."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.nms import pairwise_iou
from face_perception.core.pipeline import FacePipeline
from face_perception.core.types import EMOTION_LABELS, FaceResult
from face_perception.evaluation import datasets, plots
from face_perception.evaluation.metrics import balanced_accuracy, by_group, calibration, confusion

BATCH = 256


@dataclass
class Report:
    """Markdown lines, the numbers as a dict, and the plot files written next to the report."""

    title: str
    lines: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        self.lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
        self.lines.append("")

    def image(self, name: str, caption: str) -> None:
        self.lines += [f"![{caption}]({name})", ""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def _run_head(
    head: str, config: PipelineConfig, model: str | None, paths: list[Path]
) -> tuple[str, list[FaceResult], float]:
    """Run one head alone (with an optional model override) on face crops.

    Returns the model id, one result per crop, and the seconds per crop.
    """
    params = config.to_parameters()
    for name in config.heads:
        params[f"{name}.enabled"] = name == head
    if model:
        params[f"{head}.model"] = model
    pipeline = FacePipeline(PipelineConfig.from_parameters(params))
    results: list[FaceResult] = []
    began = time.perf_counter()
    for start in range(0, len(paths), BATCH):
        results += pipeline.process_crops([read_image(p) for p in paths[start : start + BATCH]])
    return pipeline.config.heads[head].model, results, (time.perf_counter() - began) / max(len(paths), 1)


def _groups_section(
    report: Report, out: Path, name: str, values: np.ndarray, samples, ylabel: str, eyewear: bool = True
) -> dict[str, dict[str, tuple[float, int]]]:
    groupings = {
        "gender": np.array([s.gender for s in samples]),
        "age band": np.array([s.age_band for s in samples]),
        "race": np.array([s.race for s in samples]),
    }
    if eyewear:
        labeled = np.array([s.eyewear in ("glasses", "sunglasses", "none") for s in samples])
        kinds = np.array(["with eyewear" if s.eyewear in ("glasses", "sunglasses") else "no eyewear" for s in samples])
        groupings["eyewear (labeled subset)"] = (kinds, labeled)
    table: dict[str, dict[str, tuple[float, int]]] = {}
    for grouping, groups in groupings.items():
        if isinstance(groups, tuple):
            groups, mask = groups
            table[grouping] = by_group(values[mask], groups[mask])
        else:
            table[grouping] = by_group(values, groups)
    rows = [
        [grouping, group, value, count]
        for grouping, groups in table.items()
        for group, (value, count) in groups.items()
    ]
    report.table(["grouping", "group", ylabel, "images"], rows)
    plots.groups_png(table, out / f"{name}_groups.png", f"{report.title}: {ylabel} per group", ylabel)
    report.image(f"{name}_groups.png", f"{ylabel} per group")
    return table


def _plots(report: Report, out: Path, name: str, matrix: np.ndarray, labels: list[str], cal, model_id: str) -> None:
    """Confusion matrix and reliability diagram, written next to the report and linked from it."""
    plots.confusion_png(matrix, labels, out / f"{name}_confusion.png", model_id)
    plots.reliability_png(cal, out / f"{name}_reliability.png", model_id)
    report.image(f"{name}_confusion.png", "confusion matrix")
    report.image(f"{name}_reliability.png", "reliability diagram")


def eval_emotion(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    samples = datasets.fer_samples(data)
    model_id, faces, seconds = _run_head("emotion", config, model, [p for p, _ in samples])
    truth = np.array([label for _, label in samples])
    probabilities = np.array([[f.emotion.scores[k] for k in EMOTION_LABELS] for f in faces])
    predicted = probabilities.argmax(1)
    report = Report(f"Emotion: {model_id} on FER2013 PublicTest")
    accuracy = float((predicted == truth).mean())
    recall = {k: float((predicted[truth == i] == i).mean()) for i, k in enumerate(EMOTION_LABELS)}
    cal = calibration(probabilities.max(1), predicted == truth)
    report.metrics = {
        "model": model_id,
        "images": len(samples),
        "accuracy": accuracy,
        "balanced_accuracy": balanced_accuracy(truth, predicted),
        "ece": cal.ece,
        "per_class_recall": recall,
        "ms_per_face": 1000 * seconds,
    }
    report.table(
        ["model", "images", "accuracy", "balanced accuracy", "ECE", "ms per face (crop mode: landmarks + head)"],
        [[model_id, len(samples), accuracy, report.metrics["balanced_accuracy"], cal.ece, 1000 * seconds]],
    )
    report.table(
        ["class", "recall", "images"], [[k, recall[k], int((truth == i).sum())] for i, k in enumerate(EMOTION_LABELS)]
    )
    _plots(report, out, "emotion", confusion(truth, predicted, 7), list(EMOTION_LABELS), cal, model_id)
    return report


def eval_gender(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    samples = datasets.utkface_samples(data, "dev")
    model_id, faces, seconds = _run_head("gender", config, model, [s.path for s in samples])
    truth = np.array([s.gender == "male" for s in samples])
    p_male = np.array([f.gender.scores["male"] for f in faces])
    correct = (p_male >= 0.5) == truth
    adults = np.array([s.age >= 18 for s in samples])
    report = Report(f"Gender: {model_id} on UTKFace dev")
    report.metrics = {
        "model": model_id,
        "images": len(samples),
        "accuracy": float(correct.mean()),
        "accuracy_adults_18_plus": float(correct[adults].mean()),
        "accuracy_under_18": float(correct[~adults].mean()),
        "ms_per_face": 1000 * seconds,
    }
    report.table(
        ["model", "images", "accuracy, all ages", "accuracy, 18+", "accuracy, under 18"],
        [
            [
                model_id,
                len(samples),
                *(report.metrics[k] for k in ("accuracy", "accuracy_adults_18_plus", "accuracy_under_18")),
            ]
        ],
    )
    report.metrics["groups"] = _groups_section(report, out, "gender", correct.astype(float), samples, "accuracy")
    cal = calibration(np.maximum(p_male, 1 - p_male), correct)
    report.metrics["ece"] = cal.ece
    _plots(
        report,
        out,
        "gender",
        confusion(truth.astype(int), (p_male >= 0.5).astype(int), 2),
        ["female", "male"],
        cal,
        model_id,
    )
    return report


def eval_age(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    samples = datasets.utkface_samples(data, "dev")
    model_id, faces, _ = _run_head("age", config, model, [s.path for s in samples])
    error = np.abs(np.array([f.age for f in faces]) - np.array([s.age for s in samples]))
    report = Report(f"Age: {model_id} on UTKFace dev")
    report.metrics = {
        "model": model_id,
        "images": len(samples),
        "mae_years": float(error.mean()),
        "median_error_years": float(np.median(error)),
        "within_5_years": float((error <= 5).mean()),
    }
    report.table(
        ["model", "images", "mean absolute error (years)", "median error", "within 5 years"],
        [[model_id, len(samples), float(error.mean()), float(np.median(error)), float((error <= 5).mean())]],
    )
    report.metrics["groups"] = _groups_section(report, out, "age", error, samples, "MAE (years)")
    return report


def eval_glasses(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    samples = [s for s in datasets.utkface_samples(data, "dev") if s.eyewear in ("glasses", "sunglasses", "none")]
    model_id, faces, _ = _run_head("eyeglasses", config, model, [s.path for s in samples])
    truth = np.array([s.eyewear != "none" for s in samples])
    probability = np.array([f.eyewear.probability for f in faces])
    worn = np.array([f.eyewear.worn for f in faces])
    correct = worn == truth
    kinds = np.array([s.eyewear for s in samples])
    recall = {k: float((worn[kinds == k] == (k != "none")).mean()) for k in ("glasses", "sunglasses", "none")}
    report = Report(f"Eyewear: {model_id} on UTKFace dev (labeled)")
    balanced = balanced_accuracy(truth.astype(int), worn.astype(int))
    report.metrics = {
        "model": model_id,
        "images": len(samples),
        "balanced_accuracy": balanced,
        "accuracy": float(correct.mean()),
        "recall_by_label": recall,
        "counts": {k: int((kinds == k).sum()) for k in recall},
    }
    report.table(
        ["model", "images", "balanced accuracy", "accuracy", "glasses found", "sunglasses found", "no eyewear right"],
        [
            [
                model_id,
                len(samples),
                balanced,
                float(correct.mean()),
                recall["glasses"],
                recall["sunglasses"],
                recall["none"],
            ]
        ],
    )
    report.metrics["groups"] = _groups_section(
        report, out, "glasses", correct.astype(float), samples, "accuracy", eyewear=False
    )
    cal = calibration(np.maximum(probability, 1 - probability), correct)
    report.metrics["ece"] = cal.ece
    _plots(
        report, out, "glasses", confusion(truth.astype(int), worn.astype(int), 2), ["none", "eyewear"], cal, model_id
    )
    return report


def eval_detection(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    params = config.to_parameters()
    if model:
        params["detector.model"] = model
    detector = FacePipeline(
        PipelineConfig.from_parameters({**params, **{f"{h}.enabled": False for h in config.heads}})
    ).detector
    report = Report(f"Detection: {detector.config.model}")
    rows = []
    for name, images, threshold in (
        ("dlib examples", datasets.dlib_detection_images(data), 0.3),
        ("COCO mini (nose and both eyes visible)", datasets.coco_detection_images(data), 0.2),
    ):
        found = total = unmatched = 0
        seconds = []
        for image in images:
            pixels = read_image(image.path)
            began = time.perf_counter()
            detections = detector.detect(pixels)
            seconds.append(time.perf_counter() - began)
            boxes = np.array([d.box.as_list() for d in detections]).reshape(-1, 4)
            total += len(image.faces)
            if len(boxes) and len(image.faces):
                iou = pairwise_iou(image.faces, boxes)
                found += int((iou.max(axis=1) >= threshold).sum())
                unmatched += int((iou.max(axis=0) < threshold).sum())
            else:
                unmatched += len(boxes)
        recall = found / max(total, 1)
        rows.append([name, len(images), total, recall, unmatched, 1000 * float(np.mean(seconds))])
        report.metrics[name] = {
            "images": len(images),
            "faces": total,
            "recall": recall,
            "unmatched_detections": unmatched,
            "ms_per_image": 1000 * float(np.mean(seconds)),
        }
    report.table(["photos", "images", "labeled faces", "recall", "unmatched detections", "ms per image"], rows)
    report.lines += [
        "A detection is matched at IoU 0.3 (dlib boxes) or 0.2 (COCO face boxes, which are estimated "
        "from the eye and ear keypoints). COCO labels only faces with nose and both eyes visible, so "
        "unmatched detections there include real faces seen in profile: an upper bound on false "
        "positives.",
        "",
    ]
    return report


def eval_scene(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    from face_perception.evaluation.scene import eval_scene as run_scene  # imports this module

    return run_scene(data, out, config, model)


def eval_falls(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    from face_perception.evaluation.falls import eval_falls as run_falls  # imports this module

    return run_falls(data, out, config, model)


TASKS = {
    "emotion": eval_emotion,
    "gender": eval_gender,
    "age": eval_age,
    "glasses": eval_glasses,
    "detection": eval_detection,
    "scene": eval_scene,
    "falls": eval_falls,
}
