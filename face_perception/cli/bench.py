"""``face-perception bench``: time per stage (detector, each head, identity embedding, tracker) on this machine."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from face_perception.cli import bench_photos as photos
from face_perception.core.config import PipelineConfig, load_parameters_yaml
from face_perception.core.errors import ConfigError
from face_perception.core.images import DEFAULT_MAX_SIDE_PX, decode_image, read_image
from face_perception.core.models.identity import FaceEmbedder
from face_perception.core.pipeline import FacePipeline
from face_perception.core.preprocess import align_faces
from face_perception.core.timing import StageTimer
from face_perception.core.tracker import FaceTracker

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "astronaut.jpg"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 4, 16], help="faces per frame to measure")
    parser.add_argument("--repeats", type=int, help="timed runs per measurement (default 20; photos: 3 passes)")
    parser.add_argument(
        "--photos", type=Path, help="time every photo of this folder per stage (recall where it has labels.json)"
    )
    parser.add_argument(
        "--blended",
        type=Path,
        help="like --photos on the blended set in this folder, built first from --data when it has no labels.json",
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data (for --blended)")
    parser.add_argument("--frames", type=int, default=200, help="frames of a new blended set")
    parser.add_argument("--split", default="dev", choices=["dev", "train"], help="UTKFace split of a new blended set")
    parser.add_argument("--seed", type=int, default=0, help="seed of a new blended set")
    parser.add_argument("--limit", type=int, help="time only the first N photos")
    parser.add_argument(
        "--hold",
        type=int,
        help="photos as a camera sequence: each held HOLD frames while the view pans 2 px a frame",
    )
    parser.add_argument("--sequence-frames", type=int, default=600, help="frames of the --hold sequence")
    parser.add_argument("--config", type=Path, help="parameters YAML")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one parameter of --config (e.g. detector.full_frame_every=3); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    parser.add_argument(
        "--scene",
        action="store_true",
        help="time the scene analysis per stage (sample frames, 1 to 3 people; held-out falls photos of --data)",
    )


def _median_ms(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def _frame_with_faces(count: int) -> np.ndarray:
    """A 640x480 frame tiled with ``count`` copies of the sample face."""
    face = read_image(SAMPLE)[40:200, 150:300]
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    tile = cv2.resize(face, (640 // columns, 480 // rows))
    frame = np.full((480, 640, 3), 90, np.uint8)
    for index in range(count):
        y, x = divmod(index, columns)
        frame[y * tile.shape[0] : (y + 1) * tile.shape[0], x * tile.shape[1] : (x + 1) * tile.shape[1]] = tile
    return frame


def _measure(
    pipeline: FacePipeline, tracker: FaceTracker, count: int, repeats: int, embedder: FaceEmbedder
) -> dict[str, float]:
    """Median milliseconds of every stage on a frame holding ``count`` faces.

    The identity embedding (run once per track every identity.every_n_frames frames, not per frame)
    is timed on its own, whether a gallery is set or not: ``identity_ms`` for all faces in one call
    and ``identity_ms_per_face``.
    """
    frame = _frame_with_faces(count)
    detections = pipeline.detector.detect(frame)
    landmarks = [d.landmarks for d in detections]
    row = {"faces_found": float(len(detections))}
    row["detector_ms"] = _median_ms(lambda: pipeline.detector.detect(frame), repeats)
    for name, head in pipeline.heads.items():
        size, padding = head.spec.size, head.spec.crop_padding
        chips = align_faces(frame, landmarks, size, padding)
        row[f"{name}_align_ms"] = _median_ms(lambda s=size, p=padding: align_faces(frame, landmarks, s, p), repeats)
        row[f"{name}_ms"] = _median_ms(lambda h=head, c=chips: h.predict(c), repeats)
    size, padding = embedder.spec.size, embedder.spec.crop_padding
    chips = align_faces(frame, landmarks, size, padding)
    row["identity_align_ms"] = _median_ms(lambda: align_faces(frame, landmarks, size, padding), repeats)
    row["identity_ms"] = _median_ms(lambda: embedder.embed(chips), repeats)
    row["identity_ms_per_face"] = row["identity_ms"] / max(len(chips), 1)
    faces = pipeline.process(frame).faces
    row["pipeline_ms"] = _median_ms(lambda: pipeline.process(frame), repeats)
    encoded = cv2.imencode(".jpg", frame)[1]
    row["decode_jpeg_ms"] = _median_ms(lambda: decode_image(encoded, DEFAULT_MAX_SIDE_PX), repeats)
    row.update({f"{name}_cpu_ms": ms for name, ms in _stage_cpu_ms(pipeline, frame, repeats).items()})
    clock = iter(range(10**9))
    row["tracker_ms"] = _median_ms(lambda: tracker.update(faces, next(clock) * 0.1), max(repeats, 100))
    return {k: round(v, 3) for k, v in row.items()}


def _stage_cpu_ms(pipeline: FacePipeline, frame: np.ndarray, repeats: int) -> dict[str, float]:
    """Median thread CPU milliseconds of each pipeline stage (StageTimer) over ``repeats`` runs."""
    pipeline.process(frame)  # warm-up
    spent: dict[str, list[float]] = {}
    for _ in range(repeats):
        timer = StageTimer()
        pipeline.process(frame, timer)
        for name, stage in timer.stages.items():
            spent.setdefault(name, []).append(stage.cpu_s)
    return {name: 1000.0 * float(np.median(values)) for name, values in spent.items()}


def _config(args: argparse.Namespace) -> PipelineConfig:
    """The parameters file with the ``--set`` overrides (values read as YAML scalars)."""
    params = load_parameters_yaml(args.config) if args.config else {}
    for item in args.set:
        name, separator, value = item.partition("=")
        if not separator:
            raise ConfigError(f"--set expects NAME=VALUE, got {item!r}")
        if name.strip() not in PipelineConfig().to_parameters():
            raise ConfigError(f"--set: unknown parameter {name.strip()!r}")
        params[name.strip()] = yaml.safe_load(value)
    return PipelineConfig.from_parameters(params)


def run(args: argparse.Namespace) -> int:
    repeats = args.repeats or 20
    if args.scene:
        from face_perception.cli.bench_scene import measure_scene

        report = measure_scene(SAMPLE, args.data, repeats)
    else:
        config = _config(args)
        pipeline = FacePipeline(config)
        if args.blended is not None or args.photos is not None:
            return photos.run_photos(args, pipeline)
        embedder = FaceEmbedder.from_store(pipeline.store, config.identity.model)
        report = {
            f"{count}_faces": _measure(pipeline, FaceTracker(config.tracking), count, repeats, embedder)
            for count in args.faces
        }
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        for key, row in report.items():
            sys.stdout.write(f"{key}: " + ", ".join(f"{k}={v}" for k, v in row.items()) + "\n")
    return 0
