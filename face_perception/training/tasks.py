"""The trainable tasks: where their data comes from, their config, and how they are scored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.models.eyewear import EYEWEAR_LABELS
from face_perception.core.types import EMOTION_LABELS, GENDER_LABELS
from face_perception.evaluation.datasets import utkface_chips
from face_perception.training.data import (
    Dataset,
    glasses_rows,
    load_fer,
    load_pack,
    pack_fer,
    pack_files,
)
from face_perception.training.train import TrainConfig


@dataclass(frozen=True)
class Task:
    config: TrainConfig
    val_fraction: float
    load_train: Callable[[Path], Dataset]
    load_test: Callable[[Path], Dataset | None]
    pack: Callable[[Path, Path], None]
    score: Callable[[np.ndarray, Dataset], dict]
    manifest_entry: dict
    load_unlabeled: Callable[[Path], Dataset] | None = None  # every train image, for a teacher's soft targets


def _accuracy(probabilities: np.ndarray, test: Dataset) -> dict:
    predicted = probabilities.argmax(1)
    per_class = {
        name: float((predicted[test.labels == i] == i).mean())
        for i, name in enumerate(test.classes)
        if (test.labels == i).any()
    }
    return {
        "samples": int(len(test.labels)),
        "accuracy": float((predicted == test.labels).mean()),
        "balanced_accuracy": float(np.mean(list(per_class.values()))),
        "per_class_recall": per_class,
    }


# --- emotion: FER2013 -----------------------------------------------------------------------


def _fer_train(data: Path) -> Dataset:
    return load_fer(data if data.suffix == ".npz" else data / "fer2013" / "train")


def _fer_test(data: Path) -> Dataset | None:
    folder = data / "fer2013" / "public_test"
    return load_fer(folder) if data.suffix != ".npz" and folder.is_dir() else None


EMOTION = Task(
    config=TrainConfig(epochs=150),
    val_fraction=0.1,
    load_train=_fer_train,
    load_test=_fer_test,
    pack=lambda data, path: pack_fer(data / "fer2013" / "train", path),
    score=_accuracy,
    manifest_entry={
        "task": "emotion",
        "description": "ChipNet (separable residual CNN, 186k parameters) trained on FER2013 by this project.",
        "license": "MIT",
        "input": {
            "layout": "NCHW",
            "color": "gray",
            "size": 48,
            "crop_padding": 0.2,
            "mean": [127.5],
            "scale": 1.0 / 127.5,
        },
        "labels": list(EMOTION_LABELS),
        "data": "FER2013 train (28,709 crops), 10% held out per class for model selection",
    },
)


# --- eyewear: UTKFace crops labeled in glasses/labels.csv -----------------------------------

GLASSES_CHIP = 96
GLASSES_PADDING = 0.1


def glasses_chips(data: Path, split: str) -> Dataset:
    """Aligned BGR chips of the labeled UTKFace faces: label 1 for glasses or sunglasses."""
    rows = glasses_rows(data, split)
    chips = utkface_chips([p for p, _ in rows], GLASSES_CHIP, GLASSES_PADDING)
    labels = np.array([0 if label == "none" else 1 for _, label in rows], dtype=np.int64)
    groups = np.array([label for _, label in rows])
    return Dataset(chips, labels, EYEWEAR_LABELS, tuple(p.name for p, _ in rows), groups)


def all_glasses_chips(data: Path, split: str = "train") -> Dataset:
    """Aligned BGR chips of every UTKFace image of ``split``, labeled or not (labels -1), cut as
    ``glasses_chips`` cuts them: the images a teacher labels for distillation."""
    from face_perception.evaluation.datasets import utkface_samples

    paths = [s.path for s in utkface_samples(data, split)]
    chips = utkface_chips(paths, GLASSES_CHIP, GLASSES_PADDING)
    return Dataset(chips, np.full(len(paths), -1, dtype=np.int64), EYEWEAR_LABELS, tuple(p.name for p in paths))


def _pack_dataset(dataset: Dataset, path: Path, suffix: str = ".png") -> None:
    """Pack chips as PNG (lossless) or, to carry more of them, as JPEG of quality 95."""
    folder = path.parent / (path.stem + "_chips")
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, chip in zip(dataset.names, dataset.images, strict=True):
        file = folder / f"{name}{suffix}"
        cv2.imwrite(str(file), chip, [cv2.IMWRITE_JPEG_QUALITY, 95])
        files.append(file)
    pack_files(path, files, dataset.labels, dataset.classes, dataset.groups)


def _pack_glasses(data: Path, path: Path) -> None:
    _pack_dataset(glasses_chips(data, "train"), path)


def _glasses_score(probabilities: np.ndarray, test: Dataset) -> dict:
    scores = _accuracy(probabilities, test)
    if test.groups is not None:
        sunglasses = test.groups == "sunglasses"
        scores["sunglasses_recall"] = (
            float((probabilities[sunglasses].argmax(1) == 1).mean()) if sunglasses.any() else None
        )
    return scores


GLASSES = Task(
    config=TrainConfig(
        widths=(32, 64, 128, 256),
        size=GLASSES_CHIP,
        epochs=300,
        batch_size=64,
        learning_rate=2e-3,
        rotate_deg=10.0,
        scale=0.1,
        shift=0.05,
        erase_prob=0.0,
        class_balance=True,
        select_on_balanced_accuracy=True,
    ),
    val_fraction=0.15,
    load_train=lambda data: (
        load_pack(data, cv2.IMREAD_COLOR) if data.suffix == ".npz" else glasses_chips(data, "train")
    ),
    load_test=lambda data: None if data.suffix == ".npz" else glasses_chips(data, "dev"),
    pack=_pack_glasses,
    score=_glasses_score,
    manifest_entry={
        "task": "eyewear",
        "description": "Average of ChipNets trained by this project (seeds 0, 1, 2): probability that glasses "
        "or sunglasses are worn over the eyes.",
        "license": "MIT",
        "input": {
            "layout": "NCHW",
            "color": "bgr",
            "size": GLASSES_CHIP,
            "crop_padding": GLASSES_PADDING,
            "mean": [127.5, 127.5, 127.5],
            "scale": 1.0 / 127.5,
        },
        "labels": list(EYEWEAR_LABELS),
        "threshold": 0.5,
        "data": "UTKFace train images labeled in glasses/labels.csv (unsure rows left out), 15% held out",
    },
    load_unlabeled=all_glasses_chips,
)

# --- gender: UTKFace --------------------------------------------------------------------------

GENDER_CHIP = 64
GENDER_PADDING = 0.2


def gender_chips(data: Path, split: str) -> Dataset:
    """UTKFace chips of one split; label 1 for male. Groups hold the age, for per-age scores."""
    from face_perception.evaluation.datasets import utkface_samples

    samples = utkface_samples(data, split)
    labels = np.array([GENDER_LABELS.index(s.gender) for s in samples], dtype=np.int64)
    return Dataset(
        utkface_chips([s.path for s in samples], GENDER_CHIP, GENDER_PADDING),
        labels,
        GENDER_LABELS,
        tuple(s.path.name for s in samples),
        np.array([str(s.age) for s in samples]),
    )


def _gender_score(probabilities: np.ndarray, test: Dataset) -> dict:
    scores = _accuracy(probabilities, test)
    adults = test.groups.astype(int) >= 18
    scores["accuracy_18_plus"] = float((probabilities[adults].argmax(1) == test.labels[adults]).mean())
    return scores


GENDER = Task(
    config=TrainConfig(
        widths=(32, 64, 128, 256),
        size=GENDER_CHIP,
        epochs=150,
        batch_size=128,
        learning_rate=2e-3,
        rotate_deg=10.0,
        scale=0.1,
        shift=0.05,
        erase_prob=0.2,
    ),
    val_fraction=0.1,
    load_train=lambda data: load_pack(data, cv2.IMREAD_COLOR) if data.suffix == ".npz" else gender_chips(data, "train"),
    load_test=lambda data: None if data.suffix == ".npz" else gender_chips(data, "dev"),
    pack=lambda data, path: _pack_dataset(gender_chips(data, "train"), path, ".jpg"),
    score=_gender_score,
    manifest_entry={
        "task": "gender",
        "description": "ChipNet trained by this project on UTKFace train.",
        "license": "MIT",
        "input": {
            "layout": "NCHW",
            "color": "bgr",
            "size": GENDER_CHIP,
            "crop_padding": GENDER_PADDING,
            "mean": [127.5, 127.5, 127.5],
            "scale": 1.0 / 127.5,
        },
        "labels": list(GENDER_LABELS),
        "data": "UTKFace train (6,000 crops), 10% held out",
    },
)

TASKS = {"emotion": EMOTION, "glasses": GLASSES, "gender": GENDER}
