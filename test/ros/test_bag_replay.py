"""End to end: a bag of real faces replayed into the live node over DDS, its output recorded to a
bag, compared with the offline ``bag`` command on the same input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from conftest import wait_until
from face_perception.msg import FaceArray
from helpers import real_faces_frames, write_camera_bag
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from face_perception.bags.messages import FACE_ARRAY, typestore
from face_perception.bags.process import process_bag
from face_perception.core.config import PipelineConfig, load_parameters_yaml


def _read_faces(path, topic):
    store = typestore()
    with Reader(path) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        return {
            (m.header.stamp.sec, m.header.stamp.nanosec): m
            for m in (store.deserialize_cdr(d, c.msgtype) for c, _, d in reader.messages(connections=connections))
        }


def test_live_replay_matches_offline_processing(tmp_path, harness_factory):
    from helpers import ROOT

    stamps = write_camera_bag(tmp_path / "camera", real_faces_frames(8), "mcap", period_s=0.3, broken_at=5)
    shipped = load_parameters_yaml(ROOT / "config" / "face_perception.yaml")
    harness = harness_factory(shipped, remap={"image": "/camera/image_raw"})  # tracking on, as shipped
    recorded: list[tuple[int, bytes]] = []
    harness.peer.create_subscription(FaceArray, "faces", lambda data: recorded.append(data), 10, raw=True)

    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "face_perception.cli.main",
            "replay",
            str(tmp_path / "camera"),
            "--topics",
            "/camera/image_raw",
            "--wait-for-subscribers",
            "20",
            "--rate",  # 0.6 s between frames: room for a loaded machine, where the latest frame would win
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert replay.returncode == 0, replay.stderr
    assert "published 8 messages" in replay.stdout
    assert wait_until(lambda: len(recorded) == 7), f"{len(recorded)} results for 7 good frames"
    assert harness.node.stats.failed == 1 and harness.node.stats.dropped == 0

    # Record what the node published, as `ros2 bag record` would.
    store = typestore()
    with Writer(tmp_path / "live", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection("/faces", FACE_ARRAY, typestore=store)
        for index, data in enumerate(recorded):
            writer.write(connection, index, data)
    live = _read_faces(tmp_path / "live", "/faces")

    process_bag(
        tmp_path / "camera", tmp_path / "offline", PipelineConfig.from_parameters(shipped), topics=["/camera/image_raw"]
    )
    offline = _read_faces(tmp_path / "offline", "/camera/image_raw/faces")

    good = [s for i, s in enumerate(stamps) if i != 5]
    assert sorted(live) == sorted(offline) == good
    assert sum(len(offline[s].faces) for s in good) > 0
    for stamp in good:
        a, b = live[stamp], offline[stamp]
        assert [f.id for f in a.faces] == [f.id for f in b.faces]
        assert [f.emotion for f in a.faces] == [f.emotion for f in b.faces]
        assert [f.gender for f in a.faces] == [f.gender for f in b.faces]
        boxes_a = np.array([[f.x_min, f.y_min, f.x_max, f.y_max] for f in a.faces]).reshape(-1, 4)
        boxes_b = np.array([[f.x_min, f.y_min, f.x_max, f.y_max] for f in b.faces]).reshape(-1, 4)
        np.testing.assert_allclose(boxes_a, boxes_b, atol=0.5)
