"""The node over real DDS: real faces in, typed FaceArray out, bad frames survived."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from face_perception.msg import FaceArray
from helpers import ROOT, real_faces_frames
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.config import PipelineConfig
from face_perception.core.images_raw import raw_to_bgr
from face_perception.ros.conversions import bgr_to_image


def _real_faces_frame() -> np.ndarray:
    """Real faces side by side (UTKFace dev crops where the data is present, else the sample photo)."""
    return real_faces_frames(1)[0]


def _encode(image: np.ndarray, encoding: str, header: Header, padding: int = 3) -> Image:
    converted = {
        "bgr8": image,
        "rgb8": image[..., ::-1],
        "mono8": cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),
        "bgra8": cv2.cvtColor(image, cv2.COLOR_BGR2BGRA),
        "rgba8": cv2.cvtColor(image, cv2.COLOR_BGR2RGBA),
    }[encoding]
    rows = np.ascontiguousarray(converted).reshape(image.shape[0], -1)
    padded = np.concatenate([rows, np.zeros((rows.shape[0], padding), np.uint8)], axis=1)
    msg = Image(header=header, height=image.shape[0], width=image.shape[1], encoding=encoding)
    msg.step = padded.shape[1]
    msg.data = padded.tobytes()
    return msg


class Collector:
    def __init__(self, peer, topic="faces", msg_type=FaceArray):
        self.messages: list = []
        self.sub = peer.create_subscription(msg_type, topic, self.messages.append, 10)

    def by_stamp(self, header: Header):
        for msg in self.messages:
            if (msg.header.stamp.sec, msg.header.stamp.nanosec) == (header.stamp.sec, header.stamp.nanosec):
                return msg
        return None


def _stamp(sec: int) -> Header:
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = sec, 123456789
    return header


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8", "bgra8", "rgba8"])
def test_real_faces_in_every_encoding_come_back_with_the_header(harness_factory, pipeline, encoding):
    harness = harness_factory()
    faces = Collector(harness.peer)
    publisher = harness.peer.create_publisher(Image, "image", 10)
    assert wait_until(lambda: harness.matched(publisher))
    frame = _real_faces_frame()
    header = _stamp(1000)
    msg = _encode(frame, encoding, header)
    publisher.publish(msg)
    assert wait_until(lambda: faces.by_stamp(header) is not None), "no FaceArray for the frame"
    result = faces.by_stamp(header)
    assert result.header.frame_id == "camera_optical"
    assert (result.image_width, result.image_height) == (frame.shape[1], frame.shape[0])
    expected = pipeline.process(raw_to_bgr(msg.data, msg.width, msg.height, encoding, msg.step)).faces
    assert len(result.faces) == len(expected) >= 1
    for got, want in zip(result.faces, expected, strict=True):
        box = want.detection.box
        assert np.allclose([got.x_min, got.y_min, got.x_max, got.y_max], box.as_list(), atol=1.0)
        assert got.emotion == want.emotion.label and got.gender == want.gender.label
        assert got.age == pytest.approx(want.age, abs=0.5)
        assert len(got.emotion_scores) == 7 and abs(sum(got.emotion_scores) - 1) < 1e-3
        assert got.eyeglasses_probability == pytest.approx(want.eyewear.probability, abs=1e-4)
        assert got.eyeglasses == want.eyewear.worn
        assert got.raw_emotion == got.emotion and got.raw_age == got.age  # no tracking: raw is shown
    assert len({f.id for f in result.faces}) == len(result.faces) and all(f.id > 0 for f in result.faces)


def test_compressed_input(harness_factory):
    harness = harness_factory({"use_compressed": True})
    faces = Collector(harness.peer)
    publisher = harness.peer.create_publisher(CompressedImage, "image/compressed", 10)
    assert wait_until(lambda: harness.matched(publisher))
    header = _stamp(2000)
    ok, jpeg = cv2.imencode(".jpg", _real_faces_frame())
    publisher.publish(CompressedImage(header=header, format="jpeg", data=jpeg.tobytes()))
    assert wait_until(lambda: faces.by_stamp(header) is not None)
    assert len(faces.by_stamp(header).faces) >= 1


def test_bad_frames_are_reported_and_the_node_keeps_working(harness_factory):
    harness = harness_factory({"max_image_side_px": 4000, "diagnostics.period_s": 0.2})
    faces = Collector(harness.peer)
    diagnostics = Collector(harness.peer, "/diagnostics", DiagnosticArray)
    publisher = harness.peer.create_publisher(
        Image, "image", QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
    )
    compressed_pub = harness.peer.create_publisher(CompressedImage, "image/compressed", 10)
    assert wait_until(lambda: harness.matched(publisher))
    bad = [
        Image(header=_stamp(1), height=100, width=100, encoding="bgr8", step=300, data=b"\x00" * 500),  # truncated
        Image(header=_stamp(2), height=10, width=10, encoding="bayer_grbg8", step=10, data=b"\x00" * 100),
        Image(header=_stamp(3), height=0, width=0, encoding="bgr8", step=0, data=b""),
        Image(header=_stamp(4), height=5000, width=10, encoding="mono8", step=10, data=b"\x00" * 50000),
        Image(header=_stamp(5), height=10, width=10, encoding="bgr8", step=10, data=b"\x00" * 300),  # step too short
    ]
    for msg in bad:
        publisher.publish(msg)
        time.sleep(0.15)  # one at a time: the node keeps only the newest frame
    assert wait_until(lambda: harness.node.stats.failed == len(bad)), harness.node.stats
    good = _stamp(6)
    publisher.publish(bgr_to_image(_real_faces_frame(), good))
    assert wait_until(lambda: faces.by_stamp(good) is not None)
    assert all(faces.by_stamp(m.header) is None for m in bad)
    assert harness.node.stats.processed == 1
    # The compressed path is not subscribed by default: the node is unaffected by garbage there.
    compressed_pub.publish(CompressedImage(header=_stamp(7), format="jpeg", data=b"garbage"))

    def failing_reported() -> bool:
        for array in diagnostics.messages:
            values = {kv.key: kv.value for kv in array.status[0].values}
            if values.get("frames_failed") == str(len(bad)):
                return True
        return False

    assert wait_until(failing_reported)


def test_bad_compressed_frames_are_survived(harness_factory):
    harness = harness_factory({"use_compressed": True})
    faces = Collector(harness.peer)
    publisher = harness.peer.create_publisher(CompressedImage, "image/compressed", 10)
    assert wait_until(lambda: harness.matched(publisher))
    ok, jpeg = cv2.imencode(".jpg", _real_faces_frame())
    for index, data in enumerate([b"", b"not a jpeg", jpeg.tobytes()[:200]]):
        publisher.publish(CompressedImage(header=_stamp(10 + index), format="jpeg", data=data))
        time.sleep(0.15)
    assert wait_until(lambda: harness.node.stats.failed == 3)
    good = _stamp(20)
    publisher.publish(CompressedImage(header=good, format="jpeg", data=jpeg.tobytes()))
    assert wait_until(lambda: faces.by_stamp(good) is not None)


def test_only_the_newest_frame_is_processed(harness_factory):
    harness = harness_factory()
    faces = Collector(harness.peer)
    publisher = harness.peer.create_publisher(
        Image, "image", QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    )
    assert wait_until(lambda: harness.matched(publisher))
    frame = cv2.resize(_real_faces_frame(), None, fx=2.0, fy=2.0)
    headers = [_stamp(100 + i) for i in range(30)]
    for header in headers:
        publisher.publish(bgr_to_image(frame, header))
    assert wait_until(lambda: faces.by_stamp(headers[-1]) is not None), "the newest frame was not processed"
    time.sleep(0.5)
    stats = harness.node.stats
    assert len(faces.messages) < len(headers)  # no backlog worked off
    assert stats.processed == len(faces.messages)
    assert stats.dropped + (len(headers) - stats.received) == len(headers) - stats.processed
    stamps = [m.header.stamp.sec for m in faces.messages]
    assert stamps == sorted(stamps)


def test_diagnostics_name_a_camera_topic_that_no_publisher_matches(harness_factory):
    """A wrong remap or a missing driver reads differently from a silent camera."""
    harness = harness_factory({"diagnostics.period_s": 0.2}, remap={"image": "camera/image_raw"})
    diagnostics = Collector(harness.peer, "/diagnostics", DiagnosticArray)

    def last_status():
        return diagnostics.messages[-1].status[0] if diagnostics.messages else None

    def camera_values() -> dict[str, str]:
        status = last_status()
        return {kv.key: kv.value for kv in status.values} if status is not None else {}

    assert wait_until(lambda: camera_values().get("camera_publishers") == "0")
    status = last_status()
    assert status.level == DiagnosticStatus.WARN
    assert status.message == "no images received: no publisher matches /camera/image_raw", status.message
    assert camera_values()["camera_topic"] == "/camera/image_raw"
    wrong = harness.peer.create_publisher(Image, "image", 10)  # the topic the remap moved away from
    right = harness.peer.create_publisher(Image, "camera/image_raw", 10)
    assert wait_until(lambda: harness.matched(right))
    assert wait_until(lambda: camera_values().get("camera_publishers") == "1")
    assert last_status().message == "no images received"
    assert wrong.get_subscription_count() == 0


def test_debug_image_is_switched_on_at_run_time(harness_factory):
    harness = harness_factory()
    debug = Collector(harness.peer, "debug/image", Image)
    publisher = harness.peer.create_publisher(Image, "image", 10)
    assert wait_until(lambda: harness.matched(publisher))
    publisher.publish(bgr_to_image(_real_faces_frame(), _stamp(300)))
    assert wait_until(lambda: harness.node.stats.processed == 1)
    assert debug.messages == []
    result = harness.node.set_parameters([Parameter("publish_debug_image", value=True)])
    assert result[0].successful
    refused = harness.node.set_parameters([Parameter("detector.score_threshold", value=0.2)])
    assert not refused[0].successful and "read-only" in refused[0].reason
    header = _stamp(301)
    publisher.publish(bgr_to_image(_real_faces_frame(), header))
    assert wait_until(lambda: len(debug.messages) == 1)
    assert debug.messages[0].header.stamp.sec == 301 and debug.messages[0].encoding == "bgr8"


def test_declared_parameters_match_the_shipped_yaml(harness_factory):
    from face_perception.core.config import load_parameters_yaml

    harness = harness_factory({"tracking.enabled": True})
    shipped = load_parameters_yaml(ROOT / "config" / "face_perception.yaml")
    declared = {name: harness.node.get_parameter(name).value for name in shipped}
    assert declared == shipped
    builtin = {"use_sim_time", "start_type_description_service"}
    assert set(harness.node.get_parameters_by_prefix("")) - builtin == set(shipped)


def _node_process(*ros_args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "face_perception.ros.node", "--ros-args", *ros_args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=dict(os.environ),
    )


def test_tampered_model_stops_the_node_at_start_with_file_and_hash(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    emotion_model = PipelineConfig().heads["emotion"].model
    target = models / f"{emotion_model}.onnx"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    result = _node_process("-p", f"models_dir:={models}")
    assert result.returncode == 1
    import json

    expected = json.loads((models / "manifest.json").read_text())["models"][emotion_model]["sha256"]
    assert str(target) in result.stderr and expected in result.stderr


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("detector.score_threshold:=2.0", "score_threshold"),
        ("qos.reliability:=sometimes", "qos.reliability"),
        ("emotion.model:=no_such_model", "no_such_model"),
    ],
)
def test_bad_parameters_stop_the_node_with_a_clear_message(arg, message):
    result = _node_process("-p", arg)
    assert result.returncode == 1
    assert message in result.stderr


def test_node_in_its_own_process_with_the_shipped_params_file():
    peer = Node("cross_process_peer")
    executor = SingleThreadedExecutor()
    executor.add_node(peer)
    faces = Collector(peer, "/robot/faces")
    publisher = peer.create_publisher(Image, "/robot/camera/image", 10)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "face_perception.ros.node",
            "--ros-args",
            "--params-file",
            str(ROOT / "config" / "face_perception.yaml"),
            "-r",
            "image:=/robot/camera/image",
            "-r",
            "faces:=/robot/faces",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        # Discovery is not symmetric in time: send (10 fps of header time) until tracked faces come back.
        frame, sent = _real_faces_frame(), []

        def with_faces():
            return [m for m in faces.messages if m.faces]

        while not with_faces() and time.monotonic() < deadline + 20:
            header = _stamp(4000 + len(sent) // 10)
            header.stamp.nanosec = (len(sent) % 10) * 100_000_000
            sent.append(header)
            publisher.publish(bgr_to_image(frame, header))
            end = time.monotonic() + 0.3
            while time.monotonic() < end and not with_faces():
                executor.spin_once(timeout_sec=0.05)
        assert with_faces(), child.stdout.read() if child.poll() is not None else "no faces from the child"
        answer = with_faces()[0]
        assert any(faces.by_stamp(h) is answer for h in sent)
        assert len(faces.messages) >= 3  # shipped params track faces: published from the third frame on
        assert all(f.id > 0 and f.track_age_s > 0 for f in answer.faces)
    finally:
        child.terminate()
        child.wait(timeout=10)
        executor.shutdown()
        peer.destroy_node()


def test_tracking_gives_stable_ids_and_events(harness_factory):
    from face_perception.msg import FaceEvent

    harness = harness_factory({"tracking.enabled": True, "tracking.min_hits": 3})
    faces = Collector(harness.peer)
    events = Collector(harness.peer, "face_events", FaceEvent)
    publisher = harness.peer.create_publisher(
        Image, "image", QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
    )
    assert wait_until(lambda: harness.matched(publisher))
    frame = _real_faces_frame()
    headers = []
    for index in range(6):
        header = _stamp(500)
        header.stamp.nanosec = index * 100_000_000  # 10 fps of header time
        headers.append(header)
        shifted = np.roll(frame, 4 * index, axis=1)  # the people move a little
        publisher.publish(bgr_to_image(shifted, header))
        assert wait_until(lambda h=header: faces.by_stamp(h) is not None)
    counts = [len(faces.by_stamp(h).faces) for h in headers]
    assert counts[:2] == [0, 0] and min(counts[2:]) >= 1  # confirmed on the third frame
    ids = [sorted(f.id for f in faces.by_stamp(h).faces) for h in headers[2:]]
    assert all(i == ids[0] for i in ids)
    last = faces.by_stamp(headers[-1]).faces[0]
    assert last.track_age_s == pytest.approx(0.5, abs=1e-3)
    assert last.raw_emotion in last.EMOTION_LABELS.split(",") and not np.isnan(last.raw_age)
    assert wait_until(lambda: len(events.messages) == len(ids[0]))
    assert {e.type for e in events.messages} == {FaceEvent.APPEARED}
    assert sorted(e.face_id for e in events.messages) == ids[0]
    assert events.messages[0].header.stamp == headers[2].stamp
