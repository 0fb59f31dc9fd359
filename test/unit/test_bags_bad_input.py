"""Bags that cannot be opened are refused by name (exit 2); a bag that breaks mid-run keeps a valid output."""

from __future__ import annotations

import io
import json
import os
import shutil

import pytest
from helpers import real_faces_frames, write_camera_bag
from rosbags.rosbag2 import Reader

from face_perception.bags.messages import typestore
from face_perception.bags.process import ERRORS_TOPIC, BagBrokenError, BagError, process_bag
from face_perception.bags.replay import ReplayOptions, replay
from face_perception.cli.main import main
from face_perception.core.config import PipelineConfig


@pytest.fixture(scope="module")
def good_bags(tmp_path_factory):
    root = tmp_path_factory.mktemp("bags")
    frames = real_faces_frames(10)
    write_camera_bag(root / "mcap", frames)
    write_camera_bag(root / "sqlite", frames, storage="sqlite3")
    return root


def _unreadable(kind: str, good_bags, tmp_path):
    target = tmp_path / kind
    if kind == "empty folder":
        target.mkdir()
    elif kind == "not a bag":
        target.mkdir()
        (target / "notes.txt").write_text("not a recording")
    elif kind == "missing path":
        pass
    elif kind == "garbage metadata":
        shutil.copytree(good_bags / "mcap", target)
        (target / "metadata.yaml").write_text(":: [ not yaml")
    elif kind == "missing metadata":
        shutil.copytree(good_bags / "mcap", target)
        (target / "metadata.yaml").unlink()
    elif kind == "truncated mcap":
        shutil.copytree(good_bags / "mcap", target)
        storage = next(target.glob("*.mcap"))
        storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 2])
    elif kind == "a plain file":
        target.write_bytes(os.urandom(1000))
    return target


KINDS = [
    "empty folder",
    "not a bag",
    "missing path",
    "garbage metadata",
    "missing metadata",
    "truncated mcap",
    "a plain file",
]


@pytest.mark.parametrize("kind", KINDS)
def test_unreadable_bags_are_refused_with_exit_2(kind, good_bags, tmp_path, caplog):
    source = _unreadable(kind, good_bags, tmp_path)
    with pytest.raises(BagError, match=f"cannot open bag {source}"):
        process_bag(source, tmp_path / "out", PipelineConfig())
    assert main(["bag", str(source), "--out", str(tmp_path / "out2"), "--no-progress"]) == 2
    assert f"cannot open bag {source}" in caplog.text
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def _corrupt_page(bag, fraction: float) -> None:
    """Overwrite one 4 kB sqlite page at ``fraction`` of the database with a fixed pattern."""
    database = next(bag.glob("*.db3"))
    data = bytearray(database.read_bytes())
    start = int(len(data) * fraction) // 4096 * 4096
    data[start : start + 4096] = bytes(range(256)) * 16
    database.write_bytes(bytes(data))


def test_a_bag_that_breaks_mid_run_keeps_a_valid_output(good_bags, tmp_path, capsys):
    source = tmp_path / "damaged"
    shutil.copytree(good_bags / "sqlite", source)
    _corrupt_page(source, 0.5)
    jsonl = io.StringIO()
    summary = process_bag(source, tmp_path / "out", PipelineConfig(), jsonl=jsonl)
    read = sum(summary.frames.values())
    assert 0 < read < 20 and "cannot be read past message" in summary.read_error
    store = typestore()
    with Reader(tmp_path / "out") as reader:  # closed properly: opens and reads to the end
        by_topic: dict[str, list] = {}
        for connection, _, data in reader.messages():
            by_topic.setdefault(connection.topic, []).append(store.deserialize_cdr(data, connection.msgtype))
    results = len(by_topic.get("/camera/image_raw/faces", [])) + len(by_topic.get("/camera/image/compressed/faces", []))
    assert results == read
    assert [e.name for e in by_topic[ERRORS_TOPIC]] == ["bag"]
    assert "malformed" in by_topic[ERRORS_TOPIC][0].message
    lines = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert len(lines) == read + 1 and lines[-1]["error"] == summary.read_error

    assert main(["bag", str(source), "--out", str(tmp_path / "out2"), "--no-progress"]) == 1
    assert "ERROR bag" in capsys.readouterr().out


def test_replay_refuses_unreadable_bags_and_stops_at_damage(good_bags, tmp_path):
    published = []

    def publish(topic, msgtype, data):
        published.append(topic)

    options = ReplayOptions(rate=1000.0)
    for kind in ("empty folder", "garbage metadata", "truncated mcap"):
        with pytest.raises(BagError, match="cannot open bag"):
            replay(_unreadable(kind, good_bags, tmp_path), publish, options)
    source = tmp_path / "damaged"
    shutil.copytree(good_bags / "sqlite", source)
    _corrupt_page(source, 0.5)
    with pytest.raises(BagBrokenError, match="cannot be read past message"):
        replay(source, publish, options)
    assert 0 < len(published) < 20
