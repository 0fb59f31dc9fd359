"""Model files are verified before use; a tampered or missing file is refused by name."""

import shutil

import numpy as np
import onnx
import pytest
from helpers import ROOT
from onnx import TensorProto, helper

from face_perception.core.config import PipelineConfig
from face_perception.core.errors import ModelError, ModelIntegrityError
from face_perception.core.models.emotion import EmotionClassifier
from face_perception.core.models.gender import GenderClassifier
from face_perception.core.pipeline import FacePipeline
from face_perception.core.runtime import ModelStore


@pytest.fixture
def models_copy(tmp_path):
    target = tmp_path / "models"
    shutil.copytree(ROOT / "models", target)
    return target


def test_committed_models_verify():
    store = ModelStore(ROOT / "models")
    for model_id in store.manifest["models"]:
        assert store.verified_bytes(model_id)


def test_tampered_model_is_refused_with_path_and_expected_hash(models_copy):
    path = models_copy / "gender_dlib_v1_int8.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    store = ModelStore(models_copy)
    expected = store.entry("gender_dlib_v1_int8").sha256
    with pytest.raises(ModelIntegrityError, match=expected) as info:
        FacePipeline(PipelineConfig(models_dir=str(models_copy)))
    assert str(path) in str(info.value)


def test_missing_model_is_refused_with_path_and_expected_hash(models_copy):
    (models_copy / "age_dlib_v1_int8.onnx").unlink()
    expected = ModelStore(models_copy).entry("age_dlib_v1_int8").sha256
    with pytest.raises(ModelError, match=f"age_dlib_v1_int8.onnx.*{expected}"):
        FacePipeline(PipelineConfig(models_dir=str(models_copy)))


def test_unknown_model_id_and_broken_manifest(models_copy):
    with pytest.raises(ModelError, match="not in"):
        ModelStore(models_copy).entry("nope")
    (models_copy / "manifest.json").write_text("{broken")
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelStore(models_copy)
    with pytest.raises(ModelError, match="cannot read model manifest"):
        ModelStore(models_copy / "missing")


def _edit_manifest(models_copy, edit) -> None:
    import json

    path = models_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(edit(manifest)))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: list(m["models"].values()), "must be a JSON object, got a JSON list"),
        (lambda m: {"schema_version": 1}, "needs a 'models' object"),
        (lambda m: m["models"]["gender_dlib_v1"].pop("file") and m, "entry 'gender_dlib_v1': missing 'file'"),
        (lambda m: m["models"]["age_dlib_v1"].pop("sha256") and m, "entry 'age_dlib_v1': missing 'sha256'"),
        (lambda m: m["models"]["emotion_chipnet"].pop("input") and m, "entry 'emotion_chipnet': missing 'input'"),
        (lambda m: m["models"]["age_dlib_v1"].pop("bin_ages") and m, "entry 'age_dlib_v1': missing 'bin_ages'"),
        (lambda m: m["models"]["eyewear_chipnet"]["input"].pop("size") and m, "'input': missing 'size'"),
        (lambda m: m["models"]["gender_dlib_v1"].update(sha256="abc") or m, "'sha256' must be 64 lowercase hex"),
        (lambda m: m["models"]["gender_dlib_v1"].update(file="../x.onnx") or m, "inside the models folder"),
        (lambda m: m["models"].update(extra=[1, 2]) or m, "entry 'extra' must be a JSON object"),
        (lambda m: m["models"]["emotion_chipnet"]["input"].update(size="64") or m, "'size' must be int"),
    ],
)
def test_malformed_manifest_names_the_file_and_the_entry(models_copy, edit, message):
    _edit_manifest(models_copy, edit)
    with pytest.raises(ModelError, match=message) as info:
        FacePipeline(PipelineConfig(models_dir=str(models_copy)))
    assert str(models_copy / "manifest.json") in str(info.value)


def test_manifest_entries_of_other_model_kinds_are_accepted(models_copy):
    """Entries for tasks this version does not run (their own input fields) only need the common fields."""

    def add(manifest):
        manifest["models"]["person_detector"] = {
            "file": "person.onnx",
            "sha256": "0" * 64,
            "task": "object_detection",
            "input": {"layout": "NCHW", "size": [640, 640], "letterbox": True},
            "classes": ["person"],
        }
        manifest["models"]["pose"] = {"file": "pose.onnx", "sha256": "1" * 64, "task": "pose", "input": {}}
        return manifest

    _edit_manifest(models_copy, add)
    store = ModelStore(models_copy)
    assert store.entry("person_detector").task == "object_detection"
    assert FacePipeline(PipelineConfig(models_dir=str(models_copy))).heads


def _tiny_classifier(tmp_path, channels: int, size: int, classes: int):
    """A one-node ONNX graph [N, C, size, size] -> softmax over ``classes``, built in the test."""
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["p"], axis=-1),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, size, size])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", classes])],
        [helper.make_tensor("w", TensorProto.FLOAT, [channels, classes], np.linspace(-1, 1, channels * classes))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, path)
    import onnxruntime as ort

    return ort.InferenceSession(str(path))


def test_wrapper_rejects_a_session_whose_input_does_not_match_the_spec(tmp_path):
    store = ModelStore(ROOT / "models")
    with pytest.raises(ModelError, match="takes"):
        GenderClassifier(store.entry("gender_dlib_v1"), _tiny_classifier(tmp_path, 3, 48, 2))
    with pytest.raises(ModelError, match="is a gender model"):
        EmotionClassifier(store.entry("gender_dlib_v1"), _tiny_classifier(tmp_path, 3, 32, 2))


def test_wrapper_batches_and_returns_one_result_per_chip(tmp_path):
    store = ModelStore(ROOT / "models")
    head = GenderClassifier(store.entry("gender_dlib_v1"), _tiny_classifier(tmp_path, 3, 32, 2))
    chips = np.random.default_rng(0).integers(0, 255, size=(5, 32, 32, 3), dtype=np.uint8)
    results = head.predict(chips)
    assert len(results) == 5 and all(r.label in ("female", "male") for r in results)
    assert head.predict(chips[:0]) == []
