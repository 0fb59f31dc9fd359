"""``face-perception analyze``: faces and attributes of image files, as text or JSON lines."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from face_perception.cli.config_file import load_config, with_gallery
from face_perception.cli.results_json import emit, face_to_json
from face_perception.core.errors import FacePerceptionError
from face_perception.core.images import list_images, read_image
from face_perception.core.pipeline import FacePipeline

log = logging.getLogger(__name__)
CROP_BATCH = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    parser.add_argument(
        "--faces-are-crops",
        action="store_true",
        help="each image is one face crop: the face nearest its centre gives the landmarks (else the whole image)",
    )
    parser.add_argument("--config", type=Path, help="parameters YAML (default: built-in defaults)")
    parser.add_argument("--gallery", type=Path, help="gallery file: each face gains identity {name, distance}")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Analyze every image; an unreadable one gets an error record and the run goes on.

    Returns 0 when every image was analyzed, 1 when some could not be.
    """
    out = out or sys.stdout
    pipeline = FacePipeline(with_gallery(load_config(args.config), args.gallery))
    paths = list_images(args.paths)
    analyze = _analyze_crops if args.faces_are_crops else _analyze_images
    failures = 0
    for record in analyze(pipeline, paths, pipeline.config.max_image_side_px):
        failures += "error" in record
        emit(record, args.json, out, "image", lambda r: f"{len(r['faces'])} face(s), {r['latency_ms']} ms")
    if not paths:
        log.warning("no images found under %s", ", ".join(args.paths))
    return 1 if failures else 0


def _analyze_images(pipeline: FacePipeline, paths: list[Path], max_side_px: int) -> Iterator[dict]:
    for path in paths:
        try:
            pipeline.reset()  # unrelated photos: no face carried over (detector.full_frame_every)
            image = read_image(path, max_side_px)
            result = pipeline.identify(image, pipeline.process(image))
        except (FacePerceptionError, cv2.error) as error:
            yield _error_record(path, error)
            continue
        yield {
            "image": str(path),
            "faces": [face_to_json(face) for face in result.faces],
            "latency_ms": round(1000.0 * result.latency_s, 2),
        }


def _analyze_crops(pipeline: FacePipeline, paths: list[Path], max_side_px: int) -> Iterator[dict]:
    """Crops are classified in batches; latency_ms is the batch's time divided by its size.

    A batch that fails as a whole is retried image by image, so one bad crop costs only its own record.
    """
    for start in range(0, len(paths), CROP_BATCH):
        readable: list[tuple[Path, np.ndarray]] = []
        for path in paths[start : start + CROP_BATCH]:
            try:
                readable.append((path, read_image(path, max_side_px)))
            except (FacePerceptionError, cv2.error) as error:
                yield _error_record(path, error)
        if not readable:
            continue
        began = time.perf_counter()
        try:
            faces = pipeline.process_crops([image for _, image in readable])
        except (FacePerceptionError, cv2.error):
            for path, image in readable:
                yield from _analyze_crops_one(pipeline, path, image)
            continue
        latency_ms = 1000.0 * (time.perf_counter() - began) / len(readable)
        for (path, _), face in zip(readable, faces, strict=True):
            yield {"image": str(path), "faces": [face_to_json(face)], "latency_ms": round(latency_ms, 3)}


def _analyze_crops_one(pipeline: FacePipeline, path: Path, image: np.ndarray) -> Iterator[dict]:
    began = time.perf_counter()
    try:
        (face,) = pipeline.process_crops([image])
    except (FacePerceptionError, cv2.error) as error:
        yield _error_record(path, error)
        return
    latency_ms = 1000.0 * (time.perf_counter() - began)
    yield {"image": str(path), "faces": [face_to_json(face)], "latency_ms": round(latency_ms, 3)}


def _error_record(path: Path, error: Exception) -> dict:
    """The record of an image that could not be analyzed (an OpenCV failure is named as such)."""
    text = str(error).strip() if isinstance(error, FacePerceptionError) else f"OpenCV error: {str(error).strip()}"
    log.debug("%s: %s", path, text)
    return {"image": str(path), "error": text}
