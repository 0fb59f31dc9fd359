import numpy as np
import pytest

from face_perception.core import rep155
from face_perception.core.scene.types import KEYPOINT_NAMES
from face_perception.core.types import EMOTION_LABELS, LANDMARK_NAMES, Box


def test_ids_are_short_lowercase_topic_tokens_that_never_repeat():
    assert rep155.face_id(1) == "f0001" and rep155.body_id(1) == "b0001"
    assert rep155.face_id(36) == "f0010" and rep155.face_id(36**4 - 1) == "fzzzz"
    assert rep155.face_id(36**4) == "f10000"  # longer, not wrapped
    ids = [rep155.face_id(n) for n in range(1, 5000)]
    assert len(set(ids)) == len(ids)
    assert all(i[0].isalpha() and i.isalnum() and i == i.lower() for i in ids)
    with pytest.raises(ValueError):
        rep155.face_id(0)


def test_person_ids_from_names():
    assert rep155.person_id("Ada Lovelace") == "p_ada_lovelace"
    assert rep155.person_id("  Zoë-2 ") == "p_zo_2"
    with pytest.raises(ValueError):
        rep155.person_id("--")


def test_regions_are_normalized_and_clipped():
    region = rep155.normalized_region(Box(-10.0, 48.0, 320.0, 500.0), 640, 480)
    assert region == pytest.approx((0.0, 0.1, 0.5, 1.0))
    with pytest.raises(ValueError):
        rep155.normalized_region(Box(0, 0, 1, 1), 0, 480)


def test_every_emotion_has_a_rep155_expression():
    assert set(rep155.EXPRESSIONS) == set(EMOTION_LABELS)


def test_skeleton_maps_every_coco_keypoint_and_derives_the_neck():
    assert set(rep155.SKELETON_JOINTS) - rep155.DERIVED_JOINTS == set(KEYPOINT_NAMES)
    keypoints = np.zeros((17, 3), np.float32)
    for index in range(len(KEYPOINT_NAMES)):
        keypoints[index] = (10 * index, 5 * index, 0.5 + index / 100)
    joints = rep155.skeleton_points(keypoints, 640, 480)
    assert joints.shape == (18, 3)
    for joint, name in enumerate(rep155.SKELETON_JOINTS):
        if name in KEYPOINT_NAMES:
            x, y, c = keypoints[KEYPOINT_NAMES.index(name)]
            assert joints[joint] == pytest.approx((x / 640, y / 480, c))
    left, right = keypoints[KEYPOINT_NAMES.index("left_shoulder")], keypoints[KEYPOINT_NAMES.index("right_shoulder")]
    neck = joints[rep155.SKELETON_JOINTS.index("neck")]
    assert neck == pytest.approx(((left[0] + right[0]) / 1280, (left[1] + right[1]) / 960, min(left[2], right[2])))


def test_five_landmarks_fill_their_facial_landmark_slots():
    landmarks = np.array([[100, 100], [140, 100], [120, 120], [105, 140], [135, 140]], np.float32)
    points = rep155.facial_landmark_points(landmarks, 640, 480)
    assert points.shape == (70, 3) and points[:, 2].sum() == len(LANDMARK_NAMES)
    assert points[68] == pytest.approx((100 / 640, 100 / 480, 1.0))  # RIGHT_PUPIL: the eye on the image's left
    assert points[54] == pytest.approx((135 / 640, 140 / 480, 1.0))  # MOUTH_OUTER_LEFT


def test_age_confidence_falls_with_the_interval():
    assert rep155.age_confidence(None) == 0.0 and rep155.age_confidence(float("nan")) == 0.0
    assert rep155.age_confidence(0.0) == 1.0 and rep155.age_confidence(10.0) == pytest.approx(0.5)
    assert rep155.age_confidence(4.0) > rep155.age_confidence(8.0)
