"""Distillation data: a teacher model's probabilities on unlabeled chips become soft targets.

The teacher is an installed model (run by ONNX Runtime from the manifest, like the node runs it),
so any head in ``models/`` can teach a smaller network of the same task and chip geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from face_perception.core.errors import ModelError
from face_perception.core.preprocess import chips_to_tensor
from face_perception.core.runtime import ModelStore
from face_perception.training.data import Dataset

UNLABELED = -1  # the label of a distillation sample that has only the teacher's soft target


@dataclass(frozen=True)
class DistillationSet:
    """Training samples (labels ``UNLABELED`` where there is no hard label) with the teacher's
    probabilities [N, classes] as soft targets, and how many samples kept a hard label."""

    samples: Dataset
    soft_targets: np.ndarray
    labeled: int


def teacher_probabilities(store: ModelStore, model_id: str, chips: np.ndarray, batch: int = 256) -> np.ndarray:
    """The network output [N, classes] of the installed model ``model_id`` on uint8 chips [N, H, W, C].

    Raises:
        ModelError: the chips are not of the size the teacher's manifest entry asks for.
    """
    spec = store.entry(model_id).input_spec
    if chips.shape[1:3] != (spec.size, spec.size):
        raise ModelError(f"teacher {model_id} takes {spec.size}x{spec.size} chips, not {chips.shape[1:3]}")
    session = store.session(model_id)
    name = session.get_inputs()[0].name
    outputs = [
        session.run(None, {name: chips_to_tensor(chips[start : start + batch], spec)})[0]
        for start in range(0, len(chips), batch)
    ]
    return np.concatenate(outputs).astype(np.float32)


def distillation_set(
    labeled: Dataset, held_out: Dataset, unlabeled: Dataset, store: ModelStore, teacher: str
) -> DistillationSet:
    """Every ``unlabeled`` chip except those of ``held_out`` (kept for model selection), with the
    teacher's probabilities; the ones in ``labeled`` (matched by name) also keep their hard label.

    ``unlabeled`` must be cut with the same chip geometry as ``labeled`` and the teacher.

    Raises:
        ModelError: a labeled or held-out chip is missing from ``unlabeled``.
    """
    known = set(unlabeled.names)
    missing = [n for n in labeled.names + held_out.names if n not in known]
    if missing:
        raise ModelError(f"{len(missing)} labeled images are not among the unlabeled ones, e.g. {missing[0]}")
    excluded = set(held_out.names)
    keep = np.array([i for i, name in enumerate(unlabeled.names) if name not in excluded], dtype=np.int64)
    pool = unlabeled.subset(keep)
    hard = dict(zip(labeled.names, labeled.labels.tolist(), strict=True))
    labels = np.array([hard.get(name, UNLABELED) for name in pool.names], dtype=np.int64)
    samples = Dataset(pool.images, labels, labeled.classes, pool.names)
    soft = teacher_probabilities(store, teacher, pool.images)
    if soft.shape[1] != len(labeled.classes):
        raise ModelError(f"teacher {teacher} gives {soft.shape[1]} classes, the task has {len(labeled.classes)}")
    return DistillationSet(samples, soft, int((labels != UNLABELED).sum()))
