"""Scenes from real labeled COCO photos (../shared/data/coco_mini): people's boxes and keypoints as labeled.

A fall is built from a photo of a standing man: frames of the photo, then the same photo
turned a quarter around his ankles (he lies on the floor, the car beside him), all in
640x480 frames with header times. Postures follow from that construction (and the
photos' captions): the upright photo is "standing", the turned one "lying".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from helpers import shared

from face_perception.core.images import read_image
from face_perception.core.scene.types import ObjectDetection, PersonObservation
from face_perception.core.timing import StageTimer
from face_perception.core.types import Box

FRAME_SHAPE = (480, 640)
STANDING_MAN = "000000234748.jpg"  # "A man talking on a phone standing behind a blue car."
BOY_ON_COUCH = "000000463557.jpg"  # "A little boy sitting on a couch with a plate of food."
_VISIBILITY_SCORE = {0: 0.0, 1: 0.6, 2: 0.9}


@dataclass(frozen=True)
class LabeledPerson:
    box: Box
    keypoints: np.ndarray  # [17, 3] x, y, score (labeled visibility mapped to a score)


@dataclass(frozen=True)
class LabeledScene:
    """A 640x480 frame with its labeled people and objects (persons excluded)."""

    image: np.ndarray
    people: list[LabeledPerson]
    objects: list[ObjectDetection]

    def observations(self, posture: str, posture_score: float = 0.9) -> list[PersonObservation]:
        return [PersonObservation(p.box, 0.95, p.keypoints, posture, posture_score) for p in self.people]


@cache
def _annotations() -> tuple[dict, dict, dict]:
    folder = shared("coco_mini")
    instances = json.loads((folder / "instances_train2017.json").read_text())
    keypoints = json.loads((folder / "person_keypoints_train2017.json").read_text())
    names = {c["id"]: c["name"] for c in instances["categories"]}
    return instances, keypoints, names


def labeled_photo(file_name: str, min_keypoints: int = 10) -> LabeledScene:
    """The photo placed at the top-left of a 640x480 grey frame, with its people and objects."""
    instances, keypoints, names = _annotations()
    image_id = next(i["id"] for i in instances["images"] if i["file_name"] == file_name)
    photo = read_image(shared("coco_mini", "images_train2017", file_name))
    frame = np.full((*FRAME_SHAPE, 3), 110, np.uint8)
    height, width = min(photo.shape[0], FRAME_SHAPE[0]), min(photo.shape[1], FRAME_SHAPE[1])
    frame[:height, :width] = photo[:height, :width]
    people = []
    for a in keypoints["annotations"]:
        if a["image_id"] == image_id and a["num_keypoints"] >= min_keypoints:
            raw = np.array(a["keypoints"], np.float32).reshape(17, 3)
            raw[:, 2] = [_VISIBILITY_SCORE[int(v)] for v in raw[:, 2]]
            x, y, w, h = a["bbox"]
            people.append(LabeledPerson(Box(x, y, x + w, y + h), raw))
    objects = [
        ObjectDetection(
            names[a["category_id"]],
            0.9,
            Box(a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]),
        )
        for a in instances["annotations"]
        if a["image_id"] == image_id and names[a["category_id"]] != "person" and a["area"] > 400
    ]
    return LabeledScene(frame, people, objects)


def _move_box(box: Box, matrix: np.ndarray) -> Box:
    corners = np.array([[box.x_min, box.y_min], [box.x_max, box.y_min], [box.x_min, box.y_max], [box.x_max, box.y_max]])
    moved = corners @ matrix[:, :2].T + matrix[:, 2]
    return Box(*moved.min(axis=0).tolist(), *moved.max(axis=0).tolist())


def transformed(scene: LabeledScene, matrix: np.ndarray) -> LabeledScene:
    """The scene warped by a 2x3 affine ``matrix``: image, boxes and keypoints alike."""
    image = cv2.warpAffine(scene.image, matrix, FRAME_SHAPE[::-1], borderValue=(110, 110, 110))
    people = []
    for person in scene.people:
        points = person.keypoints.copy()
        labeled = points[:, 2] > 0
        points[labeled, :2] = points[labeled, :2] @ matrix[:, :2].T + matrix[:, 2]
        people.append(LabeledPerson(_move_box(person.box, matrix), points))
    objects = [ObjectDetection(o.label, o.score, _move_box(o.box, matrix)) for o in scene.objects]
    return LabeledScene(image, people, objects)


def shifted(scene: LabeledScene, dx: float, dy: float = 0.0) -> LabeledScene:
    return transformed(scene, np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]))


def lying_down(scene: LabeledScene, person: int = 0, lift_px: float = 0.0) -> LabeledScene:
    """The scene turned a quarter clockwise around the person's ankles (their head ends up on the right)."""
    ankles = scene.people[person].keypoints[15:17]
    pivot = ankles[ankles[:, 2] > 0, :2].mean(axis=0)
    matrix = cv2.getRotationMatrix2D((float(pivot[0]), float(pivot[1])), 90.0, 1.0)
    matrix[1, 2] -= lift_px
    return transformed(scene, matrix)


@dataclass(frozen=True)
class Frame:
    time_s: float
    scene: LabeledScene
    posture: str


def fall_sequence(
    fps: float = 5.0, upright_s: float = 2.0, lying_s: float = 16.0, up_again_s: float = 4.0, still: bool = True
) -> list[Frame]:
    """The standing man, then fallen (lying on the floor), then up again; ``still``: he does not move while down."""
    base = labeled_photo(STANDING_MAN)
    frames, index = [], 0
    for step in range(int(upright_s * fps)):
        frames.append(Frame(index / fps, shifted(base, 2.0 * (step % 3)), "standing"))
        index += 1
    fallen = lying_down(base)
    for step in range(int(lying_s * fps)):
        frames.append(Frame(index / fps, fallen if still else shifted(fallen, 6.0 * (step % 4)), "lying"))
        index += 1
    for step in range(int(up_again_s * fps)):
        frames.append(Frame(index / fps, shifted(base, 2.0 * (step % 3)), "standing"))
        index += 1
    return frames


class LabeledPeople:
    """Finds the labeled people and objects of known frames (a people source for the analyzer's tests)."""

    def __init__(self, frames: list[tuple[LabeledScene, str]]) -> None:
        self._by_image = {scene.image.tobytes(): (scene, posture) for scene, posture in frames}

    def find(
        self, image_bgr: np.ndarray, timer: StageTimer | None = None
    ) -> tuple[list[PersonObservation], list[ObjectDetection]]:
        scene, posture = self._by_image[image_bgr.tobytes()]
        return scene.observations(posture), scene.objects
