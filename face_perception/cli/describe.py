"""``face-perception describe``: a sentence, people (posture, pose, face), objects and anomalies per image.

Images and folders are described as still photos (a state counts as held: someone on the
floor is ``lying_on_floor``); a video is described frame by frame with its own timing, so
alerts that need time (a fall, not moving) can fire. With a captioner folder (``--captioner`` or
``captioner.model_dir``) each record carries its caption, and alarming caption words raise ``caption`` alerts.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from face_perception.cli.results_json import emit, face_to_json
from face_perception.cli.track import frames as video_frames
from face_perception.core.errors import FacePerceptionError
from face_perception.core.images import IMAGE_SUFFIXES, list_images, read_image
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import SceneAnalyzer
from face_perception.core.scene.caption_alerts import caption_findings
from face_perception.core.scene.captioner import load_captioner
from face_perception.core.scene.config import SceneConfig, load_scene_configs
from face_perception.core.scene.types import SceneResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive) or videos")
    parser.add_argument("--json", action="store_true", help="one JSON object per image or video frame on stdout")
    parser.add_argument("--config", type=Path, help="parameters YAML (config/scene.yaml's form)")
    parser.add_argument("--no-faces", action="store_true", help="skip the face pipeline (no face attributes)")
    parser.add_argument(
        "--captioner",
        type=Path,
        metavar="DIR",
        help="ONNX image captioner folder (optimum export); overrides captioner.model_dir of --config",
    )
    parser.add_argument(
        "--beam-size", type=int, metavar="N", help="captioner beams (1: greedy); overrides captioner.beam_size"
    )


def scene_to_json(name: str, result: SceneResult) -> dict[str, Any]:
    """The documented JSON object of one described image; anomalies name people by index."""
    index_of = {person.track_id: i for i, person in enumerate(result.people)}
    return {
        "image": name,
        "description": result.description,
        "caption": result.caption,
        "people": [
            {
                "box": [round(v, 2) for v in p.observation.box.as_list()],
                "score": round(p.observation.score, 4),
                "posture": p.observation.posture,
                "posture_score": round(p.observation.posture_score, 4),
                "support": p.support,
                "keypoints": [
                    [round(float(x), 2), round(float(y), 2), round(float(s), 4)] for x, y, s in p.observation.keypoints
                ],
                "track_id": p.track_id,
                "face": None if p.face is None else face_to_json(p.face),
            }
            for p in result.people
        ],
        "objects": [
            {"label": o.label, "score": round(o.score, 4), "box": [round(v, 2) for v in o.box.as_list()]}
            for o in result.objects
        ],
        "anomalies": [
            {
                "type": a.type,
                "score": round(a.score, 4),
                "description": a.description,
                "people": [index_of[t] for t in a.people if t in index_of],
                "since_s": round(a.since_s, 4),
            }
            for a in result.alerts
        ],
        "latency_ms": round(1000.0 * result.latency_s, 2),
    }


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES


def describe_paths(analyzer: SceneAnalyzer, paths: list[str]) -> Iterator[dict[str, Any]]:
    """One record per image or video frame; an unreadable one gets ``{"image", "error"}``."""
    for raw in paths:
        path = Path(raw)
        if _is_video(path):
            analyzer.reset()
            try:
                for name, time_s, image in video_frames(path, fps=10.0):
                    if isinstance(image, Exception):
                        yield {"image": f"{path.parent / name}", "error": str(image)}
                        continue
                    record = scene_to_json(str(path.parent / name), analyzer.analyze(image, time_s))
                    yield {**record, "time_s": round(time_s, 4)}
            except FacePerceptionError as error:
                yield {"image": str(path), "error": str(error)}
            continue
        for file in list_images([path]):
            try:
                yield scene_to_json(str(file), analyzer.analyze(read_image(file)))
            except FacePerceptionError as error:
                yield {"image": str(file), "error": str(error)}


def _headline(record: dict[str, Any]) -> str:
    return f"{record['description']} ({record['latency_ms']:.0f} ms)"


def _alert_lines(record: dict[str, Any]) -> list[str]:
    return [f"ALERT {a['type']} ({a['score']:.2f}): {a['description']}" for a in record["anomalies"]]


def _with_captioner_flags(scene: SceneConfig, args: argparse.Namespace) -> SceneConfig:
    """``scene`` with ``--captioner`` and ``--beam-size`` in place of the file's values (checked again)."""
    changes: dict[str, Any] = {}
    if getattr(args, "captioner", None) is not None:
        changes["model_dir"] = str(args.captioner)
    if getattr(args, "beam_size", None) is not None:
        changes["beam_size"] = args.beam_size
    if not changes:
        return scene
    return dataclasses.replace(scene, captioner=dataclasses.replace(scene.captioner, **changes)).validate()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Describe every image; returns 1 when any could not be read, 0 otherwise.

    Raises:
        ConfigError, ModelError: a bad parameters file or captioner folder (the command exits 2).
    """
    out = out or sys.stdout
    scene, people, faces = load_scene_configs(args.config)
    scene = _with_captioner_flags(scene, args)
    captioner = load_captioner(scene.captioner, faces.num_threads)
    hazards = caption_findings if captioner is not None else None
    store = ModelStore(faces.models_dir or None, faces.num_threads)
    analyzer = SceneAnalyzer.from_store(scene, people, store, None if args.no_faces else faces, captioner, hazards)
    failures = 0
    for record in describe_paths(analyzer, args.paths):
        failures += "error" in record
        emit(record, args.json, out, "image", _headline, _alert_lines)
    return 1 if failures else 0
