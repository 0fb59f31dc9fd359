"""The ``falls/`` photos of the shared data: people fallen, sitting and standing, split by scene.

Three kinds of photos (see the data's README): frames of a staged-fall video on a gym mat
(``frame_<n>``), frames of a person in a furnished room filmed from a high corner (``rgb_<n>``),
and web photos (``fall<n>``, ``not-fallen<n>``). Frames of one kind whose numbers lie close
together come from one clip of one scene, so a clip is never split: photos are grouped by clip
(frame numbers more than ``CLIP_GAP`` apart start a new clip) or, for web photos, by source photo,
and whole groups go to the held-out part (``test``) by a hash of the group's name.

Many copies are turned by 90 or 180 degrees (or mirrored) while the label keeps the posture in the
world. A camera on a robot is upright, so the photos are judged upright: ``upright_turns`` says
how many counter-clockwise quarter turns bring a photo upright (see ``orientation``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_perception.core.errors import DataError
from face_perception.core.nms import box_iou
from face_perception.core.scene.people import rotate_image, unrotate_box
from face_perception.core.types import Box

FALLS_LABELS: tuple[str, ...] = ("fall", "sit", "stand")  # YOLO class ids 0, 1, 2
KINDS: tuple[str, ...] = ("staged", "room", "web")
CLIP_GAP = 15  # frame numbers further apart than this belong to different clips
TEST_SHARE_PERCENT = 30  # share of the groups of each kind held out
SPLIT_SALT = "falls-split-v5"  # chosen among eight for balanced counts of each kind and label
_NUMBERED = re.compile(r"^(frame|rgb)_(\d+)_")
_WEB = re.compile(r"^(not-fallen|fall)(\d+)")


@dataclass(frozen=True)
class LabeledPerson:
    """One labeled person of a photo: box in the photo's pixels, and ``fall``, ``sit`` or ``stand``."""

    box: Box
    label: str


@dataclass(frozen=True)
class FallsPhoto:
    path: Path
    kind: str  # one of KINDS
    group: str  # clip or source photo: never split between train and test
    split: str  # "train" or "test"
    people: tuple[LabeledPerson, ...]


def _kind_and_number(name: str) -> tuple[str, str, int]:
    numbered = _NUMBERED.match(name)
    if numbered:
        return ("staged" if numbered.group(1) == "frame" else "room"), numbered.group(1), int(numbered.group(2))
    web = _WEB.match(name)
    if web:
        return "web", web.group(1), int(web.group(2))
    raise DataError(f"falls photo with an unknown name pattern: {name}")


def _split_of(group: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{group}".encode()).digest()
    return "test" if digest[0] * 100 < TEST_SHARE_PERCENT * 256 else "train"


def _read_labels(path: Path, width: int, height: int) -> tuple[LabeledPerson, ...]:
    people = []
    for line_number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 5:
            raise DataError(f"{path}:{line_number}: expected 'class x y w h', got {line!r}")
        label, x, y, w, h = int(fields[0]), *map(float, fields[1:])
        if not 0 <= label < len(FALLS_LABELS):
            raise DataError(f"{path}:{line_number}: class {label} is not one of 0 fall, 1 sit, 2 stand")
        box = Box((x - w / 2) * width, (y - h / 2) * height, (x + w / 2) * width, (y + h / 2) * height)
        people.append(LabeledPerson(box, FALLS_LABELS[label]))
    return tuple(people)


def falls_photos(data: Path, image_size: int = 640) -> list[FallsPhoto]:
    """Every labeled photo of ``data/falls`` with its kind, clip group and split (photos are 640x640)."""
    folder = data / "falls"
    images = folder / "images"
    if not images.is_dir():
        raise DataError(f"no falls photos at {images} (see the shared data's README)")
    entries = []
    for path in sorted(images.iterdir()):
        label_path = folder / "labels" / f"{path.stem}.txt"
        if not label_path.is_file():
            raise DataError(f"falls photo without labels: {label_path}")
        kind, prefix, number = _kind_and_number(path.name)
        entries.append((path, kind, prefix, number, _read_labels(label_path, image_size, image_size)))
    groups: dict[tuple[str, int], str] = {}
    for prefix in ("frame", "rgb"):
        numbers = sorted({e[3] for e in entries if e[2] == prefix})
        clip_start = None
        previous = None
        for number in numbers:
            if previous is None or number - previous > CLIP_GAP:
                clip_start = number
            groups[(prefix, number)] = f"{prefix}_clip{clip_start}"
            previous = number
    photos = []
    for path, kind, prefix, number, people in entries:
        group = groups.get((prefix, number), f"{prefix}{number}")
        photos.append(FallsPhoto(path, kind, group, _split_of(group), people))
    return photos


def turn_box(box: Box, quarter_turns: int, turned_height: int, turned_width: int) -> Box:
    """A box of the original image as a box of the image turned by ``quarter_turns``."""
    return unrotate_box(box, (4 - quarter_turns) % 4, turned_height, turned_width)


# Objects whose detector score says which way is up: furniture and things that stand on the floor.
_UPRIGHT_CUES = frozenset(
    {
        "chair",
        "couch",
        "bed",
        "dining table",
        "tv",
        "potted plant",
        "bench",
        "refrigerator",
        "toilet",
        "sink",
        "oven",
        "laptop",
        "bottle",
        "cup",
        "clock",
        "vase",
        "suitcase",
        "backpack",
    }
)
_THUMB_SIDE = 24


def _upright_score(detections: list, people: tuple[LabeledPerson, ...], to_original) -> float:
    """How upright one turned view looks: the context objects' scores plus twice the person score of
    every labeled sitting or standing person (they are upright in the world)."""
    score = sum(d.score for d in detections if d.label in _UPRIGHT_CUES and d.score >= 0.3)
    person_boxes = [(d.score, to_original(d.box)) for d in detections if d.label == "person"]
    for person in people:
        if person.label == "fall" or not person_boxes:
            continue
        boxes = np.array([b.as_list() for _, b in person_boxes])
        overlap = box_iou(np.array(person.box.as_list()), boxes)
        score += 2.0 * max((s for (s, _), o in zip(person_boxes, overlap, strict=True) if o >= 0.3), default=0.0)
    return score


def _thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (_THUMB_SIDE, _THUMB_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


def _normalized(thumb: np.ndarray) -> np.ndarray:
    return ((thumb - thumb.mean()) / (thumb.std() + 1e-6)).ravel()


def upright_turns(photos: list[FallsPhoto], detector, read, cache: Path | None = None) -> dict[Path, int]:
    """Counter-clockwise quarter turns that bring each photo upright.

    Web photos: the turn whose view the object detector finds most upright (furniture, and the
    labeled sitting or standing people, score highest). Frames of the two fixed cameras: the turn
    whose thumbnail best matches the photos of the same kind that are upright as they are (most
    upright view unturned, by a clear margin), mirrored or not: the room itself says which way is up.
    ``cache``: a JSON file of earlier answers (by file name), read when it holds every photo, else written.
    """
    if cache is not None and cache.is_file():
        known = json.loads(cache.read_text())
        if all(p.path.name in known for p in photos):
            return {p.path: int(known[p.path.name]) for p in photos}
    views: dict[Path, tuple[int, float]] = {}
    thumbs: dict[Path, np.ndarray] = {}
    for photo in photos:
        image = read(photo.path)
        height, width = image.shape[:2]
        scores = []
        for turns in range(4):
            found = detector.detect(rotate_image(image, turns), 0.2)
            scores.append(
                _upright_score(found, photo.people, lambda b, t=turns, h=height, w=width: unrotate_box(b, t, h, w))
            )
        order = np.argsort(scores)
        views[photo.path] = (int(order[-1]), float(scores[order[-1]] - scores[order[-2]]))
        thumbs[photo.path] = _thumbnail(image)
    turns_of = {path: view[0] for path, view in views.items()}
    for kind in ("staged", "room"):
        members = [p.path for p in photos if p.kind == kind]
        references = [
            _normalized(t)
            for path in members
            if views[path][0] == 0 and views[path][1] >= 1.0
            for t in (thumbs[path], thumbs[path][:, ::-1])
        ]
        if len(references) < 4:
            continue  # too few photos upright as they are: keep the detector's answer
        stacked = np.array(references)
        for path in members:
            similarity = [
                np.sort(stacked @ _normalized(np.rot90(thumbs[path], turns)) / _THUMB_SIDE**2)[-3:].mean()
                for turns in range(4)
            ]
            turns_of[path] = int(np.argmax(similarity))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({path.name: turns for path, turns in turns_of.items()}, indent=0) + "\n")
    return turns_of
