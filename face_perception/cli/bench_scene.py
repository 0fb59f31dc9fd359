"""``face-perception bench --scene``: the scene analysis per stage on 640x480 frames, one thread.

Two sets of frames: made from the sample photo (1 to 3 people, one of them on their side), and,
where ``--data`` holds them, the held-out falls photos turned upright and fitted into 640x480.
Each frame is analyzed as a still photo by ``SceneAnalyzer`` with the face pipeline (people,
pose, posture, objects, faces attached, alerts and the sentence); the stages are the analyzer's
own (``StageTimer``): thread CPU milliseconds, medians over the frames and repeats.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import SceneAnalyzer
from face_perception.core.scene.config import SceneConfig
from face_perception.core.scene.people import PeopleConfig, rotate_image
from face_perception.core.timing import StageTimer

FRAME_SIZE = (640, 480)
FALLS_PHOTOS = 60  # held-out falls photos timed, spread over the three kinds


def frame_with_people(sample: Path, count: int, lying: int = 0) -> np.ndarray:
    """A 640x480 frame with ``count`` copies of the sample person side by side, the last ``lying`` on their side."""
    person = read_image(sample)[:, 0:380]
    frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 90, np.uint8)
    width = FRAME_SIZE[0] // count
    for index in range(count):
        image = np.ascontiguousarray(np.rot90(person, 3)) if index >= count - lying else person
        scale = min(width / image.shape[1], FRAME_SIZE[1] / image.shape[0])
        tile = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
        y, x = FRAME_SIZE[1] - tile.shape[0], index * width
        frame[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return frame


def fitted(image: np.ndarray) -> np.ndarray:
    """The image scaled to fit 640x480, centred on grey."""
    scale = min(FRAME_SIZE[0] / image.shape[1], FRAME_SIZE[1] / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 110, np.uint8)
    y, x = (FRAME_SIZE[1] - resized.shape[0]) // 2, (FRAME_SIZE[0] - resized.shape[1]) // 2
    frame[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return frame


def falls_frames(data: Path, analyzer: SceneAnalyzer) -> list[np.ndarray]:
    """FALLS_PHOTOS held-out falls photos, upright, as 640x480 frames ([] without the data)."""
    from face_perception.evaluation.falls_photos import falls_photos, upright_turns

    if not (data / "falls" / "images").is_dir():
        return []
    chosen = [p for p in falls_photos(data) if p.split == "test"]
    chosen = chosen[:: max(1, len(chosen) // FALLS_PHOTOS)][:FALLS_PHOTOS]  # spread over the kinds
    turns = upright_turns(chosen, analyzer.people.detector, read_image)
    return [fitted(rotate_image(read_image(p.path), turns[p.path])) for p in chosen]


def _stage_medians(analyzer: SceneAnalyzer, frames: list[np.ndarray], repeats: int) -> dict[str, float]:
    per_stage: dict[str, list[float]] = {}
    people = []
    for _ in range(repeats):
        for frame in frames:
            timer = StageTimer()
            with timer.stage("total"):
                result = analyzer.analyze(frame, timer=timer)
            people.append(len(result.people))
            for name, spent in timer.stages.items():
                per_stage.setdefault(name, []).append(1000.0 * spent.cpu_s)
    row = {f"{name}_cpu_ms": round(float(np.median(values)), 2) for name, values in per_stage.items()}
    row["total_cpu_ms_p90"] = round(float(np.percentile(per_stage["total"], 90)), 2)
    row["people_found_mean"] = round(float(np.mean(people)), 2)
    row["frames"] = len(frames)
    return row


def measure_scene(sample: Path, data: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Median CPU ms per stage: sample frames with 1 to 3 people, and held-out falls photos."""
    store = ModelStore(num_threads=1)
    analyzer = SceneAnalyzer.from_store(SceneConfig(), PeopleConfig(), store, PipelineConfig())
    report = {}
    for count, lying in ((1, 0), (2, 0), (3, 0), (2, 1)):
        frame = frame_with_people(sample, count, lying)
        report[f"sample_{count}_people_{lying}_lying"] = _stage_medians(analyzer, [frame], repeats)
    frames = falls_frames(data, analyzer)
    if frames:
        report["falls_photos_held_out"] = _stage_medians(analyzer, frames, max(1, repeats // 10))
    return report
