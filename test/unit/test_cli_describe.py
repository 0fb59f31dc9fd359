"""``face-perception describe`` on real photos and a video of a fall, with the real models."""

from __future__ import annotations

import argparse
import io
import json

import cv2
import pytest
from scene_data import STANDING_MAN, fall_sequence, labeled_photo, lying_down

from face_perception.cli import describe
from face_perception.core.scene.types import KEYPOINT_NAMES


def _run(paths, tmp_path, **flags) -> tuple[int, list[dict]]:
    out = io.StringIO()
    args = argparse.Namespace(paths=[str(p) for p in paths], json=True, config=None, no_faces=False, **flags)
    code = describe.run(args, out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    standing = labeled_photo(STANDING_MAN)
    cv2.imwrite(str(folder / "standing.jpg"), standing.image)
    cv2.imwrite(str(folder / "fallen.jpg"), lying_down(standing).image)
    (folder / "broken.jpg").write_bytes(b"not an image")
    return folder


def test_a_photo_of_someone_on_the_floor_reports_lying_on_floor(photos, tmp_path):
    code, records = _run([photos / "fallen.jpg", photos / "standing.jpg"], tmp_path)
    assert code == 0
    fallen, standing = records
    assert [p["posture"] for p in fallen["people"]] == ["lying"]
    assert [a["type"] for a in fallen["anomalies"]] == ["lying_on_floor"]
    assert fallen["anomalies"][0]["people"] == [0] and 0 < fallen["anomalies"][0]["score"] <= 1
    assert "lying on the floor" in fallen["description"]
    person = standing["people"][0]
    assert person["posture"] == "standing" and standing["anomalies"] == []
    assert len(person["keypoints"]) == len(KEYPOINT_NAMES) and all(len(k) == 3 for k in person["keypoints"])
    assert len(person["box"]) == 4 and standing["latency_ms"] > 0
    assert person["face"] is None or set(person["face"]) >= {"box", "emotion", "gender", "age", "eyeglasses"}
    assert all(set(o) == {"label", "score", "box"} for o in standing["objects"])


def test_an_unreadable_image_gives_an_error_record_and_the_run_goes_on(photos, tmp_path):
    code, records = _run([photos], tmp_path)
    assert code == 1
    by_name = {r["image"].rsplit("/", 1)[-1]: r for r in records}
    assert "error" in by_name["broken.jpg"] and "description" in by_name["standing.jpg"]
    assert "description" in by_name["fallen.jpg"]


def test_a_video_of_a_fall_raises_the_fall_with_time(tmp_path):
    video = tmp_path / "fall.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (640, 480))
    frames = fall_sequence(fps=5.0, upright_s=2.0, lying_s=3.0, up_again_s=0.0)
    for frame in frames:
        writer.write(frame.scene.image)
    writer.release()
    code, records = _run([video], tmp_path, **{})
    assert code == 0 and len(records) == len(frames)
    assert records[0]["anomalies"] == [] and records[0]["time_s"] == 0.0
    fell = next(i for i, r in enumerate(records) if any(a["type"] == "fall" for a in r["anomalies"]))
    assert frames[fell].posture == "lying" and fell <= 11  # within two frames of lying down
    assert records[-1]["time_s"] == pytest.approx(frames[-1].time_s, abs=1e-3)


def test_describe_and_the_scene_core_import_without_ros():
    import subprocess
    import sys

    from helpers import ROOT

    code = (
        "import sys, face_perception.cli.describe, face_perception.core.scene.analyzer, "
        "face_perception.evaluation.falls\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rclpy', 'cv_bridge', 'sensor_msgs'))\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
