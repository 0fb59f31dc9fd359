"""Training data as in-memory uint8 arrays: FER2013 class folders, eyewear-labeled UTKFace crops.

Arrays can be packed into one ``.npz`` of the original JPEG bytes, small enough to carry to
another machine; loading decodes them again, so a pack and its folders give the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.errors import DataError
from face_perception.core.types import EMOTION_LABELS
from face_perception.evaluation.datasets import eyewear_labels


@dataclass(frozen=True)
class Dataset:
    """Images [N, H, W] or [N, H, W, 3] uint8, integer labels [N], class names, and source names."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    names: tuple[str, ...]
    groups: np.ndarray | None = None  # per-sample sub-label (e.g. sunglasses), or None

    def subset(self, index: np.ndarray) -> Dataset:
        groups = None if self.groups is None else self.groups[index]
        return Dataset(
            self.images[index], self.labels[index], self.classes, tuple(self.names[i] for i in index), groups
        )


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out): ``fraction`` of every class held out, chosen with ``seed``."""
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.append(members[: max(1, round(fraction * len(members)))])
    held_out = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(labels)), held_out), held_out


def pack_files(
    path: Path, files: list[Path], labels: np.ndarray, classes: tuple[str, ...], groups: np.ndarray | None = None
) -> None:
    """Write the files' bytes, labels and class names into one ``.npz`` (read back by ``load_pack``)."""
    blobs = [np.fromfile(f, dtype=np.uint8) for f in files]
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    np.savez(
        path,
        blob=np.concatenate(blobs),
        offsets=offsets,
        labels=labels,
        classes=np.array(classes),
        names=np.array([f.name for f in files]),
        groups=np.array([] if groups is None else groups),
    )


def load_pack(path: Path, flags: int) -> Dataset:
    """A dataset packed by ``pack_*``: the JPEG bytes decoded with ``flags`` (cv2.IMREAD_*)."""
    pack = np.load(path)
    blob, offsets = pack["blob"], pack["offsets"]
    images = np.stack([cv2.imdecode(blob[offsets[i] : offsets[i + 1]], flags) for i in range(len(offsets) - 1)])
    groups = pack["groups"] if pack["groups"].size else None
    return Dataset(images, pack["labels"], tuple(pack["classes"].tolist()), tuple(pack["names"].tolist()), groups)


def fer_files(folder: Path) -> tuple[list[Path], np.ndarray]:
    files, labels = [], []
    for index, label in enumerate(EMOTION_LABELS):
        members = sorted((folder / label).glob("*"))
        files += members
        labels += [index] * len(members)
    if not files:
        raise DataError(f"no FER2013 class folders ({', '.join(EMOTION_LABELS)}) under {folder}")
    return files, np.array(labels, dtype=np.int64)


def load_fer(folder_or_pack: Path) -> Dataset:
    """FER2013 images [N, 48, 48] from class folders (or their pack)."""
    if folder_or_pack.suffix == ".npz":
        return load_pack(folder_or_pack, cv2.IMREAD_GRAYSCALE)
    files, labels = fer_files(folder_or_pack)
    images = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])
    return Dataset(images, labels, EMOTION_LABELS, tuple(f.name for f in files))


def pack_fer(folder: Path, path: Path) -> None:
    files, labels = fer_files(folder)
    pack_files(path, files, labels, EMOTION_LABELS)


def glasses_rows(data_root: Path, split: str) -> list[tuple[Path, str]]:
    """(UTKFace image, label) of ``glasses/labels.csv`` for one split, in file order, without 'unsure' rows."""
    return [
        (data_root / "utkface" / split / name, label)
        for (row_split, name), label in eyewear_labels(data_root).items()
        if row_split == split and label != "unsure"
    ]
