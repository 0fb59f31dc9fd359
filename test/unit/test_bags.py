"""Offline bag processing and replay timing, on bags built from real faces."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from helpers import real_faces_frames, write_camera_bag
from rosbags.rosbag2 import Reader

from face_perception.bags.messages import typestore
from face_perception.bags.process import BagError, process_bag
from face_perception.bags.replay import ReplayOptions, replay
from face_perception.cli.main import main
from face_perception.core.config import PipelineConfig
from face_perception.core.types import EMOTION_LABELS


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_results_keep_source_times_and_report_bad_frames(tmp_path, storage, pipeline):
    frames = real_faces_frames(6)
    stamps = write_camera_bag(tmp_path / "in", frames, storage, broken_at=4)
    jsonl = io.StringIO()
    summary = process_bag(tmp_path / "in", tmp_path / "out", PipelineConfig(), jsonl=jsonl)
    assert summary.frames == {"/camera/image_raw": 6, "/camera/image/compressed": 6}
    assert summary.failed == 1
    store = typestore()
    with Reader(tmp_path / "out") as reader:
        topics = {c.topic: c for c in reader.connections}
        assert set(topics) >= {"/camera/image_raw/faces", "/camera/image/compressed/faces", "/face_perception/errors"}
        raw_results = [
            (t, store.deserialize_cdr(d, c.msgtype))
            for c, t, d in reader.messages(connections=[topics["/camera/image_raw/faces"]])
        ]
        errors = [
            store.deserialize_cdr(d, c.msgtype)
            for c, _, d in reader.messages(connections=[topics["/face_perception/errors"]])
        ]
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in raw_results] == stamps[:4] + stamps[5:]
    assert raw_results[0][0] == 1_700_000_000_000_000_000  # log time copied from the source
    assert len(errors) == 1 and "truncated" in errors[0].message and errors[0].name == "/camera/image_raw"
    # tracking (the default): confirmed from the third frame, with one id per person throughout
    counts = [len(m.faces) for _, m in raw_results]
    expected = len(pipeline.process(frames[0]).faces)
    assert counts[:2] == [0, 0] and counts[2:] == [expected] * 3
    ids = [sorted(f.id for f in m.faces) for _, m in raw_results[2:]]
    assert ids[0] == ids[1] == ids[2]
    lines = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert len(lines) == 12 and sum("error" in line for line in lines) == 1


def test_bag_output_opens_in_the_mcap_reader(tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    write_camera_bag(tmp_path / "in", real_faces_frames(4), "sqlite3")
    config = PipelineConfig.from_parameters({"tracking.enabled": False})
    process_bag(tmp_path / "in", tmp_path / "out", config, topics=["/camera/image_raw"])
    mcap_file = next((tmp_path / "out").glob("*.mcap"))
    with mcap_file.open("rb") as stream:
        decoded = [
            (c.topic, m)
            for _, c, _, m in make_reader(stream, decoder_factories=[DecoderFactory()]).iter_decoded_messages()
        ]
    faces = [m for topic, m in decoded if topic == "/camera/image_raw/faces"]
    assert len(faces) == 4 and all(len(m.faces) >= 1 for m in faces)
    face = faces[0].faces[0]
    assert face.emotion in EMOTION_LABELS
    assert len(face.emotion_scores) == 7 and face.raw_emotion == face.emotion


def test_header_stamps_going_back_restart_tracking_and_lose_nothing(tmp_path):
    write_camera_bag(tmp_path / "in", real_faces_frames(8), loop_at=4)
    summary = process_bag(tmp_path / "in", tmp_path / "out", PipelineConfig(), topics=["/camera/image_raw"])
    assert summary.failed == 0 and summary.frames == {"/camera/image_raw": 8}
    store = typestore()
    with Reader(tmp_path / "out") as reader:
        faces = [c for c in reader.connections if c.topic == "/camera/image_raw/faces"]
        arrays = [store.deserialize_cdr(d, c.msgtype) for c, _, d in reader.messages(connections=faces)]
    assert len(arrays) == 8
    first_ids = {f.id for f in arrays[3].faces}
    second_ids = {f.id for f in arrays[7].faces}
    assert first_ids and second_ids and not first_ids & second_ids  # new tracks, ids never reused
    assert [len(a.faces) for a in arrays[4:6]] == [0, 0]  # confirmed again only after min_hits


def test_bag_errors(tmp_path):
    write_camera_bag(tmp_path / "in", real_faces_frames(1))
    with pytest.raises(BagError, match="no image topic /nope"):
        process_bag(tmp_path / "in", tmp_path / "out", PipelineConfig(), topics=["/nope"])
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="already exists"):
        process_bag(tmp_path / "in", tmp_path / "exists", PipelineConfig())
    (tmp_path / "junk").mkdir()
    with pytest.raises(BagError, match="cannot open bag"):
        process_bag(tmp_path / "junk", tmp_path / "out2", PipelineConfig())


def test_bag_command(tmp_path, capsys):
    write_camera_bag(tmp_path / "in", real_faces_frames(3), broken_at=1)
    code = main(
        [
            "bag",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--jsonl",
            str(tmp_path / "r.jsonl"),
            "--topics",
            "/camera/image_raw",
            "--no-progress",
        ]
    )
    assert code == 1  # one frame failed, and said so
    out = capsys.readouterr().out
    assert "/camera/image_raw: 3 frames" in out and "1 frames failed" in out
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 3
    assert main(["bag", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2  # output exists


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize(
    ("rate", "offset", "expected_times"),
    [
        (1.0, 0.0, [0.0, 0.25, 0.5, 0.75]),
        (2.0, 0.0, [0.0, 0.125, 0.25, 0.375]),
        (1.0, 0.5, [0.0, 0.25]),
    ],
)
def test_replay_keeps_recorded_timing(tmp_path, rate, offset, expected_times):
    write_camera_bag(tmp_path / "in", real_faces_frames(4), period_s=0.25)
    clock, sent = FakeClock(), []
    count = replay(
        tmp_path / "in",
        lambda topic, msgtype, data: sent.append((clock.now, topic, msgtype)),
        ReplayOptions(rate=rate, start_offset_s=offset),
        topics=["/camera/image_raw"],
        sleep=clock.sleep,
        clock=clock.time,
    )
    assert count == len(expected_times)
    np.testing.assert_allclose([t - 100.0 for t, _, _ in sent], expected_times, atol=1e-6)
    assert {m for _, _, m in sent} == {"sensor_msgs/msg/Image"}


def test_replay_loops_until_stopped(tmp_path):
    write_camera_bag(tmp_path / "in", real_faces_frames(2))
    clock, sent = FakeClock(), []
    count = replay(
        tmp_path / "in",
        lambda *a: sent.append(a),
        ReplayOptions(loop=True),
        keep_going=lambda: len(sent) < 9,
        sleep=clock.sleep,
        clock=clock.time,
    )
    assert count == 9
    with pytest.raises(BagError, match="rate must be positive"):
        replay(tmp_path / "in", lambda *a: None, ReplayOptions(rate=0))
    with pytest.raises(BagError, match="past the end"):
        replay(tmp_path / "in", lambda *a: None, ReplayOptions(start_offset_s=60))


def _topic_messages(path, topic: str) -> list:
    """Every message of ``topic`` in the bag at ``path``, deserialized, in log order."""
    store = typestore()
    with Reader(path) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        return [store.deserialize_cdr(d, c.msgtype) for c, _, d in reader.messages(connections=connections)]


def test_bag_scene_topics_carry_the_fall_of_a_real_photo_sequence(tmp_path):
    from scene_data import fall_sequence

    from face_perception.bags.scene import SceneSettings
    from face_perception.core.scene.config import SceneConfig
    from face_perception.core.scene.people import PeopleConfig

    frames = fall_sequence(fps=4.0, upright_s=2.0, lying_s=4.0, up_again_s=0.0)
    write_camera_bag(tmp_path / "in", [f.scene.image for f in frames], period_s=0.25, broken_at=3)
    jsonl = io.StringIO()
    settings = SceneSettings(SceneConfig(), PeopleConfig())
    summary = process_bag(
        tmp_path / "in", tmp_path / "out", PipelineConfig(), ["/camera/image_raw"], jsonl, scene=settings
    )
    assert summary.failed == 1
    store = typestore()
    scenes = _topic_messages(tmp_path / "out", "/camera/image_raw/scene")
    alerts = _topic_messages(tmp_path / "out", "/camera/image_raw/scene_alerts")
    assert len(scenes) == len(frames) - 1  # every frame but the broken one
    assert scenes[0].description.startswith("A person is standing") and scenes[0].people[0].posture == 0
    fall_type = store.types["face_perception/msg/SceneAlert"].FALL
    falls = [a for a in alerts if a.type == fall_type]
    assert falls and falls[0].active and "fallen" in falls[0].sentence
    assert (falls[0].header.stamp.sec, falls[0].header.stamp.nanosec) == (
        scenes[8 - 1].header.stamp.sec,  # the first lying frame (index 8; frame 3 was broken)
        scenes[8 - 1].header.stamp.nanosec,
    )
    lines = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert sum("scene" in line for line in lines) == len(frames) - 1


def test_bag_scene_topics_carry_the_captioner_of_the_parameters_file(tmp_path):
    pytest.importorskip("tokenizers", reason="the captioner needs tokenizers")
    from helpers import ROOT, SAMPLES

    from face_perception.core.images import read_image
    from face_perception.core.scene.captioner import ImageCaptioner

    fixture = ROOT / "test" / "data" / "captioner_tiny"
    import cv2

    frame = cv2.resize(read_image(SAMPLES / "rocket.jpg"), (640, 480), interpolation=cv2.INTER_AREA)
    assert frame.shape == (480, 640, 3)
    write_camera_bag(tmp_path / "in", [frame] * 4, period_s=0.25)
    params = tmp_path / "scene.yaml"
    params.write_text(f'/**:\n  ros__parameters:\n    captioner:\n      model_dir: "{fixture}"\n      period_s: 1.0\n')
    args = ["bag", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--topics", "/camera/image_raw"]
    assert main([*args, "--scene", "--config", str(params), "--no-progress"]) == 0
    scenes = _topic_messages(tmp_path / "out", "/camera/image_raw/scene")
    expected = ImageCaptioner.from_folder(fixture).caption(frame)
    assert len(scenes) == 4 and expected
    assert [s.caption for s in scenes] == [expected] * 4  # captioned at 0 s, reused within captioner.period_s
