"""The labeled data of ``../shared/data`` as lists of samples with their groups."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_perception.core.errors import DataError
from face_perception.core.types import EMOTION_LABELS
from face_perception.evaluation.metrics import RACES, age_band


@dataclass(frozen=True)
class UtkFace:
    """One UTKFace image with the labels in its name, and its eyewear label where one exists."""

    path: Path
    age: int
    gender: str
    race: str
    eyewear: str | None  # glasses, sunglasses, none, unsure, or None when not labeled

    @property
    def age_band(self) -> str:
        return age_band(self.age)


def fer_samples(data: Path, split: str = "public_test") -> list[tuple[Path, int]]:
    folder = data / "fer2013" / split
    samples = [(p, i) for i, label in enumerate(EMOTION_LABELS) for p in sorted((folder / label).glob("*"))]
    if not samples:
        raise DataError(f"no FER2013 images under {folder}")
    return samples


def eyewear_labels(data: Path) -> dict[tuple[str, str], str]:
    """(split, file name) -> eyewear label."""
    path = data / "glasses" / "labels.csv"
    try:
        with path.open() as stream:
            return {(row["split"], row["file"]): row["label"] for row in csv.DictReader(stream)}
    except (OSError, KeyError, csv.Error) as error:
        raise DataError(f"cannot read the eyewear labels {path}: {error}") from error


def utkface_samples(data: Path, split: str = "dev") -> list[UtkFace]:
    eyewear = eyewear_labels(data)
    samples = []
    for path in sorted((data / "utkface" / split).glob("*.jpg")):
        age, gender, race = path.name.split("_")[:3]
        samples.append(
            UtkFace(
                path, int(age), "male" if gender == "0" else "female", RACES[int(race)], eyewear.get((split, path.name))
            )
        )
    if not samples:
        raise DataError(f"no UTKFace images under {data / 'utkface' / split}")
    return samples


def utkface_chips(paths: list[Path], size: int, padding: float, batch: int = 256) -> np.ndarray:
    """Chips of face crops, cut exactly as ``FacePipeline.process_crops`` cuts them for a head."""
    from face_perception.core.config import HEAD_NAMES, PipelineConfig
    from face_perception.core.images import read_image
    from face_perception.core.pipeline import FacePipeline

    finder = FacePipeline(PipelineConfig.from_parameters({f"{head}.enabled": False for head in HEAD_NAMES}))
    return np.concatenate(
        [
            finder.crop_chips([read_image(p) for p in paths[start : start + batch]], size, padding)
            for start in range(0, len(paths), batch)
        ]
    )


@dataclass(frozen=True)
class DetectionImage:
    path: Path
    faces: np.ndarray  # [N, 4] x1, y1, x2, y2
    source: str


def dlib_detection_images(data: Path) -> list[DetectionImage]:
    folder = data / "detection" / "dlib_faces"
    images = []
    for name in ("training.xml", "testing.xml"):
        for image in ET.parse(folder / name).getroot().iter("image"):
            boxes = [
                [
                    int(b.get("left")),
                    int(b.get("top")),
                    int(b.get("left")) + int(b.get("width")),
                    int(b.get("top")) + int(b.get("height")),
                ]
                for b in image.iter("box")
            ]
            images.append(DetectionImage(folder / image.get("file"), np.array(boxes, float).reshape(-1, 4), "dlib"))
    return images


def coco_detection_images(data: Path) -> list[DetectionImage]:
    """COCO photos; a face counts where nose and both eyes are labeled visible, sized from the eyes and ears."""
    folder = data / "coco_mini"
    annotations = json.loads((folder / "person_keypoints_train2017.json").read_text())
    faces: dict[int, list[list[float]]] = {image["id"]: [] for image in annotations["images"]}
    for annotation in annotations["annotations"]:
        k = np.array(annotation["keypoints"], float).reshape(-1, 3)  # nose, l eye, r eye, l ear, r ear, ...
        if not (k[0, 2] == 2 and k[1, 2] == 2 and k[2, 2] == 2):
            continue
        eye_distance = np.linalg.norm(k[1, :2] - k[2, :2])
        ears = k[3:5][k[3:5, 2] > 0, :2]
        width = max(2.0 * eye_distance, np.ptp(ears[:, 0]) if len(ears) == 2 else 0.0, 4.0)
        centre = (k[0, :2] + (k[1, :2] + k[2, :2]) / 2) / 2
        faces[annotation["image_id"]].append(
            [centre[0] - width / 2, centre[1] - 0.6 * width, centre[0] + width / 2, centre[1] + 0.7 * width]
        )
    return [
        DetectionImage(
            folder / "images_train2017" / image["file_name"], np.array(faces[image["id"]], float).reshape(-1, 4), "coco"
        )
        for image in annotations["images"]
    ]
