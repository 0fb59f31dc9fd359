"""eval scene's pieces on COCO-mini: labeled people, turned truth, matching and the plot."""

import cv2
import numpy as np
from helpers import SHARED_DATA, shared

from face_perception.core.runtime import ModelStore
from face_perception.core.scene.people import PeopleConfig, PeopleFinder, unrotate_points
from face_perception.evaluation.scene import (
    _bars_png,
    _run,
    coco_people,
    rotate_points,
    truth_posture,
    turn_person,
)


def test_rotate_points_undoes_unrotate_points():
    points = np.array([[0.0, 0.0], [639.0, 479.0], [100.5, 20.25]])
    for turns in (1, 2, 3):
        turned = rotate_points(points, turns, 480, 640)
        assert np.allclose(unrotate_points(turned, turns, 480, 640), points)


def test_labeled_people_are_mostly_upright_and_lying_once_turned():
    shared("coco_mini")
    images = coco_people(SHARED_DATA)
    assert len(images) == 80
    people = [(image.path, p) for image in images for p in image.people]
    postures = [truth_posture(p.keypoints) for _, p in people]
    assert postures.count("upright") > 5 * postures.count("lying")
    turned = []
    for (path, person), posture in zip(people, postures, strict=True):
        if posture == "upright":
            height, width = cv2.imread(str(path)).shape[:2]
            turned.append(truth_posture(turn_person(person, 1, height, width).keypoints))
    # upright is within 35 degrees of vertical, so turned it is within 55 of it: lying from 60, in between before
    assert turned and set(turned) <= {"lying", None} and turned.count("lying") >= 0.8 * len(turned)


def test_run_matches_found_people_and_draws_the_plot(tmp_path):
    shared("coco_mini")
    images = coco_people(SHARED_DATA)[:6]
    finder = PeopleFinder.from_store(PeopleConfig(), ModelStore())
    summary = _run(finder, images, (0,)).summary()
    assert summary["labeled_people"] == sum(len(i.people) for i in images)
    assert 0.0 < summary["recall"] <= 1.0 and 0.0 < summary["precision"] <= 1.0
    assert summary["keypoints_within_10pct"] > 0.3
    _bars_png({"a": {"recall": summary["recall"]}}, tmp_path / "bars.png", "test")
    assert (tmp_path / "bars.png").stat().st_size > 1000
