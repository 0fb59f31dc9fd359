"""Training, export and installation of the project's own models, on a small real subset."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
from helpers import ROOT, SAMPLES, SHARED_DATA, shared

torch = pytest.importorskip("torch", reason="training needs the 'train' extra (PyTorch)")

from face_perception.cli.main import main  # noqa: E402
from face_perception.core.config import PipelineConfig  # noqa: E402
from face_perception.core.images import read_image  # noqa: E402
from face_perception.core.pipeline import FacePipeline  # noqa: E402
from face_perception.export.ensemble import average_models  # noqa: E402
from face_perception.training.data import load_pack, stratified_split  # noqa: E402
from face_perception.training.tasks import pack_fer  # noqa: E402


def test_stratified_split_keeps_every_class_and_is_seeded():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    train, held = stratified_split(labels, 0.1, seed=0)
    assert sorted(np.bincount(labels[held])) == [2, 3, 5]
    assert len(np.intersect1d(train, held)) == 0 and len(train) + len(held) == 100
    assert np.array_equal(held, stratified_split(labels, 0.1, seed=0)[1])
    assert not np.array_equal(held, stratified_split(labels, 0.1, seed=1)[1])


def test_pack_round_trip(tmp_path):
    shared("fer2013")
    pack_fer(SHARED_DATA / "fer2013" / "public_test", tmp_path / "fer.npz")
    import cv2

    packed = load_pack(tmp_path / "fer.npz", cv2.IMREAD_GRAYSCALE)
    assert packed.images.shape == (3589, 48, 48)
    first = sorted((SHARED_DATA / "fer2013" / "public_test" / "angry").glob("*"))[0]
    assert np.array_equal(packed.images[0], cv2.imread(str(first), cv2.IMREAD_GRAYSCALE))


def test_train_export_install_and_use(tmp_path, monkeypatch):
    shared("fer2013")
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    monkeypatch.setenv("FACE_PERCEPTION_MODELS", str(models))
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "emotion",
            "--data",
            str(SHARED_DATA),
            "--out",
            str(run),
            "--epochs",
            "1",
            "--limit",
            "600",
            "--widths",
            "8",
            "16",
            "32",
            "--device",
            "cpu",
            "--install",
            "emotion_test",
        ]
    )
    assert code == 0
    log = json.loads((run / "train_log.json").read_text())
    assert log["config"]["seed"] == 0 and len(log["history"]) == 1 and log["test"]["samples"] == 3589
    entry = json.loads((models / "manifest.json").read_text())["models"]["emotion_test"]
    assert entry["training"]["config"]["widths"] == [8, 16, 32] and entry["task"] == "emotion"
    pipeline = FacePipeline(
        PipelineConfig.from_parameters({"emotion.model": "emotion_test", "models_dir": str(models)})
    )
    face = pipeline.process(read_image(SAMPLES / "astronaut.jpg")).faces[0]
    assert abs(sum(face.emotion.scores.values()) - 1.0) < 1e-4


def test_average_of_models_is_the_mean_of_their_outputs(tmp_path):
    from face_perception.training.nets import ChipNet
    from face_perception.training.train import export_onnx

    models, x = [], np.random.default_rng(0).uniform(-1, 1, (3, 3, 32, 32)).astype(np.float32)
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(export_onnx(ChipNet(3, 2, (8, 16)), 3, 32, tmp_path / f"m{seed}.onnx"))
    outputs = [ort.InferenceSession(m).run(None, {"input": x})[0] for m in models]
    merged = ort.InferenceSession(average_models(models)).run(None, {"input": x})[0]
    np.testing.assert_allclose(merged, np.mean(outputs, axis=0), atol=1e-6)
