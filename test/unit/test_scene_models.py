"""Object detector, pose model, posture rules and the people finder on real photos."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import shared

from face_perception.core.errors import ConfigError, ImageError, ModelError
from face_perception.core.images import read_image
from face_perception.core.models.objects import NanoDetDetector
from face_perception.core.models.pose import MoveNetPose, PoseCrop, crop_transform
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.people import (
    PeopleConfig,
    PeopleFinder,
    rotate_image,
    unrotate_box,
    unrotate_points,
)
from face_perception.core.scene.posture import classify_posture
from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import Box


@pytest.fixture(scope="module")
def store():
    return ModelStore()


@pytest.fixture(scope="module")
def detector(store):
    return NanoDetDetector.from_store(store)


@pytest.fixture(scope="module")
def pose(store):
    return MoveNetPose.from_store(store)


@pytest.fixture(scope="module")
def finder(store):
    return PeopleFinder.from_store(PeopleConfig(), store)


def _index(name: str) -> int:
    return KEYPOINT_NAMES.index(name)


def test_detector_finds_the_astronaut_and_nothing_on_the_rocket(detector, astronaut, rocket):
    people = [d for d in detector.detect(astronaut) if d.label == "person"]
    assert len(people) == 1 and people[0].score > 0.5
    box = people[0].box
    assert box.x_min < 60 and box.y_min < 60 and 300 < box.x_max < 420 and box.y_max > 450  # her upper body
    assert not [d for d in detector.detect(rocket, score_threshold=0.4) if d.label == "person"]


def test_detector_refuses_a_session_of_another_model(store):
    with pytest.raises(ModelError, match="not objects"):
        NanoDetDetector(store.entry("movenet_lightning"), store.session("movenet_lightning"))


def test_pose_keypoints_land_on_the_astronauts_face(pose, astronaut):
    keypoints = pose.predict(astronaut, [PoseCrop(Box(14, 14, 364, 508))])
    assert keypoints.shape == (1, 17, 3) and keypoints.dtype == np.float32
    nose, left_eye, right_eye = (keypoints[0, _index(n)] for n in ("nose", "left_eye", "right_eye"))
    assert nose[2] > 0.4 and left_eye[2] > 0.4 and right_eye[2] > 0.4
    assert 180 < nose[0] < 260 and 90 < nose[1] < 160  # her nose in the 512 px photo
    assert left_eye[0] > right_eye[0]  # the person's left eye is on the image's right


def test_turned_crop_maps_keypoints_back_to_the_same_place(pose, astronaut):
    """The astronaut turned on her side, looked at through a crop turned back: the same nose."""
    turned = rotate_image(astronaut, 1)  # counter-clockwise
    upright = pose.predict(astronaut, [PoseCrop(Box(14, 14, 364, 508))])[0]
    height, width = astronaut.shape[:2]
    box = unrotate_box(Box(14, 14, 364, 508), 3, width, height)  # the same box in the turned image
    back = pose.predict(turned, [PoseCrop(box, rotation_deg=270)])[0]
    nose_turned = unrotate_points(back[None, _index("nose"), :2], 1, height, width)[0]
    assert np.hypot(*(nose_turned - upright[_index("nose"), :2])) < 8.0


def test_crop_transform_rejects_odd_angles():
    with pytest.raises(ModelError, match="multiple of 90"):
        crop_transform(PoseCrop(Box(0, 0, 10, 10), rotation_deg=45), 192)


def test_rotation_helpers_round_trip():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    points = np.array([[0.0, 0.0], [5.0, 3.0], [2.0, 1.0]])
    for turns in (1, 2, 3):
        turned = rotate_image(image, turns)
        height, width = image.shape[:2]
        # the pixel of the turned image that unrotate_points maps to the original is the same pixel
        for tx, ty in [(0, 0), (turned.shape[1] - 1, turned.shape[0] - 1), (1, 2)]:
            ox, oy = unrotate_points(np.array([[tx, ty]], float), turns, height, width)[0]
            assert np.array_equal(turned[ty, tx], image[int(oy), int(ox)])
    assert unrotate_points(points, 0, 4, 6).tolist() == points.tolist()


def test_people_finder_on_the_astronaut(finder, astronaut):
    people, objects = finder.find(astronaut)
    assert len(people) == 1
    person = people[0]
    assert person.keypoints.shape == (17, 3)
    assert person.posture != "lying"  # upper body only, upright: never lying
    assert person.score >= 0.5
    assert all(o.label != "person" for o in objects)


def test_people_finder_sees_the_astronaut_turned_on_her_side_as_lying(finder, astronaut):
    people, _ = finder.find(rotate_image(astronaut, 3))  # clockwise: head on the right
    assert len(people) == 1
    assert people[0].posture == "lying" and people[0].posture_score > 0.3
    assert people[0].box.width > people[0].box.height


def test_turned_pose_relook_is_what_makes_her_lying(store, astronaut):
    """Without the turned-crop re-look the pose of a person on her side is not confident enough to say lying."""
    turned = rotate_image(astronaut, 3)
    plain = PeopleFinder.from_store(PeopleConfig(rotated_pose=False, rotated_detection="off"), store)
    relook = PeopleFinder.from_store(PeopleConfig(rotated_pose=True, rotated_detection="off"), store)
    before, _ = plain.find(turned)
    after, _ = relook.find(turned)
    assert before and after
    assert after[0].keypoints[:, 2].mean() > before[0].keypoints[:, 2].mean()


def test_people_finder_refuses_bad_images(finder):
    with pytest.raises(ImageError):
        finder.find(np.zeros((480, 640), np.uint8))
    with pytest.raises(ImageError):
        finder.find(np.zeros((480, 640, 3), np.float32))


def test_people_config_names_the_bad_parameter():
    with pytest.raises(ConfigError, match="people.score_threshold"):
        PeopleConfig(score_threshold=1.5).validate()
    with pytest.raises(ConfigError, match="people.max_people"):
        PeopleConfig(max_people=0).validate()
    with pytest.raises(ConfigError, match="people.nope"):
        PeopleConfig.from_parameters({"people.nope": 1})
    with pytest.raises(ConfigError, match="people.rotated_detection"):
        PeopleConfig(rotated_detection="sometimes").validate()
    with pytest.raises(ConfigError, match="people.rotated_pose"):
        PeopleConfig.from_parameters({"people.rotated_pose": "yes"})
    config = PeopleConfig.from_parameters({"people.score_threshold": 0.5, "detector.model": "x"})
    assert config.score_threshold == 0.5
    assert PeopleConfig.from_parameters(config.to_parameters()) == config


def _coco_people():
    folder = shared("coco_mini")
    annotations = json.loads((folder / "person_keypoints_train2017.json").read_text())
    boxes_keypoints = []
    for a in annotations["annotations"]:
        k = np.array(a["keypoints"], np.float32).reshape(17, 3)
        if a.get("iscrowd") or (k[:, 2] == 2).sum() < 13:
            continue
        x, y, w, h = a["bbox"]
        k[:, 2] = (k[:, 2] == 2).astype(np.float32)  # visible: score 1; else 0
        boxes_keypoints.append((Box(x, y, x + w, y + h), k))
    return boxes_keypoints


def test_posture_of_labeled_coco_people_and_the_same_people_turned():
    """Labeled (human-drawn) keypoints of nearly fully visible people: upright people are never called lying;
    turned by 90 degrees, they are."""
    people = _coco_people()
    assert len(people) >= 20
    upright_labels, turned_labels = [], []
    for box, keypoints in people:
        upright_labels.append(classify_posture(keypoints, box).label)
        turned = keypoints.copy()
        turned[:, 0], turned[:, 1] = keypoints[:, 1], -keypoints[:, 0]  # a quarter turn
        turned_box = Box(box.y_min, -box.x_max, box.y_max, -box.x_min)
        turned_labels.append(classify_posture(turned, turned_box).label)
    assert upright_labels.count("standing") + upright_labels.count("sitting") >= 0.6 * len(people)
    assert upright_labels.count("lying") <= 0.1 * len(people)
    assert turned_labels.count("lying") >= 0.8 * len(people)


def test_posture_is_unknown_without_confident_torso():
    keypoints = np.zeros((17, 3), np.float32)
    assert classify_posture(keypoints, Box(0, 0, 100, 200)).label == "unknown"
    with pytest.raises(ValueError):
        classify_posture(np.zeros((5, 3), np.float32), Box(0, 0, 1, 1))


def test_people_finder_on_coco_photos_finds_most_large_people(finder):
    """On real COCO photos the finder's people overlap the labeled large people."""
    folder = shared("coco_mini")
    annotations = json.loads((folder / "instances_train2017.json").read_text())
    images = {i["id"]: i for i in annotations["images"]}
    large = {}
    for a in annotations["annotations"]:
        if a["category_id"] == 1 and not a["iscrowd"] and a["bbox"][3] >= 0.3 * images[a["image_id"]]["height"]:
            large.setdefault(a["image_id"], []).append(a["bbox"])
    found = total = 0
    for image_id, boxes in sorted(large.items())[:12]:
        people, _ = finder.find(read_image(folder / "images_train2017" / images[image_id]["file_name"]))
        for x, y, w, h in boxes:
            total += 1
            found += any(
                min(x + w, p.box.x_max) - max(x, p.box.x_min) > 0.5 * w
                and min(y + h, p.box.y_max) - max(y, p.box.y_min) > 0.5 * h
                for p in people
            )
    assert total >= 10 and found >= 0.6 * total


def test_max_people_is_respected(store, astronaut):
    frame = np.concatenate([astronaut, astronaut], axis=1)
    few = PeopleFinder.from_store(dataclasses.replace(PeopleConfig(), max_people=1), store)
    assert len(few.find(frame)[0]) == 1


def _upright_and_lying_frame(astronaut: np.ndarray) -> np.ndarray:
    """640x480: the astronaut upright on the left, and again turned on her side on the right."""
    import cv2

    person = astronaut[:, 0:380]
    frame = np.full((480, 640, 3), 90, np.uint8)
    for index, image in enumerate((person, rotate_image(person, 3))):
        scale = min(320 / image.shape[1], 480 / image.shape[0])
        tile = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
        frame[480 - tile.shape[0] :, index * 320 : index * 320 + tile.shape[1]] = tile
    return frame


def test_turned_detection_finds_the_person_on_her_side(store, astronaut):
    frame = _upright_and_lying_frame(astronaut)
    always = PeopleFinder.from_store(PeopleConfig(rotated_detection="always"), store)
    people, _ = always.find(frame)
    lying = [p for p in people if p.box.x_min > 300]
    assert len(lying) == 1 and lying[0].posture == "lying"
    assert lying[0].box.width > lying[0].box.height
    alternate = PeopleFinder.from_store(PeopleConfig(rotated_detection="alternate"), store)
    calls = [alternate.find(frame)[0] for _ in range(2)]
    found = [any(p.box.x_min > 300 and p.posture == "lying" for p in people) for people in calls]
    assert any(found)  # one of the two directions finds her


def test_bench_scene_times_frames_with_one_to_three_people(capsys):
    from face_perception.cli import bench
    from face_perception.cli.main import build_parser

    no_data = Path(__file__).parent  # no falls photos here: the sample frames only
    args = ["bench", "--scene", "--repeats", "1", "--json", "--data", str(no_data)]
    assert bench.run(build_parser().parse_args(args)) == 0
    report = json.loads(capsys.readouterr().out)
    assert [report[f"sample_{n}_people_0_lying"]["people_found_mean"] for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
    for row in report.values():
        stages = ("people_detector", "pose", "posture", "faces", "tracking_and_alerts", "sentence")
        assert all(row[f"{stage}_cpu_ms"] >= 0 for stage in stages)
        assert row["total_cpu_ms"] >= row["people_detector_cpu_ms"] > 0
