"""One evaluation per task: run the pipeline on labeled data, compute metrics, draw plots, write markdown."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.models.eyewear import apply_temperature
from face_perception.core.nms import pairwise_iou
from face_perception.core.pipeline import FacePipeline
from face_perception.core.types import EMOTION_LABELS, FaceResult
from face_perception.evaluation import datasets, plots
from face_perception.evaluation.calibration import binary_nll
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
    head: str, config: PipelineConfig, model: str | None, paths: list[Path], also: tuple[str, ...] = ()
) -> tuple[str, list[FaceResult], float]:
    """Run one head (with an optional model override), and the heads in ``also``, on face crops.

    Returns the model id, one result per crop, and the seconds per crop.
    """
    params = config.to_parameters()
    for name in config.heads:
        params[f"{name}.enabled"] = name == head or name in also
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
    report.lines += ["Confusion matrix (rows: true class, columns: predicted):", ""]
    matrix = confusion(truth, predicted, 7)
    report.table(
        ["true \\ predicted", *EMOTION_LABELS],
        [[k, *row] for k, row in zip(EMOTION_LABELS, matrix.tolist(), strict=True)],
    )
    report.metrics["confusion"] = matrix.tolist()
    if model is None:
        _compare_emotion_models(report, config, data, samples, truth, {model_id: probabilities})
    return report


def _compare_emotion_models(
    report: Report,
    config: PipelineConfig,
    data: Path,
    samples: list[tuple[Path, int]],
    truth: np.ndarray,
    done: dict,
) -> None:
    """Every emotion model of the manifest, and averages of pairs of them, on the same faces."""
    from itertools import combinations

    from face_perception.core.runtime import ModelStore

    store = ModelStore(config.models_dir or None)
    ids = [m for m, e in store.manifest["models"].items() if e["task"] == "emotion"]
    probabilities = dict(done)
    for model_id in ids:
        if model_id not in probabilities:
            _, faces, _ = _run_head("emotion", config, model_id, [p for p, _ in samples])
            probabilities[model_id] = np.array([[f.emotion.scores[k] for k in EMOTION_LABELS] for f in faces])
    chips_of = _fer_chip_sampler(config, samples)
    rows, compared = [], {}
    for model_id in ids:
        wall, cpu = _head_ms_per_face(store, model_id, chips_of)
        compared[model_id] = _emotion_row(probabilities[model_id], truth) | {
            "ms_per_face": wall,
            "cpu_ms_per_face": cpu,
        }
    for first, second in combinations(ids, 2):
        if second.startswith(first) or first.startswith(second):
            continue  # a model and its own mirror-averaged variant
        name = f"{first} + {second} (average)"
        compared[name] = _emotion_row((probabilities[first] + probabilities[second]) / 2, truth)
        compared[name] |= {k: compared[first][k] + compared[second][k] for k in ("ms_per_face", "cpu_ms_per_face")}
    for name, row in compared.items():
        rows.append(
            [name, row["accuracy"], row["balanced_accuracy"], row["ece"], row["ms_per_face"], row["cpu_ms_per_face"]]
        )
    report.metrics["compared"] = compared
    report.lines += [
        "Every emotion model of the manifest on the same faces (head alone per face: batch of 1, median "
        "over 200 faces, wall and CPU time on this machine):",
        "",
    ]
    report.table(["model", "accuracy", "balanced accuracy", "ECE", "ms per face", "CPU ms per face"], rows)
    _emotion_selection(report, config, data, store, ids)


def _emotion_selection(report: Report, config: PipelineConfig, data: Path, store, ids: list[str]) -> None:
    """The models trained on FER2013 train with 10% held out (seed 0), scored on that held-out part.

    This is where a variant (such as mirror averaging) is chosen; PublicTest only reports it.
    """
    from face_perception.training.data import fer_files, stratified_split

    held_out_models = [m for m in ids if store.entry(m).raw.get("training", {}).get("config", {}).get("seed") == 0]
    if not held_out_models:
        return
    files, labels = fer_files(data / "fer2013" / "train")
    held = stratified_split(labels, 0.1, 0)[1]
    paths, truth = [files[i] for i in held], labels[held]
    rows = []
    for model_id in held_out_models:
        _, faces, _ = _run_head("emotion", config, model_id, paths)
        predicted = np.array([EMOTION_LABELS.index(f.emotion.label) for f in faces])
        rows.append([model_id, len(paths), float((predicted == truth).mean())])
    report.metrics["held_out_train"] = {row[0]: row[2] for row in rows}
    report.lines += [
        "Selection: the 10% of FER2013 train held out of training (seed 0), crop mode. The seed model "
        "trained on all of train, so it is not listed.",
        "",
    ]
    report.table(["model", "images", "accuracy"], rows)


def _emotion_row(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    predicted = probabilities.argmax(1)
    return {
        "accuracy": float((predicted == truth).mean()),
        "balanced_accuracy": balanced_accuracy(truth, predicted),
        "ece": calibration(probabilities.max(1), predicted == truth).ece,
        "per_class_recall": {k: float((predicted[truth == i] == i).mean()) for i, k in enumerate(EMOTION_LABELS)},
    }


TIMED_FACES = 200


def _fer_chip_sampler(config: PipelineConfig, samples: list[tuple[Path, int]]):
    """A function (size, padding) -> uint8 chips of TIMED_FACES PublicTest faces, cut as in crop mode."""
    params = {**config.to_parameters(), **{f"{h}.enabled": False for h in config.heads}}
    finder = FacePipeline(PipelineConfig.from_parameters(params))
    crops = [read_image(p) for p, _ in samples[:: max(1, len(samples) // TIMED_FACES)][:TIMED_FACES]]
    return lambda size, padding: finder.crop_chips(crops, size, padding)


def _head_ms_per_face(store, model_id: str, chips_of) -> tuple[float, float]:
    """Median wall and CPU (thread) milliseconds of one head call on one face."""
    from face_perception.core.models.emotion import EmotionClassifier

    head = EmotionClassifier.from_store(store, model_id)
    chips = chips_of(head.spec.size, head.spec.crop_padding)
    head.predict(chips[:1])  # warm-up
    wall, cpu = [], []
    for index in range(len(chips)):
        began, began_cpu = time.perf_counter(), time.thread_time()
        head.predict(chips[index : index + 1])
        wall.append(time.perf_counter() - began)
        cpu.append(time.thread_time() - began_cpu)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


GENDER_TARGET_ACCURACY = 0.975  # answered accuracy the abstention defaults are selected for (on train)


def select_gender_min_score(
    confidence: np.ndarray, apparent_age: np.ndarray, correct: np.ndarray, min_age_years: float
) -> float:
    """The lowest min_score (0.01 steps) whose answered faces reach GENDER_TARGET_ACCURACY, given the age rule."""
    for min_score in np.round(np.arange(0.5, 1.0, 0.01), 2):
        answered = (confidence >= min_score) & (apparent_age >= min_age_years)
        if answered.any() and correct[answered].mean() >= GENDER_TARGET_ACCURACY:
            return float(min_score)
    return 1.0


def _gender_outputs(faces: list[FaceResult]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(male) [N], apparent age [N] and whether the head answered [N]."""
    return (
        np.array([f.gender.scores["male"] for f in faces]),
        np.array([np.nan if f.age is None else f.age for f in faces]),
        np.array([f.gender.answered for f in faces]),
    )


def eval_gender(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    samples = datasets.utkface_samples(data, "dev")
    model_id, faces, seconds = _run_head("gender", config, model, [s.path for s in samples], also=("age",))
    gender_config = config.heads["gender"]
    truth = np.array([s.gender == "male" for s in samples])
    p_male, apparent_age, answered = _gender_outputs(faces)
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
    report.lines += ["Every face, without abstention (the model's own answer):", ""]
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
    # Abstention: the defaults are selected on UTKFace train, then measured here on dev.
    train = datasets.utkface_samples(data, "train")
    _, train_faces, _ = _run_head("gender", config, model, [s.path for s in train], also=("age",))
    train_p, train_age, _ = _gender_outputs(train_faces)
    train_correct = (train_p >= 0.5) == np.array([s.gender == "male" for s in train])
    selected = select_gender_min_score(
        np.maximum(train_p, 1 - train_p), train_age, train_correct, gender_config.min_age_years
    )
    train_answered = (np.maximum(train_p, 1 - train_p) >= gender_config.min_score) & ~(
        train_age < gender_config.min_age_years
    )
    abstention = {
        "train_coverage": float(train_answered.mean()),
        "train_answered_accuracy": float(train_correct[train_answered].mean()),
        "min_score": gender_config.min_score,
        "min_age_years": gender_config.min_age_years,
        "min_score_selected_on_train": selected,
        "coverage": float(answered.mean()),
        "answered_accuracy": float(correct[answered].mean()),
        "coverage_adults_18_plus": float(answered[adults].mean()),
        "answered_accuracy_adults_18_plus": float(correct[answered & adults].mean()),
    }
    report.metrics["abstention"] = abstention
    report.lines += [
        f"With abstention (`gender.min_score` {gender_config.min_score}, `gender.min_age_years` "
        f"{gender_config.min_age_years:g}): coverage is the share of faces that get an answer. On UTKFace "
        f"train, with the age rule at {gender_config.min_age_years:g} years, the lowest min_score whose answers "
        f"reach {GENDER_TARGET_ACCURACY:.1%} is {selected:.2f}. With the configured values, train faces are "
        f"answered {abstention['train_coverage']:.1%} of the time and right on "
        f"{abstention['train_answered_accuracy']:.1%} of the answers.",
        "",
    ]
    report.table(
        ["faces", "coverage", "accuracy on answered faces"],
        [
            ["all ages", abstention["coverage"], abstention["answered_accuracy"]],
            ["18+", abstention["coverage_adults_18_plus"], abstention["answered_accuracy_adults_18_plus"]],
        ],
    )
    confidence = np.maximum(p_male, 1 - p_male)
    points = []
    for min_age_years in (0.0, gender_config.min_age_years):
        for min_score in (0.5, 0.8, 0.9, 0.95, 0.99):
            rule = (confidence >= min_score) & ~(apparent_age < min_age_years)
            points.append(
                [min_score, min_age_years, float(rule.mean()), float(correct[rule].mean()), float(rule[adults].mean())]
                + [float(correct[rule & adults].mean())]
            )
    report.metrics["operating_points"] = points
    report.lines += ["Other settings on the same faces (dev; for comparison only, not for choosing):", ""]
    report.table(
        ["min_score", "min_age_years", "coverage", "answered accuracy", "coverage 18+", "answered accuracy 18+"],
        points,
    )
    report.lines += ["Coverage per group:", ""]
    report.metrics["coverage_groups"] = _groups_section(
        report, out, "gender_coverage", answered.astype(float), samples, "coverage"
    )
    report.lines += ["Accuracy on answered faces per group:", ""]
    report.metrics["answered_groups"] = _groups_section(
        report,
        out,
        "gender_answered",
        correct[answered].astype(float),
        [s for s, a in zip(samples, answered, strict=True) if a],
        "answered accuracy",
    )
    report.lines += ["Accuracy on every face per group (no abstention):", ""]
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
    uncertainty = np.array([f.age_uncertainty_years for f in faces])
    within = (error <= uncertainty).astype(float)
    report.metrics["uncertainty"] = {
        "mean_years": float(uncertainty.mean()),
        "within_uncertainty": float(within.mean()),
        "mae_by_uncertainty_quartile": _by_quartile(uncertainty, error),
    }
    report.lines += [
        f"`age_uncertainty_years`: the true age lies within age ± uncertainty for {within.mean():.1%} of faces "
        f"(fitted on UTKFace train for 68.3%); mean uncertainty {uncertainty.mean():.1f} years. MAE per quartile "
        "of the uncertainty (a larger uncertainty should mean a larger error):",
        "",
    ]
    report.table(
        ["uncertainty quartile", "mean uncertainty (years)", "MAE (years)", "within ± uncertainty", "images"],
        [[q, *v] for q, v in report.metrics["uncertainty"]["mae_by_uncertainty_quartile"].items()],
    )
    report.lines += ["Share of true ages within ± uncertainty, per group:", ""]
    report.metrics["uncertainty"]["groups"] = _groups_section(
        report, out, "age_uncertainty", within, samples, "within ± uncertainty"
    )
    return report


def _by_quartile(uncertainty: np.ndarray, error: np.ndarray) -> dict[str, list[float]]:
    edges = np.quantile(uncertainty, [0.25, 0.5, 0.75])
    index = np.digitize(uncertainty, edges)
    return {
        f"Q{q + 1}": [
            float(uncertainty[index == q].mean()),
            float(error[index == q].mean()),
            float((error[index == q] <= uncertainty[index == q]).mean()),
            int((index == q).sum()),
        ]
        for q in range(4)
    }


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
    temperature = float(_eyewear_temperature(config, model_id))
    raw = apply_temperature(probability, 1.0 / temperature)  # the network's own probability
    raw_ece = calibration(np.maximum(raw, 1 - raw), correct).ece
    report.metrics["ece"] = cal.ece
    report.metrics["temperature"] = temperature
    report.metrics["ece_uncalibrated"] = raw_ece
    report.metrics["nll"] = binary_nll(probability, truth)
    report.metrics["nll_uncalibrated"] = binary_nll(raw, truth)
    report.lines += [
        f"Calibration: temperature {temperature:.4f} (manifest `calibration`, fitted by `face-perception calibrate "
        f"glasses` on held-out train labels). ECE {cal.ece:.4f} calibrated, {raw_ece:.4f} uncalibrated; "
        f"negative log-likelihood {report.metrics['nll']:.4f} and {report.metrics['nll_uncalibrated']:.4f}.",
        "",
    ]
    _plots(
        report, out, "glasses", confusion(truth.astype(int), worn.astype(int), 2), ["none", "eyewear"], cal, model_id
    )
    return report


def _eyewear_temperature(config: PipelineConfig, model_id: str) -> float:
    """The eyewear model's calibration temperature from the manifest (1.0 when it has none)."""
    from face_perception.core.runtime import ModelStore

    entry = ModelStore(config.models_dir or None).entry(model_id)
    return float(entry.raw.get("calibration", {}).get("temperature", 1.0))


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


def eval_captions(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    from face_perception.evaluation.captions import eval_captions as run_captions  # imports this module

    return run_captions(data, out, config, model)


def eval_identity(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    from face_perception.evaluation.identity import eval_identity as run_identity  # imports this module

    return run_identity(data, out, config, model)


TASKS = {
    "emotion": eval_emotion,
    "gender": eval_gender,
    "age": eval_age,
    "glasses": eval_glasses,
    "detection": eval_detection,
    "scene": eval_scene,
    "falls": eval_falls,
    "captions": eval_captions,
    "identity": eval_identity,
}
