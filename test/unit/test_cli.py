import io
import json

import pytest
from helpers import ROOT, SAMPLES, shared

from face_perception.cli.main import build_parser, main


def _run(argv):
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    from face_perception.cli import analyze

    code = analyze.run(args, out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_analyze_json_contract(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((SAMPLES / "astronaut.jpg").read_bytes()[:300])
    code, records = _run(["analyze", "--json", str(SAMPLES), str(broken), str(tmp_path / "missing.png")])
    assert code == 1
    by_name = {r["image"].rsplit("/", 1)[-1]: r for r in records}
    assert set(by_name) == {"astronaut.jpg", "rocket.jpg", "broken.jpg", "missing.png"}
    assert "error" in by_name["broken.jpg"] and "error" in by_name["missing.png"]
    assert by_name["rocket.jpg"]["faces"] == []
    face = by_name["astronaut.jpg"]["faces"][0]
    assert set(face) == {
        "box", "score", "landmarks", "emotion", "gender", "age", "age_uncertainty_years", "eyeglasses", "identity"
    }  # fmt: skip
    assert face["identity"] is None  # no --gallery
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
    assert set(face["emotion"]) == {"label", "scores"} and len(face["emotion"]["scores"]) == 7
    assert face["gender"]["label"] in ("female", "male") and 0.5 <= face["gender"]["score"] <= 1
    assert isinstance(face["age"], float) and face["age_uncertainty_years"] > 0
    assert by_name["astronaut.jpg"]["latency_ms"] > 0


def test_analyze_faces_are_crops_on_fer_and_utkface():
    fer = sorted(shared("fer2013", "public_test", "happy").glob("*"))[:20]
    utk = sorted(shared("utkface", "dev").glob("*.jpg"))[:20]
    code, records = _run(["analyze", "--json", "--faces-are-crops", *map(str, fer + utk)])
    assert code == 0 and len(records) == 40
    assert all(len(r["faces"]) == 1 for r in records)
    # the detector finds the landmarks inside the crops, so heads get aligned chips
    assert sum(r["faces"][0]["landmarks"] is not None for r in records) >= 36
    happy = sum(r["faces"][0]["emotion"]["label"] == "happy" for r in records[:20])
    assert happy >= 14


def test_analyze_recurses_into_folders_and_reports_text(capsys):
    assert main(["analyze", str(SAMPLES)]) == 0
    text = capsys.readouterr().out
    assert "astronaut.jpg: 1 face(s)" in text and "rocket.jpg: 0 face(s)" in text


def test_bad_config_is_a_clear_error(tmp_path, caplog):
    config = tmp_path / "p.yaml"
    config.write_text("face_perception:\n  ros__parameters:\n    detector:\n      score_threshold: 3.0\n")
    assert main(["analyze", "--config", str(config), str(SAMPLES)]) == 2
    assert "detector.score_threshold=3.0 is out of range" in caplog.text


def test_export_check_verifies_models(capsys):
    assert main(["export", "--check"]) == 0
    models = json.loads((ROOT / "models" / "manifest.json").read_text())["models"]
    assert capsys.readouterr().out.count("ok  ") == len(models) >= 6


@pytest.mark.parametrize("argv", [["analyze"], ["nope"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_a_misspelt_config_name_is_named_and_the_shipped_files_are_clean(tmp_path, caplog):
    config = tmp_path / "typo.yaml"
    config.write_text("/**:\n  ros__parameters:\n    detector:\n      scor_threshold: 0.5\n    qos:\n      depth: 3\n")
    code, records = _run(["analyze", "--json", "--config", str(config), str(SAMPLES / "astronaut.jpg")])
    assert code == 0 and records[0]["faces"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{config}: ignored (not parameters of the nodes): detector.scor_threshold"]
    caplog.clear()
    for shipped in ("face_perception.yaml", "face_perception_fast.yaml", "face_perception_float.yaml", "scene.yaml"):
        _run(["analyze", "--json", "--config", str(ROOT / "config" / shipped), str(SAMPLES / "rocket.jpg")])
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
