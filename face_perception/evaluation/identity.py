"""``eval identity``: verification, rank-1 and strangers on the identity-labeled photos.

Each photo gives its largest face (one person photos) or all its faces (photos of several people,
whose labels do not say which face is whom). Photos with identical bytes count once.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.config import PipelineConfig
from face_perception.core.errors import DataError
from face_perception.core.identity import FaceIdentifier, largest, nearest
from face_perception.core.images import as_bgr, read_image
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.preprocess import face_template, similarity_transform
from face_perception.core.runtime import ModelStore
from face_perception.core.types import Detection
from face_perception.evaluation.tasks import Report


@dataclass(frozen=True)
class IdentityPhoto:
    file: Path
    people: tuple[str, ...]


def identity_photos(data: Path) -> list[IdentityPhoto]:
    """The labeled photos of ``data/identity`` (identical files once)."""
    folder = data / "identity"
    try:
        with (folder / "labels.csv").open(newline="") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as error:
        raise DataError(f"cannot read the identity labels {folder / 'labels.csv'}: {error}") from error
    photos, seen = [], set()
    for row in rows:
        path = folder / "images" / row["file"]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            photos.append(IdentityPhoto(path, tuple(sorted(row["identities"].split(";")))))
    if not photos:
        raise DataError(f"no identity photos under {folder}")
    return photos


# Alignment variants measured against the shipped one: which of the five points set the transform.
ALIGNMENTS = {"five points (shipped)": [0, 1, 2, 3, 4], "eyes and nose": [0, 1, 2], "eyes and mouth": [0, 1, 3, 4]}


def _chip(image: np.ndarray, detection: Detection, points: list[int], size: int, padding: float) -> np.ndarray:
    template = face_template(size, padding)
    matrix = similarity_transform(detection.landmarks[points], template[points])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def verification(embeddings: np.ndarray, people: list[str], threshold: float) -> dict[str, float]:
    """Accuracy over every pair at ``threshold``, the same-person and different-person pairs' error rates."""
    same, different = [], []
    for i, j in itertools.combinations(range(len(people)), 2):
        distance = float(np.linalg.norm(embeddings[i] - embeddings[j]))
        (same if people[i] == people[j] else different).append(distance)
    same_a, diff_a = np.array(same), np.array(different)
    correct = int((same_a < threshold).sum() + (diff_a >= threshold).sum())
    return {
        "pairs": len(same) + len(different),
        "same_pairs": len(same),
        "accuracy": correct / (len(same) + len(different)),
        "false_accept_rate": float((diff_a < threshold).mean()),
        "false_reject_rate": float((same_a >= threshold).mean()),
        "max_same_distance": float(same_a.max()),
        "min_different_distance": float(diff_a.min()),
    }


def eval_identity(data: Path, out: Path, config: PipelineConfig, model: str | None) -> Report:
    photos = identity_photos(data)
    identity_config = config.identity
    store = ModelStore(config.models_dir or None, config.num_threads)
    detector = RetinaFaceDetector.from_store(config.detector, store)

    identifier = FaceIdentifier(
        dataclasses.replace(identity_config, gallery="", model=model or identity_config.model), store
    )
    threshold = identity_config.threshold
    size, padding = identifier.embedder.spec.size, identifier.embedder.spec.crop_padding

    singles: list[tuple[IdentityPhoto, np.ndarray, Detection]] = []
    groups: list[tuple[IdentityPhoto, np.ndarray, list[Detection]]] = []
    for photo in photos:
        image = as_bgr(read_image(photo.file), config.max_image_side_px)
        found = detector.detect(image)
        if not found:
            raise DataError(f"no face found in {photo.file}")
        if len(photo.people) == 1:
            singles.append((photo, image, largest(found)))
        else:
            groups.append((photo, image, sorted(found, key=lambda d: -d.box.width)[: len(photo.people)]))
    people = [p.people[0] for p, _, _ in singles]

    report = Report("Face identity: verification, rank-1 and strangers")
    rows = []
    for name, points in ALIGNMENTS.items():
        chips = np.stack([_chip(image, d, points, size, padding) for _, image, d in singles])
        embeddings = identifier.embedder.embed(chips)
        result = verification(embeddings, people, threshold)
        rows.append(
            [
                name,
                result["accuracy"],
                result["false_accept_rate"],
                result["false_reject_rate"],
                result["max_same_distance"],
                result["min_different_distance"],
            ]
        )
        if points == ALIGNMENTS["five points (shipped)"]:
            shipped, embedded = result, embeddings
    report.lines += [
        f"{len(singles)} photos of one person ({len(set(people))} people), {len(groups)} of several; "
        f"threshold {threshold} (Euclidean distance; the model's published calibration).",
        "",
        "## Verification (largest face of each one-person photo, every pair)",
        "",
    ]
    report.table(
        ["alignment", "accuracy", "false accepts", "false rejects", "largest same", "smallest different"], rows
    )
    report.lines += [
        f"Pairs: {shipped['pairs']} ({shipped['same_pairs']} of the same person). Largest same-person distance "
        f"{shipped['max_same_distance']:.3f}, smallest different-person distance "
        f"{shipped['min_different_distance']:.3f}.",
        "",
    ]

    # Rank-1 with one enrolment photo per person (the first in name order), the others as queries.
    enrolled: dict[str, int] = {}
    for index, person in enumerate(people):
        enrolled.setdefault(person, index)
    names = list(enrolled)
    known = embedded[list(enrolled.values())]
    queries = [i for i in range(len(people)) if i not in enrolled.values()]
    matches = nearest(embedded[queries], names, known, np.inf)
    rank1 = float(np.mean([m.name == people[i] for m, i in zip(matches, queries, strict=True)]))
    named = nearest(embedded[queries], names, known, threshold)
    named_right = float(np.mean([m.name == people[i] for m, i in zip(named, queries, strict=True)]))

    # Strangers: each person left out of the gallery in turn; every photo of them is a stranger.
    stranger_named, stranger_total, per_person = 0, 0, {}
    for person in names:
        others = [n for n in names if n != person]
        gallery = embedded[[enrolled[n] for n in others]]
        probes = [i for i, p in enumerate(people) if p == person]
        got = nearest(embedded[probes], others, gallery, threshold)
        wrong = sum(m.name is not None for m in got)
        stranger_named += wrong
        stranger_total += len(probes)
        per_person[person] = {"photos": len(probes), "stranger_named": wrong}

    # Photos of several people: each face named one of the photo's people (gallery: one photo each).
    group_faces, group_right, group_unknown = 0, 0, 0
    for photo, image, found in groups:
        embeddings = identifier.embed(image, found)
        for match in nearest(embeddings, names, known, threshold):
            group_faces += 1
            group_right += match.name in photo.people
            group_unknown += match.name is None

    report.lines += ["## Recognition (gallery: one photo per person)", ""]
    report.table(
        ["measure", "value", "count"],
        [
            ["rank-1 (nearest person is right)", rank1, len(queries)],
            ["named right at the threshold", named_right, len(queries)],
            ["strangers named (person left out of the gallery)", stranger_named / stranger_total, stranger_total],
            ["faces of group photos named one of their people", group_right / max(group_faces, 1), group_faces],
            ["faces of group photos left unknown", group_unknown / max(group_faces, 1), group_faces],
        ],
    )
    report.lines += ["## Per person", ""]
    report.table(
        ["person", "photos", "stranger photos named"],
        [[p, v["photos"], v["stranger_named"]] for p, v in sorted(per_person.items())],
    )
    report.metrics = {
        "threshold": threshold,
        "verification_accuracy": shipped["accuracy"],
        "false_accept_rate": shipped["false_accept_rate"],
        "false_reject_rate": shipped["false_reject_rate"],
        "pairs": shipped["pairs"],
        "rank1": rank1,
        "named_right": named_right,
        "stranger_named_rate": stranger_named / stranger_total,
        "strangers": stranger_total,
        "group_faces_right": group_right / max(group_faces, 1),
        "alignments": {r[0]: r[1] for r in rows},
        "groups": per_person,
    }
    return report
