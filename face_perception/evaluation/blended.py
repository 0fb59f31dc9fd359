"""Blended photo set: UTKFace faces pasted into COCO photos at known places, for recall and speed.

Each frame is a COCO-mini photo cut to 640x480 with one to four UTKFace faces pasted at
40 to 200 px, with a feathered border. The pasted faces' boxes are the labels. The set is
seeded, so the same command gives the same frames on any machine with the shared data;
it is written to a local folder and never committed (UTKFace is for research only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.errors import DataError
from face_perception.core.images import read_image

FRAME_SIZE = (640, 480)  # width, height
LABELS_NAME = "labels.json"
# The face inside a UTKFace aligned 200x200 crop, as shares of the crop's side (x1, y1, x2, y2):
# the median box RetinaFace finds on 300 UTKFace train crops (seed 0), rounded.
UTK_FACE_BOX = (0.08, 0.0, 0.92, 0.98)


@dataclass(frozen=True)
class LabeledFrame:
    """One frame of a labeled photo folder: its path and the face boxes [N, 4] (x1, y1, x2, y2).

    ``image`` holds the pixels where the frame exists only in memory (a panning sequence).
    """

    path: Path
    faces: np.ndarray
    image: np.ndarray | None = None


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to cover width x height and cut the centre."""
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return resized[top : top + height, left : left + width]


def _feather(size: int) -> np.ndarray:
    """Alpha [size, size, 1] that is 1 inside and fades to 0 over the outer 8% of each side."""
    ramp = np.clip(np.minimum(np.arange(size) + 0.5, size - np.arange(size) - 0.5) / max(1.0, 0.08 * size), 0, 1)
    return np.minimum.outer(ramp, ramp)[..., None].astype(np.float32)


def _free_spot(rng: np.random.Generator, size: int, taken: list[tuple[int, int, int, int]]) -> tuple[int, int] | None:
    width, height = FRAME_SIZE
    for _ in range(50):
        x, y = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
        if all(x + size <= a or a + s <= x or y + size <= b or b + s <= y for a, b, s, _ in taken):
            return x, y
    return None


def build_blended(
    data: Path,
    out: Path,
    frames: int = 200,
    split: str = "dev",
    seed: int = 0,
    faces_per_frame: tuple[int, int] = (1, 4),
    face_px: tuple[int, int] = (40, 200),
) -> list[LabeledFrame]:
    """Write ``frames`` blended JPEG frames and ``labels.json`` into ``out``; return them.

    Faces come from ``utkface/<split>`` (``dev`` to measure, ``train`` to calibrate), backgrounds
    from ``coco_mini/images_train2017``.

    Raises:
        DataError: the shared data is not at ``data``.
    """
    faces_dir = data / "utkface" / split
    backgrounds_dir = data / "coco_mini" / "images_train2017"
    face_paths = sorted(faces_dir.glob("*.jpg"))
    background_paths = sorted(backgrounds_dir.glob("*.jpg"))
    if not face_paths or not background_paths:
        raise DataError(f"need UTKFace faces in {faces_dir} and COCO photos in {backgrounds_dir}")
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    records, result = [], []
    for index in range(frames):
        frame = _cover(read_image(background_paths[int(rng.integers(len(background_paths)))]), *FRAME_SIZE)
        frame = frame.astype(np.float32)
        taken: list[tuple[int, int, int, int]] = []
        boxes, sources = [], []
        for _ in range(int(rng.integers(faces_per_frame[0], faces_per_frame[1] + 1))):
            size = int(rng.integers(face_px[0], face_px[1] + 1))
            spot = _free_spot(rng, size, taken)
            face_path = face_paths[int(rng.integers(len(face_paths)))]
            if spot is None:
                continue
            x, y = spot
            face = cv2.resize(read_image(face_path), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
            alpha = _feather(size)
            region = frame[y : y + size, x : x + size]
            region[:] = alpha * face + (1 - alpha) * region
            taken.append((x, y, size, size))
            fx1, fy1, fx2, fy2 = UTK_FACE_BOX
            boxes.append([x + fx1 * size, y + fy1 * size, x + fx2 * size, y + fy2 * size])
            sources.append(face_path.name)
        name = f"blended_{index:04d}.jpg"
        cv2.imwrite(str(out / name), np.clip(frame + 0.5, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 92])
        records.append({"file": name, "faces": [[round(v, 1) for v in b] for b in boxes], "sources": sources})
        result.append(LabeledFrame(out / name, np.array(boxes, float).reshape(-1, 4)))
    settings = {"split": split, "seed": seed, "frames": frames, "faces_per_frame": faces_per_frame, "face_px": face_px}
    (out / LABELS_NAME).write_text(json.dumps({"settings": settings, "frames": records}, indent=1))
    return result


def read_labeled_folder(folder: Path) -> list[LabeledFrame] | None:
    """The frames of a folder written by ``build_blended`` (None when it has no ``labels.json``)."""
    labels = folder / LABELS_NAME
    if not labels.is_file():
        return None
    document = json.loads(labels.read_text())
    return [
        LabeledFrame(folder / record["file"], np.array(record["faces"], float).reshape(-1, 4))
        for record in document["frames"]
    ]


PAN_PX = 2


def panning_sequence(frames: list[LabeledFrame], count: int, hold: int) -> list[LabeledFrame]:
    """A camera-like sequence of ``count`` frames, in memory.

    Each photo is held ``hold`` frames while the 640x480 view pans PAN_PX pixels a frame across
    it (the photo is enlarged slightly to leave room); the labels move with the view. Returns
    frames whose ``path`` is the source photo and whose ``image`` holds the view.
    """
    width, height = FRAME_SIZE
    margin = PAN_PX * hold
    wide_size = (width + margin, height + margin // 2)
    scale = np.array([wide_size[0] / width, wide_size[1] / height] * 2)
    sequence, cache = [], {}
    for index in range(count):
        source = frames[(index // hold) % len(frames)]
        if source.path not in cache:
            cache = {source.path: cv2.resize(read_image(source.path), wide_size, interpolation=cv2.INTER_LINEAR)}
        shift = PAN_PX * (index % hold)
        top = margin // 4
        view = np.ascontiguousarray(cache[source.path][top : top + height, shift : shift + width])
        faces = (source.faces * scale - np.array([shift, top, shift, top])).reshape(-1, 4)
        centres = (faces[:, :2] + faces[:, 2:]) / 2
        inside = (centres[:, 0] >= 0) & (centres[:, 0] < width) & (centres[:, 1] >= 0) & (centres[:, 1] < height)
        sequence.append(LabeledFrame(source.path, faces[inside], view))
    return sequence
