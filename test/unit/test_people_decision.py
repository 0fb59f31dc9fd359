"""How the people finder decides with a posture model: real detector and pose on a real photo, and
classifiers built here that always give one answer, so each rule of the decision shows on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from helpers import shared
from onnx import TensorProto, helper, numpy_helper

from face_perception.core.images import read_image
from face_perception.core.models.objects import NanoDetDetector
from face_perception.core.models.pose import MoveNetPose
from face_perception.core.models.posture import NUM_FEATURES, POSTURE_CLASSES, PostureClassifier
from face_perception.core.runtime import ModelEntry, ModelStore
from face_perception.core.scene.people import PeopleConfig, PeopleFinder, rotate_image

STANDING_MAN = "000000234748.jpg"  # COCO-mini: "A man talking on a phone standing behind a blue car."


def _constant_classifier(probabilities: list[float]) -> PostureClassifier:
    """A posture model whose answer is ``probabilities`` for every candidate."""
    nodes = [
        helper.make_node("ReduceSum", ["features", "axes"], ["sums"], keepdims=1),
        helper.make_node("Mul", ["sums", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "answer"], ["probabilities"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_posture",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", NUM_FEATURES])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", len(POSTURE_CLASSES)])],
        [
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
            numpy_helper.from_array(np.zeros((1, 1), np.float32), "zero"),
            numpy_helper.from_array(np.array([probabilities], np.float32), "answer"),
        ],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    raw = {"file": "c.onnx", "sha256": "0" * 64, "task": "posture", "input": {}, "labels": list(POSTURE_CLASSES)}
    entry = ModelEntry("constant", Path("c.onnx"), raw["sha256"], "posture", POSTURE_CLASSES, raw)
    return PostureClassifier(entry, ort.InferenceSession(data, providers=["CPUExecutionProvider"]))


@pytest.fixture(scope="module")
def parts():
    store = ModelStore(num_threads=1)
    return NanoDetDetector.from_store(store), MoveNetPose.from_store(store)


@pytest.fixture(scope="module")
def photo():
    return read_image(shared("coco_mini", "images_train2017", STANDING_MAN))


def _finder(parts, probabilities, **overrides) -> PeopleFinder:
    detector, pose = parts
    return PeopleFinder(PeopleConfig(**overrides), detector, pose, _constant_classifier(probabilities))


def test_a_standing_body_outvotes_a_lying_verdict(parts, photo):
    people, _ = _finder(parts, [0.0, 0.0, 0.0, 1.0]).find(photo)
    man = max(people, key=lambda p: p.box.height)
    assert man.posture == "standing"  # the keypoint rules see him upright: "lying" is not taken
    assert all(p.posture != "lying" or p.box.width > p.box.height for p in people)


def test_boxes_the_detector_is_sure_of_stay_people_when_the_model_says_none(parts, photo):
    nobody = _finder(parts, [1.0, 0.0, 0.0, 0.0])
    people, _ = nobody.find(photo)
    candidates, _ = nobody.candidates(photo)
    sure = [c for c in candidates if c.detection.score >= nobody.config.score_threshold]
    assert sure and len(people) == len(sure)  # the weak candidates are dropped, the sure ones kept
    everyone, _ = _finder(parts, [0.0, 1.0, 0.0, 0.0]).find(photo)
    assert len(everyone) >= len(people)
    assert all(p.posture == "standing" and p.posture_score == pytest.approx(1.0) for p in everyone)


def test_an_unsure_posture_is_unknown(parts, photo):
    people, _ = _finder(parts, [0.1, 0.3, 0.3, 0.3]).find(photo)
    assert people and all(p.posture == "unknown" and p.posture_score == 0.0 for p in people)


def test_an_unsure_lying_verdict_is_unknown(parts, photo):
    answer = [0.0, 0.35, 0.2, 0.45]  # lying, but only 0.45 probable
    turned = rotate_image(photo, 1)  # the man on his side: the keypoint rules do not see him upright
    strict, _ = _finder(parts, answer).find(turned)
    loose, _ = _finder(parts, answer, min_lying_score=0.4).find(turned)
    assert [p.box for p in strict] == [p.box for p in loose]
    assert not [p for p in strict if p.posture == "lying"]
    unsure = [p.box for p in strict if p.posture == "unknown"]
    assert unsure and unsure == [p.box for p in loose if p.posture == "lying"]
    assert [p for p in strict if p.posture != "unknown"] == [p for p in loose if p.posture != "lying"]  # vetoed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("candidate_score_threshold", 1.5),
        ("person_threshold", -0.1),
        ("min_posture_score", 2.0),
        ("min_lying_score", -0.1),
        ("max_candidates", 0),
    ],
)
def test_posture_model_parameters_out_of_range_are_named(name, value):
    from face_perception.core.errors import ConfigError

    with pytest.raises(ConfigError, match=f"people.{name}"):
        PeopleConfig(**{name: value}).validate()


def test_a_posture_model_named_but_not_given_is_refused(parts):
    from face_perception.core.errors import ConfigError

    detector, pose = parts
    with pytest.raises(ConfigError, match="people.posture_model"):
        PeopleFinder(PeopleConfig(), detector, pose, None)
