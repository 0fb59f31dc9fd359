"""``eval identity`` on the shared identity photos meets the goals at the shipped threshold."""

from __future__ import annotations

import json

from helpers import SHARED_DATA, shared

from face_perception.cli.main import main


def test_eval_identity_meets_the_goals_and_writes_a_report(tmp_path, capsys):
    shared("identity", "labels.csv")
    assert main(["eval", "identity", "--data", str(SHARED_DATA), "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "identity" / "metrics.json").read_text())
    assert metrics["threshold"] == 0.6 and metrics["pairs"] == 153  # 18 distinct one-person photos
    assert metrics["verification_accuracy"] >= 0.975
    assert metrics["rank1"] >= 0.95
    assert metrics["stranger_named_rate"] <= 1 / 17 and metrics["strangers"] == 18
    assert metrics["group_faces_right"] == 1.0
    report = (tmp_path / "identity" / "report.md").read_text()
    assert "five points (shipped)" in report and "| obama | 7 | 0 |" in report
