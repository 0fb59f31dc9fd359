"""``face-perception track``: faces with stable track ids over a folder of frames or a video."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from face_perception.cli.config_file import load_config, with_gallery
from face_perception.cli.results_json import emit, face_to_json
from face_perception.core.errors import FacePerceptionError, ImageError
from face_perception.core.images import DEFAULT_MAX_SIDE_PX, IMAGE_SUFFIXES, read_image
from face_perception.core.pipeline import FacePipeline
from face_perception.core.tracker import EventType, FaceTracker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", metavar="PATH", type=Path, help="folder of frames (taken in name order) or a video file"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per frame on stdout")
    parser.add_argument(
        "--fps", type=float, default=10.0, help="frame rate of a folder of frames (a video has its own)"
    )
    parser.add_argument("--config", type=Path, help="parameters YAML (tracking.* and the pipeline)")
    parser.add_argument("--gallery", type=Path, help="gallery file: each track gains identity {name, distance}")


def frames(
    path: Path, fps: float, max_side_px: int = DEFAULT_MAX_SIDE_PX
) -> Iterator[tuple[str, float, np.ndarray | ImageError]]:
    """(name, time in seconds, image or the error reading it) for every frame, in order.

    In a folder every JPEG/PNG entry that is not a folder is a frame, so an unreadable one
    (a dangling link, a FIFO, a bomb) gets its error in place. Raises ImageError when ``path``
    is neither a folder nor a readable video file.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())
        for index, file in enumerate(files):
            try:
                yield file.name, index / fps, read_image(file, max_side_px)
            except ImageError as error:
                yield file.name, index / fps, error
        return
    if not path.is_file():  # missing, or a FIFO/device that a video reader would wait on forever
        raise ImageError(f"{path} is neither a folder of frames nor a video file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ImageError(f"{path} is neither a folder of frames nor a readable video")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if max(width, height) > max_side_px:  # refused before a frame is decoded
        capture.release()
        raise ImageError(f"video {path} is {width}x{height}, over max_image_side_px={max_side_px}")
    video_fps = capture.get(cv2.CAP_PROP_FPS) or fps
    index = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield f"{path.name}#{index}", index / video_fps, image
            index += 1
    finally:
        capture.release()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.fps <= 0:
        raise FacePerceptionError(f"--fps must be positive, got {args.fps}")
    config = with_gallery(load_config(args.config), args.gallery)
    pipeline = FacePipeline(config)
    tracker = FaceTracker(config.tracking)
    failures = 0
    for name, time_s, image in frames(args.path, args.fps, config.max_image_side_px):
        if isinstance(image, ImageError):
            failures += 1
            record = {"frame": name, "error": str(image)}
        else:
            try:
                result = pipeline.process(image)
            except (FacePerceptionError, cv2.error) as error:
                failures += 1
                record = {"frame": name, "error": str(error).strip()}
            else:
                identify = pipeline.identify_tracks(image)
                tracked, events = tracker.update(result.faces, time_s, identify, config.identity.every_n_frames)
                record = {
                    "frame": name,
                    "time_s": round(time_s, 4),
                    "faces": [
                        {
                            **face_to_json(t.smoothed),
                            "track_id": t.track_id,
                            "track_age_s": round(t.age_s, 4),
                            "raw": {
                                k: v
                                for k, v in face_to_json(t.raw).items()
                                if k in ("emotion", "gender", "age", "eyeglasses")
                            },
                        }
                        for t in tracked
                    ],
                    "events": [
                        {
                            "type": e.type.name.lower(),
                            "track_id": e.track_id,
                            "emotion": e.emotion,
                            "previous_emotion": e.previous_emotion,
                            **(
                                {"identity": e.identity, "distance": round(e.identity_distance, 4)}
                                if e.type is EventType.RECOGNIZED
                                else {}
                            ),
                        }
                        for e in events
                    ],
                }
        emit(record, args.json, out, "frame", lambda r: f"t={r['time_s']:.2f}s, {len(r['faces'])} tracked face(s)")
    return 1 if failures else 0
