import json

import numpy as np
import pytest
from helpers import SHARED_DATA, shared

from face_perception.cli.main import main
from face_perception.evaluation.metrics import age_band, balanced_accuracy, by_group, calibration, confusion


def test_confusion_and_balanced_accuracy():
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(confusion(truth, predicted, 3), [[2, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert balanced_accuracy(truth, predicted) == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_calibration_of_a_perfectly_calibrated_and_an_overconfident_model():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20000)
    calibrated = rng.uniform(size=confidence.size) < confidence
    assert calibration(confidence, calibrated).ece < 0.02
    assert calibration(np.full(1000, 0.99), np.arange(1000) < 600).ece == pytest.approx(0.39, abs=1e-6)


def test_groups_and_age_bands():
    assert [age_band(a) for a in (0, 12, 13, 19, 20, 39, 40, 59, 60, 101)] == [
        "0-12",
        "0-12",
        "13-19",
        "13-19",
        "20-39",
        "20-39",
        "40-59",
        "40-59",
        "60+",
        "60+",
    ]
    assert by_group(np.array([1.0, 0.0, 1.0]), np.array(["b", "a", "b"])) == {"a": (0.0, 1), "b": (1.0, 2)}


def test_eval_detection_writes_a_report(tmp_path, capsys):
    shared("detection")
    assert main(["eval", "detection", "--data", str(SHARED_DATA), "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "detection" / "metrics.json").read_text())
    assert metrics["dlib examples"]["recall"] >= 0.95 and metrics["dlib examples"]["faces"] == 43
    assert metrics["COCO mini (nose and both eyes visible)"]["faces"] > 20
    report = (tmp_path / "detection" / "report.md").read_text()
    assert "| dlib examples | 9 | 43 |" in report


def test_eval_glasses_reports_groups_and_plots(tmp_path):
    shared("glasses")
    assert main(["eval", "glasses", "--data", str(SHARED_DATA), "--out", str(tmp_path)]) == 0
    folder = tmp_path / "glasses"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["images"] == 146 + 629 + 4
    assert set(metrics["groups"]) == {"gender", "age band", "race"}
    for png in ("glasses_groups.png", "glasses_confusion.png", "glasses_reliability.png"):
        assert (folder / png).stat().st_size > 5000
