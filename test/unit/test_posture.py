"""The posture classifier's input features and its wrapper, against tiny ONNX graphs built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from face_perception.core.errors import ModelError
from face_perception.core.models.objects import NUM_REGION_FEATURES, RegionFeatures
from face_perception.core.models.posture import (
    NUM_FEATURES,
    NUM_POSE_FEATURES,
    POSTURE_CLASSES,
    PostureClassifier,
    candidate_context,
    posture_features,
)
from face_perception.core.runtime import ModelEntry
from face_perception.core.types import Box

CONTEXT = np.array([1.0, 0.0, 0.0, 0.0, -1.5, 0.9], np.float32)
REGION = np.linspace(-1.0, 1.0, NUM_REGION_FEATURES, dtype=np.float32)


def _keypoints(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = np.zeros((17, 3), np.float32)
    points[:, 0] = rng.uniform(100, 200, 17)
    points[:, 1] = rng.uniform(50, 350, 17)
    points[:, 2] = rng.uniform(0, 1, 17)
    return points


def _graph(width: int, output: str = "probabilities") -> bytes:
    weights = np.random.default_rng(1).normal(size=(width, len(POSTURE_CLASSES))).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [output], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "posture",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", len(POSTURE_CLASSES)])],
        [numpy_helper.from_array(weights, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _entry(labels=POSTURE_CLASSES, task="posture") -> ModelEntry:
    raw = {
        "file": "p.onnx",
        "sha256": "0" * 64,
        "task": task,
        "input": {"features": NUM_FEATURES},
        "labels": list(labels),
    }
    return ModelEntry("posture_test", Path(raw["file"]), raw["sha256"], task, tuple(labels), raw)


def _session(data: bytes) -> ort.InferenceSession:
    onnx.checker.check_model(onnx.load_from_string(data))
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_features_are_relative_to_the_box_and_keep_the_scores():
    points = _keypoints()
    box = Box(100, 50, 200, 350)
    features = posture_features(points, box, 0.42, True, CONTEXT, REGION)
    assert features.shape == (NUM_FEATURES,) and features.dtype == np.float32
    centre = np.array([150.0, 200.0])
    np.testing.assert_allclose(features[:34].reshape(17, 2), (points[:, :2] - centre) / 300.0, rtol=1e-5)
    np.testing.assert_allclose(features[34:51], points[:, 2])
    assert features[51] == pytest.approx(np.log(100 / 300))  # log aspect: a tall box is negative
    assert features[52] == pytest.approx(0.42) and features[55] == 1.0
    np.testing.assert_allclose(features[56:NUM_POSE_FEATURES], CONTEXT)
    np.testing.assert_allclose(features[NUM_POSE_FEATURES:], REGION)
    with pytest.raises(ValueError, match="region"):
        posture_features(points, box, 0.42, True, CONTEXT, REGION[:-1])
    moved = posture_features(points + [10.0, 20.0, 0.0], Box(110, 70, 210, 370), 0.42, True, CONTEXT, REGION)
    np.testing.assert_allclose(moved, features, atol=1e-6)  # the same body elsewhere in the image


def test_context_says_how_a_candidate_sits_among_the_others():
    boxes = np.array([[100, 100, 300, 500], [150, 120, 250, 300], [400, 100, 500, 400]], np.float64)
    scores = np.array([0.8, 0.4, 0.2])
    first = candidate_context(boxes, scores, 0, 480, 640)
    np.testing.assert_allclose(first[:4], [1.0, 0.0, 0.0, 0.0])
    part = candidate_context(boxes, scores, 1, 480, 640)  # the upper body of the first
    assert part[0] == pytest.approx(0.5) and part[2] == pytest.approx(1.0) and part[1] < 0.5
    apart = candidate_context(boxes, scores, 2, 480, 640)
    np.testing.assert_allclose(apart[1:4], 0.0)
    assert apart[4] == pytest.approx(np.log(100 * 300 / (480 * 640))) and apart[5] == pytest.approx(400 / 480)


def test_region_features_pool_the_cells_under_a_box_at_each_stride():
    rng = np.random.default_rng(0)
    fine, coarse = rng.normal(size=(128, 26, 26)).astype(np.float32), rng.normal(size=(128, 13, 13)).astype(np.float32)
    features = RegionFeatures((fine, coarse), scale=0.5)  # a 832 px image into the 416 px input
    (pooled,) = features.pool(np.array([[64.0, 96.0, 256.0, 320.0]]))  # input px 32..128 x 48..160
    assert pooled.shape == (NUM_REGION_FEATURES,) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled[:128], fine[:, 3:10, 2:8].mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(pooled[128:256], fine[:, 3:10, 2:8].max(axis=(1, 2)))
    np.testing.assert_allclose(pooled[256:384], coarse[:, 1:5, 1:4].mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(pooled[384:], coarse[:, 1:5, 1:4].max(axis=(1, 2)))
    tiny, outside = features.pool(np.array([[10.0, 10.0, 11.0, 11.0], [5000.0, -90.0, 6000.0, -10.0]]))
    np.testing.assert_allclose(tiny[:128], fine[:, 0, 0])  # at least one cell
    np.testing.assert_allclose(outside[:128], fine[:, 0, 25])  # clipped to the border cell
    assert features.pool(np.zeros((0, 4))).shape == (0, NUM_REGION_FEATURES)


def test_classifier_predicts_one_probability_row_per_candidate():
    classifier = PostureClassifier(_entry(), _session(_graph(NUM_FEATURES)))
    box = Box(90, 40, 210, 360)
    features = np.stack([posture_features(_keypoints(s), box, 0.5, False, CONTEXT, REGION) for s in range(4)])
    probabilities = classifier.predict(features)
    assert probabilities.shape == (4, len(POSTURE_CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.predict(np.zeros((0, NUM_FEATURES), np.float32)).shape == (0, 4)
    with pytest.raises(ModelError, match="features"):
        classifier.predict(np.zeros((2, 3), np.float32))


def test_classifier_refuses_a_model_that_does_not_fit():
    with pytest.raises(ModelError, match="labels"):
        PostureClassifier(_entry(labels=("a", "b", "c", "d")), _session(_graph(NUM_FEATURES)))
    with pytest.raises(ModelError, match="features"):
        PostureClassifier(_entry(), _session(_graph(NUM_FEATURES - 1)))
    with pytest.raises(ModelError, match="not posture"):
        PostureClassifier(_entry(task="pose"), _session(_graph(NUM_FEATURES)))
    with pytest.raises(ModelError):
        PostureClassifier(_entry(), _session(_graph(NUM_FEATURES, output="scores")))
