"""Eyewear temperature, age uncertainty and the mirror-averaged emotion model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
from helpers import ROOT, SHARED_DATA, shared, utkface_files

from face_perception.cli.main import main
from face_perception.core.config import PipelineConfig
from face_perception.core.images import read_image
from face_perception.core.models.age import bin_moments
from face_perception.core.models.eyewear import apply_temperature
from face_perception.core.pipeline import FacePipeline
from face_perception.core.runtime import ModelStore
from face_perception.evaluation.calibration import (
    binary_ece,
    fit_age_uncertainty,
    fit_temperature,
    heldout_eyewear_probabilities,
)
from face_perception.export.build import install_flip_average
from face_perception.export.ensemble import flip_average_model


def test_temperature_sharpens_an_underconfident_model():
    rng = np.random.default_rng(0)
    truth = rng.uniform(size=4000) < 0.3
    confident = np.where(truth, 0.97, 0.03)
    underconfident = apply_temperature(confident, 4.0)  # pulled towards 0.5
    fit = fit_temperature(underconfident, truth)
    assert fit.temperature == pytest.approx(0.25, rel=0.05) or fit.temperature < 0.3
    assert fit.ece_after < fit.ece_before / 5 and fit.nll_after < fit.nll_before
    with pytest.raises(ValueError, match="both classes"):
        fit_temperature(np.full(10, 0.9), np.ones(10, bool))


def test_temperature_fitted_on_held_out_train_labels_reduces_ece_on_other_held_out_images():
    shared("glasses", "labels.csv")
    probability, truth = heldout_eyewear_probabilities(SHARED_DATA, ModelStore(ROOT / "models"), "eyewear_chipnet")
    assert len(truth) > 400 and truth.sum() > 50  # out-of-fold images of the three averaged runs
    order = np.random.default_rng(0).permutation(len(truth))
    fit_part, check_part = order[: len(order) // 2], order[len(order) // 2 :]
    fit = fit_temperature(probability[fit_part], truth[fit_part])
    before = binary_ece(probability[check_part], truth[check_part])
    after = binary_ece(apply_temperature(probability[check_part], fit.temperature), truth[check_part])
    assert after < 0.05 < before
    # the decision at 0.5 does not move with a temperature
    np.testing.assert_array_equal(apply_temperature(probability, fit.temperature) >= 0.5, probability >= 0.5)


def test_eyewear_head_reads_its_temperature_from_the_manifest(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    manifest = json.loads((models / "manifest.json").read_text())
    crops = [read_image(p) for p in utkface_files("dev", 6)]
    heads = {"emotion.enabled": False, "gender.enabled": False, "age.enabled": False}
    results = {}
    model = PipelineConfig().heads["eyeglasses"].model
    for temperature in (1.0, 0.25):
        manifest["models"][model]["calibration"] = {"temperature": temperature}
        (models / "manifest.json").write_text(json.dumps(manifest))
        pipeline = FacePipeline(PipelineConfig.from_parameters({**heads, "models_dir": str(models)}))
        results[temperature] = np.array([f.eyewear.probability for f in pipeline.process_crops(crops)])
    np.testing.assert_allclose(results[0.25], apply_temperature(results[1.0], 0.25), atol=1e-5)
    assert np.all(np.abs(results[0.25] - 0.5) >= np.abs(results[1.0] - 0.5) - 1e-6)


def test_calibrate_command_writes_the_manifest_entry(tmp_path, capsys):
    shared("glasses", "labels.csv")
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    args = ["calibrate", "glasses", "--data", str(SHARED_DATA), "--models-dir", str(models), "--write"]
    assert main(args) == 0
    entry = json.loads((models / "manifest.json").read_text())["models"]["eyewear_chipnet"]
    assert 0.05 < entry["calibration"]["temperature"] < 1.0 and entry["calibration"]["images"] > 400
    assert entry["calibration"]["ece_after"] < entry["calibration"]["ece_before"]
    assert ModelStore(models).verified_bytes("eyewear_chipnet")  # the file and its sha256 are unchanged


def test_age_moments_and_uncertainty_fit():
    bins = np.array([0.25, *range(1, 81)], float)
    one_hot = np.zeros((1, bins.size))
    one_hot[0, 30] = 1.0
    mean, spread = bin_moments(one_hot, bins)
    assert mean[0] == pytest.approx(30.0) and spread[0] == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    truth = rng.uniform(1, 80, 3000)
    spread = rng.uniform(1, 8, truth.size)
    age = truth + rng.normal(0, 1, truth.size) * (1 + 0.5 * spread + 0.1 * truth)
    fit = fit_age_uncertainty(age, spread, truth)
    assert fit.coverage == pytest.approx(0.683, abs=0.01) and fit.per_sd > 0 and fit.per_year > 0


def test_age_uncertainty_on_real_faces_grows_with_age():
    files = utkface_files("dev")
    young = [p for p in files if 20 <= int(p.name.split("_")[0]) <= 30][:10]
    old = [p for p in files if int(p.name.split("_")[0]) >= 65][:10]
    heads = {"emotion.enabled": False, "gender.enabled": False, "eyeglasses.enabled": False}
    faces = FacePipeline(PipelineConfig.from_parameters(heads)).process_crops([read_image(p) for p in young + old])
    uncertainty = np.array([f.age_uncertainty_years for f in faces])
    assert np.all(uncertainty > 0) and uncertainty[10:].mean() > uncertainty[:10].mean()


def test_flip_average_model_is_the_mean_over_the_mirror_image(tmp_path):
    source = (ROOT / "models" / "emotion_chipnet.onnx").read_bytes()
    wrapped = flip_average_model(source)
    plain = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    both = ort.InferenceSession(wrapped, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((5, 1, 48, 48)).astype(np.float32)
    expected = (plain.run(None, {"input": x})[0] + plain.run(None, {"input": x[..., ::-1].copy()})[0]) / 2
    np.testing.assert_allclose(both.run(None, {"input": x})[0], expected, atol=1e-6)
    # the shipped variant is exactly what the export command builds
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    model_id, entry = install_flip_average(models, "emotion_chipnet")
    assert entry["sha256"] == ModelStore(ROOT / "models").entry(model_id).sha256
