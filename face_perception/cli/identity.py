"""``face-perception identity``: enrol, forget and list the people of a gallery; verify two photos.

Each photo gives its largest face. Exit status: 0 done; 1 a photo could not be used or
the name is empty or unknown (the reason is printed; nothing is stored or removed); 2 a bad gallery
file, configuration or model.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from face_perception.cli.config_file import load_config
from face_perception.core.config import PipelineConfig
from face_perception.core.errors import EnrolmentError, FacePerceptionError, ImageError
from face_perception.core.gallery import Gallery, check_name
from face_perception.core.identity import FaceIdentifier, largest
from face_perception.core.images import as_bgr, read_image
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.runtime import ModelStore

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="parameters YAML (identity.threshold, the detector)")
    actions = parser.add_subparsers(dest="action", required=True)
    enroll = actions.add_parser("enroll", help="add a person's face from photos (the largest face of each)")
    enroll.add_argument("--gallery", type=Path, required=True, help="gallery file (created private when new)")
    enroll.add_argument("name", help="the person's name")
    enroll.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photos of the person")
    forget = actions.add_parser("forget", help="remove a person and every embedding of them; compact the file")
    forget.add_argument("--gallery", type=Path, required=True, help="gallery file")
    forget.add_argument("name", help="the person's name")
    listing = actions.add_parser("list", help="the people of a gallery")
    listing.add_argument("--gallery", type=Path, required=True, help="gallery file")
    listing.add_argument("--json", action="store_true", help="one JSON object per person")
    verify = actions.add_parser("verify", help="are two photos (their largest faces) the same person?")
    verify.add_argument("--json", action="store_true", help="one JSON object per pair")
    verify.add_argument("--pairs", type=Path, help="CSV file with header a,b: one pair of photo paths per row")
    verify.add_argument("images", nargs="*", type=Path, metavar="IMAGE", help="IMAGE_A IMAGE_B (without --pairs)")


class _Faces:
    """The detector and the embedding head, as the configuration sets them."""

    def __init__(self, config: PipelineConfig, gallery: Gallery | None) -> None:
        store = ModelStore(config.models_dir or None, config.num_threads)
        self.config = config
        self.detector = RetinaFaceDetector.from_store(config.detector, store)
        self.identifier = FaceIdentifier(dataclasses.replace(config.identity, gallery=""), store, gallery)

    def largest_face(self, path: Path, enrolment: bool = False) -> np.ndarray:
        """The embedding of the photo's largest face; raises EnrolmentError or ImageError with the reason."""
        image = as_bgr(read_image(path, self.config.max_image_side_px), self.config.max_image_side_px)
        found = self.detector.detect(image)
        if not found:
            raise EnrolmentError(f"{path}: no face found")
        face = largest(found)
        if enrolment:
            try:
                return self.identifier.enrolment_embedding(image, face)
            except EnrolmentError as error:
                raise EnrolmentError(f"{path}: {error}") from error
        return self.identifier.embed(image, [face])[0]


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config = load_config(args.config)
    if args.action == "verify":
        return _verify(args, config, out)
    with Gallery(args.gallery, create=args.action == "enroll") as gallery:
        if args.action == "enroll":
            return _enroll(args, config, gallery, out)
        if args.action == "forget":
            if args.name.strip() not in {p.name for p in gallery.people()}:
                log.error("nobody named %r is in gallery %s", args.name.strip(), args.gallery)
                return 1
            removed = gallery.forget(args.name)
            out.write(f"forgot {args.name.strip()}: {removed} embedding(s) removed from {args.gallery}\n")
            return 0
        for person in gallery.people():
            record = {
                "name": person.name,
                "embeddings": person.embeddings,
                "first_added": _iso(person.first_added_s),
                "last_added": _iso(person.last_added_s),
            }
            if args.json:
                out.write(json.dumps(record) + "\n")
            else:
                out.write(f"{person.name}: {person.embeddings} embedding(s), last added {record['last_added']}\n")
        return 0


def _enroll(args: argparse.Namespace, config: PipelineConfig, gallery: Gallery, out: TextIO) -> int:
    """Every photo must give a usable face, or nothing is stored."""
    try:
        name = check_name(args.name)
    except EnrolmentError as error:
        log.error("cannot enrol: %s", error)
        return 1
    faces = _Faces(config, gallery)
    embeddings = []
    for path in args.images:
        try:
            embeddings.append(faces.largest_face(path, enrolment=True))
        except (EnrolmentError, ImageError, cv2.error) as error:
            log.error("cannot enrol %s: %s (nothing stored)", name, str(error).strip())
            return 1
    total = gallery.add(name, np.stack(embeddings), faces.identifier.embedder.entry.model_id, source="cli")
    out.write(f"enrolled {name}: {len(embeddings)} embedding(s) added, {total} in all, in {args.gallery}\n")
    return 0


def _verify(args: argparse.Namespace, config: PipelineConfig, out: TextIO) -> int:
    if args.pairs is not None:
        if args.images:
            raise FacePerceptionError("give either --pairs FILE or IMAGE_A IMAGE_B, not both")
        pairs = _read_pairs(args.pairs)
    elif len(args.images) == 2:
        pairs = [(args.images[0], args.images[1])]
    else:
        raise FacePerceptionError(f"verify takes two images (or --pairs FILE), got {len(args.images)}")
    faces = _Faces(config, None)
    threshold = config.identity.threshold
    cache: dict[Path, np.ndarray | str] = {}
    failures = 0
    for a, b in pairs:
        for path in (a, b):
            if path not in cache:
                try:
                    cache[path] = faces.largest_face(path)
                except (EnrolmentError, ImageError, cv2.error) as error:
                    cache[path] = str(error).strip()
        problems = [cache[p] for p in (a, b) if isinstance(cache[p], str)]
        if problems:
            failures += 1
            record = {"a": str(a), "b": str(b), "error": "; ".join(problems)}
        else:
            distance = float(np.linalg.norm(cache[a] - cache[b]))
            record = {
                "a": str(a),
                "b": str(b),
                "same_person": bool(distance < threshold),
                "distance": round(distance, 4),
                "threshold": threshold,
            }
        if args.json:
            out.write(json.dumps(record) + "\n")
        elif "error" in record:
            out.write(f"{a} / {b}: error: {record['error']}\n")
        else:
            verdict = "same person" if record["same_person"] else "different people"
            out.write(f"{a} / {b}: {verdict} (distance {record['distance']:.3f}, threshold {threshold})\n")
        if "error" in record:
            log.error("%s", record["error"])
    return 1 if failures else 0


def _read_pairs(path: Path) -> list[tuple[Path, Path]]:
    try:
        with path.open(newline="") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or not {"a", "b"} <= set(reader.fieldnames):
                raise FacePerceptionError(f"{path}: the header must name columns a and b")
            base = path.parent
            return [(_relative(base, row["a"]), _relative(base, row["b"])) for row in reader]
    except OSError as error:
        raise FacePerceptionError(f"cannot read pairs file {path}: {error}") from error


def _relative(base: Path, value: str) -> Path:
    """A path of the pairs file: absolute, or relative to the working folder when it exists there, else to the file."""
    path = Path(value.strip())
    return path if path.is_absolute() or path.exists() else base / path


def _iso(seconds: float) -> str:
    if not math.isfinite(seconds):
        return ""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")
