"""Bad input to analyze and track: every unreadable or oversized image gets its own record, the run goes on."""

from __future__ import annotations

import io
import json
import os
import shutil

import cv2
import pytest
from helpers import SAMPLES, jpeg_claiming, png_claiming, shared

from face_perception.cli import analyze, track
from face_perception.cli.main import build_parser, main


def _records(module, argv):
    out = io.StringIO()
    code = module.run(build_parser().parse_args(argv), out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def bad_folder(tmp_path, astronaut):
    """Nine frames in name order: real ones with every kind of unreadable file between them."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in (0, 4, 8):
        cv2.imwrite(str(folder / f"{index:02d}.jpg"), astronaut)
    (folder / "01.png").write_bytes(png_claiming(65535, 65535, rows=2))  # 4 kB, OpenCV refuses it
    (folder / "02.png").write_bytes(png_claiming(20000, 20000, rows=8))  # a bomb within OpenCV's limit
    (folder / "03.jpg").symlink_to(folder / "nowhere.jpg")  # dangling
    (folder / "05.jpg").symlink_to(folder / "06.jpg")  # looping
    (folder / "06.jpg").symlink_to(folder / "05.jpg")
    os.mkfifo(folder / "07.jpg")  # would block a reader forever
    (folder / "09.bmp").write_bytes(cv2.imencode(".bmp", astronaut)[1].tobytes())  # not listed: not JPEG/PNG
    return folder


def test_analyze_folder_gives_a_record_per_file(bad_folder):
    code, records = _records(analyze, ["analyze", "--json", str(bad_folder)])
    assert code == 1
    names = [r["image"].rsplit("/", 1)[-1] for r in records]
    assert names == [f"{i:02d}.{'png' if i in (1, 2) else 'jpg'}" for i in range(9)]
    assert [("error" in r) for r in records] == [i not in (0, 4, 8) for i in range(9)]
    assert all(len(r["faces"]) == 1 for r in records if "error" not in r)
    errors = {n: r["error"] for n, r in zip(names, records, strict=True) if "error" in r}
    assert "65535x65535 exceeds max_image_side_px=8192" in errors["01.png"]
    assert "20000x20000 exceeds" in errors["02.png"]
    assert "cannot read" in errors["03.jpg"] and "not a regular file" in errors["07.jpg"]


def test_track_folder_goes_on_past_bad_frames(bad_folder):
    code, records = _records(track, ["track", "--json", str(bad_folder)])
    assert code == 1 and len(records) == 9
    assert [("error" in r) for r in records] == [i not in (0, 4, 8) for i in range(9)]


def test_opencv_refusal_within_a_large_configured_limit(tmp_path, astronaut):
    """With max_image_side_px at its top (65536), OpenCV's own pixel limit refuses the frame: a record, no traceback."""
    config = tmp_path / "p.yaml"
    config.write_text("face_perception:\n  ros__parameters:\n    max_image_side_px: 65536\n")
    (tmp_path / "a.png").write_bytes(png_claiming(65535, 65535, rows=2))
    cv2.imwrite(str(tmp_path / "b.jpg"), astronaut)
    code, records = _records(analyze, ["analyze", "--json", "--config", str(config), str(tmp_path)])
    assert code == 1 and len(records) == 2
    assert "OpenCV" in records[0]["error"] and len(records[1]["faces"]) == 1


def test_one_oversized_crop_costs_only_its_own_record(tmp_path):
    crops = sorted(shared("utkface", "dev").glob("*.jpg"))[:70]
    folder = tmp_path / "crops"
    folder.mkdir()
    for path in crops:
        shutil.copy(path, folder / path.name)
    (folder / crops[5].name).write_bytes(jpeg_claiming(9000, 9000))
    code, records = _records(analyze, ["analyze", "--json", "--faces-are-crops", str(folder)])
    assert code == 1 and len(records) == 70
    failed = [r for r in records if "error" in r]
    assert [r["image"].rsplit("/", 1)[-1] for r in failed] == [crops[5].name]
    assert sum(len(r.get("faces", [])) == 1 for r in records) == 69


def test_analyze_on_a_fifo_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    code, records = _records(analyze, ["analyze", "--json", str(tmp_path / "pipe.jpg"), str(SAMPLES / "rocket.jpg")])
    assert code == 1 and "not a regular file" in records[0]["error"] and records[1]["faces"] == []


def test_track_refuses_a_path_that_is_neither_folder_nor_video(tmp_path, caplog):
    os.mkfifo(tmp_path / "pipe.mp4")
    assert main(["track", str(tmp_path / "pipe.mp4")]) == 2
    assert main(["track", str(tmp_path / "missing")]) == 2
    assert "neither a folder of frames nor a video file" in caplog.text


def test_track_refuses_a_video_over_the_limit_before_decoding(tmp_path, astronaut, caplog):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (astronaut.shape[1], astronaut.shape[0]))
    for _ in range(3):
        writer.write(astronaut)
    writer.release()
    config = tmp_path / "p.yaml"
    config.write_text("face_perception:\n  ros__parameters:\n    max_image_side_px: 256\n")
    assert main(["track", "--config", str(config), str(video)]) == 2
    assert "over max_image_side_px=256" in caplog.text


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "glasses"],
        ["eval", "emotion"],
        ["eval", "detection"],
        ["eval", "scene"],
        ["calibrate", "glasses"],
        ["bench", "--blended", "BLENDED"],
        ["train", "glasses", "--out", "OUT"],
    ],
)
def test_missing_labeled_data_is_a_clear_error_with_exit_2(tmp_path, caplog, command):
    empty = tmp_path / "data"
    empty.mkdir()
    argv = [str(tmp_path / part) if part in ("BLENDED", "OUT") else part for part in command]
    assert main([*argv, "--data", str(empty)]) == 2
    messages = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert len(messages) == 1 and str(empty) in messages[0], messages
