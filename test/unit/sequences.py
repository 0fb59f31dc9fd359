"""Synthetic video of real faces: UTKFace crops pasted along paths, for tracking tests."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_perception.core.images import read_image


@dataclass(frozen=True)
class Actor:
    """One person: a face crop, its path (frame -> top-left corner or None when absent)."""

    name: str
    crop: np.ndarray
    positions: dict[int, tuple[int, int]]


def make_actor(name: str, path, size: int, positions: dict[int, tuple[int, int]]) -> Actor:
    return Actor(name, cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA), positions)


def render(
    actors: list[Actor], frame: int, shape=(360, 640)
) -> tuple[np.ndarray, dict[str, tuple[int, int, int, int]]]:
    """The frame image (later actors drawn over earlier ones) and each visible actor's box."""
    canvas = np.full((*shape, 3), 96, np.uint8)
    boxes = {}
    for actor in actors:
        if frame not in actor.positions:
            continue
        x, y = actor.positions[frame]
        size = actor.crop.shape[0]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + size, shape[1]), min(y + size, shape[0])
        if x1 <= x0 or y1 <= y0:
            continue
        canvas[y0:y1, x0:x1] = actor.crop[y0 - y : y1 - y, x0 - x : x1 - x]
        boxes[actor.name] = (x, y, x + size, y + size)
    return canvas, boxes


def linear_path(start: tuple[int, int], end: tuple[int, int], frames: range) -> dict[int, tuple[int, int]]:
    steps = max(len(frames) - 1, 1)
    return {
        f: (round(start[0] + (end[0] - start[0]) * i / steps), round(start[1] + (end[1] - start[1]) * i / steps))
        for i, f in enumerate(frames)
    }
