"""The TFJS -> ONNX converter: weight decoding, named errors, and parity with a NumPy interpreter on real photos."""

import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from helpers import SAMPLES, SOURCE_NPM
from tfjs_reference import run_graph

from face_perception.core.errors import ModelError
from face_perception.core.images import read_image
from face_perception.export.build import HUMAN_MODELS, NANODET_OUTPUTS, read_npm_members
from face_perception.export.tfjs import decode_weights, read_tfjs_graph, tfjs_to_onnx


@pytest.fixture(scope="module")
def human_models():
    if not (SOURCE_NPM / HUMAN_MODELS.tarball_name).is_file():
        pytest.skip(f"{HUMAN_MODELS.tarball_name} not fetched into {SOURCE_NPM} (scripts/setup_env.sh does it)")
    names = ["movenet-lightning", "nanodet"]
    return read_npm_members(HUMAN_MODELS, SOURCE_NPM, [f"models/{n}.{e}" for n in names for e in ("json", "bin")])


def _session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_decode_weights_widens_float16_and_keeps_int32():
    half = np.array([[0.5, -2.0], [65504.0, 1e-3]], dtype="<f2")
    ints = np.array([3, -7, 11], dtype="<i4")
    manifest = [
        {
            "paths": ["a.bin"],
            "weights": [
                {"name": "w", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "float16"}},
                {"name": "i", "shape": [3], "dtype": "int32"},
            ],
        }
    ]
    weights = decode_weights(manifest, {"a.bin": half.tobytes() + ints.tobytes()})
    assert weights["w"].dtype == np.float32 and np.array_equal(weights["w"], half.astype(np.float32))
    assert np.array_equal(weights["i"], ints)
    with pytest.raises(ModelError, match="runs past the end"):
        decode_weights(manifest, {"a.bin": half.tobytes()})
    with pytest.raises(ModelError, match="missing"):
        decode_weights(manifest, {})


def test_unsupported_op_is_named():
    graph = {
        "format": "graph-model",
        "modelTopology": {
            "node": [
                {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {}}}},
                {"name": "y", "op": "Erf", "input": ["x"]},
            ]
        },
        "weightsManifest": [],
    }
    with pytest.raises(ModelError, match="'Erf'"):
        tfjs_to_onnx(read_tfjs_graph(json.dumps(graph).encode(), {}), {"y:0": "y"})


def test_movenet_onnx_matches_numpy_interpreter_on_a_photo(human_models):
    model_json, shards = (
        human_models["models/movenet-lightning.json"],
        {"movenet-lightning.bin": human_models["models/movenet-lightning.bin"]},
    )
    image = read_image(SAMPLES / "astronaut.jpg")
    crop = cv2.resize(image[0:512, 0:400], (192, 192))[None, :, :, ::-1].astype(np.int32)
    expected = run_graph(model_json, shards, {"input": crop}, ["Identity:0"])[0]
    onnx_model = tfjs_to_onnx(read_tfjs_graph(model_json, shards), {"Identity:0": "keypoints"})
    got = _session(onnx_model).run(None, {"input": crop})[0]
    assert got.shape == (1, 1, 17, 3)
    assert np.abs(got - expected).max() < 1e-4
    assert (got[0, 0, :5, 2] > 0.3).all()  # the face keypoints of the astronaut are confident


def test_nanodet_onnx_matches_numpy_interpreter_on_a_photo(human_models):
    model_json, shards = human_models["models/nanodet.json"], {"nanodet.bin": human_models["models/nanodet.bin"]}
    image = cv2.resize(read_image(SAMPLES / "astronaut.jpg"), (416, 416)).astype(np.float32)
    tensor = ((image - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]).transpose(2, 0, 1)[None]
    tensor = tensor.astype(np.float32)
    names = list(NANODET_OUTPUTS)
    expected = run_graph(model_json, shards, {"input_1": tensor}, names)
    onnx_model = tfjs_to_onnx(read_tfjs_graph(model_json, shards), NANODET_OUTPUTS)
    got = _session(onnx_model).run(list(NANODET_OUTPUTS.values()), {"input_1": tensor})
    for name, a, b in zip(names, got, expected, strict=True):
        assert a.shape == b.shape, name
        assert np.abs(a - b).max() < 1e-3, name
    assert max(float(g[0, :, 0].max()) for g in got[:3]) > 0.5  # a confident person cell
