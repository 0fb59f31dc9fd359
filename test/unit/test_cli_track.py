import io
import json

import cv2
import pytest
from helpers import SAMPLES

from face_perception.cli import bench, track
from face_perception.cli.main import build_parser, main


def _panning_frames(folder, count=8):
    image = cv2.imread(str(SAMPLES / "astronaut.jpg"))
    folder.mkdir()
    for index in range(count):
        cv2.imwrite(str(folder / f"frame_{index:03d}.png"), image[:, 8 * index : 8 * index + 440])
    return folder


def _track(argv):
    out = io.StringIO()
    code = track.run(build_parser().parse_args(["track", *argv]), out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_track_folder_json(tmp_path):
    folder = _panning_frames(tmp_path / "frames")
    (folder / "frame_004b.jpg").write_bytes(b"broken")  # sorts between frames 4 and 5
    code, records = _track(["--json", str(folder)])
    assert code == 1
    assert [r["frame"] for r in records][:3] == ["frame_000.png", "frame_001.png", "frame_002.png"]
    assert "error" in records[5] and records[5]["frame"] == "frame_004b.jpg"
    good = [r for r in records if "error" not in r]
    assert [len(r["faces"]) for r in good] == [0, 0, 1, 1, 1, 1, 1, 1]
    assert {r["faces"][0]["track_id"] for r in good[2:]} == {1}
    face = good[-1]["faces"][0]
    assert {"box", "score", "landmarks", "emotion", "gender", "age", "track_id", "track_age_s", "raw"} <= set(face)
    assert good[2]["events"] == [{"type": "appeared", "track_id": 1, "emotion": "happy", "previous_emotion": ""}]


def test_track_video_file(tmp_path):
    folder = _panning_frames(tmp_path / "frames", count=6)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (440, 512))
    for path in sorted(folder.iterdir()):
        writer.write(cv2.imread(str(path)))
    writer.release()
    code, records = _track(["--json", str(video)])
    assert code == 0 and len(records) == 6
    assert records[-1]["time_s"] == pytest.approx(1.0) and records[-1]["faces"][0]["track_id"] == 1


def test_track_rejects_a_bad_path(tmp_path, caplog):
    (tmp_path / "notavideo.mp4").write_text("nope")
    assert main(["track", str(tmp_path / "notavideo.mp4")]) == 2
    assert "neither a folder of frames nor a readable video" in caplog.text


def test_bench_reports_every_stage(capsys):
    assert bench.run(build_parser().parse_args(["bench", "--faces", "1", "--repeats", "2", "--json"])) == 0
    row = json.loads(capsys.readouterr().out)["1_faces"]
    assert row["faces_found"] == 1
    for key in ("detector_ms", "emotion_ms", "gender_ms", "age_ms", "pipeline_ms", "tracker_ms"):
        assert row[key] > 0
