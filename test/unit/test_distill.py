"""Distillation of an installed eyewear model into one network, on real UTKFace train chips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest
from helpers import SHARED_DATA, shared

torch = pytest.importorskip("torch", reason="training needs the 'train' extra (PyTorch)")

from face_perception.core.errors import ModelError  # noqa: E402
from face_perception.core.runtime import ModelStore  # noqa: E402
from face_perception.evaluation.datasets import utkface_chips  # noqa: E402
from face_perception.training.data import Dataset, glasses_rows, stratified_split  # noqa: E402
from face_perception.training.distill import UNLABELED, distillation_set, teacher_probabilities  # noqa: E402
from face_perception.training.tasks import GLASSES, GLASSES_CHIP, GLASSES_PADDING  # noqa: E402
from face_perception.training.train import export_onnx, train  # noqa: E402

TEACHER = "eyewear_chipnet"


@pytest.fixture(scope="module")
def chips() -> tuple[Dataset, Dataset]:
    """Labeled train chips (the first 150 rows without and 50 with eyewear) and the same chips unlabeled."""
    shared("glasses", "labels.csv")
    rows = glasses_rows(SHARED_DATA, "train")
    rows = [r for r in rows if r[1] == "none"][:150] + [r for r in rows if r[1] != "none"][:50]
    images = utkface_chips([p for p, _ in rows], GLASSES_CHIP, GLASSES_PADDING)
    names = tuple(p.name for p, _ in rows)
    labels = np.array([0 if label == "none" else 1 for _, label in rows], dtype=np.int64)
    classes = GLASSES.manifest_entry["labels"]
    return (
        Dataset(images, labels, tuple(classes), names),
        Dataset(images, np.full(len(rows), UNLABELED), tuple(classes), names),
    )


def test_distillation_set_leaves_out_the_held_out_rows_and_keeps_hard_labels(chips):
    labeled, unlabeled = chips
    train_index, held_index = stratified_split(labeled.labels, 0.15, seed=0)
    labeled_part = labeled.subset(train_index[: len(train_index) // 2])  # the rest stands for unlabeled images
    held = labeled.subset(held_index)
    distilled = distillation_set(labeled_part, held, unlabeled, ModelStore(), TEACHER)
    names = distilled.samples.names
    assert not set(names) & set(held.names) and len(names) == len(labeled.names) - len(held.names)
    hard = dict(zip(labeled_part.names, labeled_part.labels.tolist(), strict=True))
    assert [hard.get(n, UNLABELED) for n in names] == distilled.samples.labels.tolist()
    assert distilled.labeled == len(labeled_part.names)
    np.testing.assert_allclose(distilled.soft_targets.sum(1), 1.0, atol=1e-5)
    # the teacher is sure about most labeled chips: its argmax mostly agrees with the labels
    known = distilled.samples.labels != UNLABELED
    agree = distilled.soft_targets[known].argmax(1) == distilled.samples.labels[known]
    assert agree.mean() > 0.9


def test_teacher_refuses_chips_of_another_size(chips):
    with pytest.raises(ModelError, match="96x96"):
        teacher_probabilities(ModelStore(), TEACHER, chips[0].images[:2, :64, :64])


def test_short_distillation_gives_a_model_that_follows_the_teacher(chips, tmp_path):
    torch.set_num_threads(2)
    labeled, unlabeled = chips
    train_index, held_index = stratified_split(labeled.labels, 0.15, seed=0)
    distilled = distillation_set(
        labeled.subset(train_index), labeled.subset(held_index), unlabeled, ModelStore(), TEACHER
    )
    config = replace(GLASSES.config, widths=(8, 16, 32, 64), epochs=20, teacher=TEACHER, distill_weight=1.0)
    # selection on the labeled training rows: this checks that the student learns the targets, not selection
    model, record = train(
        config, distilled.samples, labeled.subset(train_index), tmp_path, "cpu", distilled.soft_targets
    )
    assert record["config"]["teacher"] == TEACHER and record["labeled_train_samples"] == len(train_index)
    export_onnx(model, 3, GLASSES_CHIP, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    x = (distilled.samples.images.transpose(0, 3, 1, 2).astype(np.float32) - 127.5) / 127.5
    student = session.run(None, {"input": x})[0][:, 1]
    teacher = distilled.soft_targets[:, 1]
    assert np.corrcoef(student, teacher)[0, 1] > 0.5
