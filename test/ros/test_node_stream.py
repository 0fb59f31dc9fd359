"""The node with the stream settings of config/face_perception_fast.yaml, over DDS."""

from __future__ import annotations

import numpy as np
from conftest import wait_until
from face_perception.msg import FaceArray
from helpers import ROOT, real_faces_frames
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from face_perception.core.config import load_parameters_yaml
from face_perception.ros.conversions import bgr_to_image


def _frames(count: int) -> list[np.ndarray]:
    """640x480 frames of real faces moving 6 px right per frame."""
    frames = []
    for strip in real_faces_frames(count):
        frame = np.full((480, 640, 3), 90, np.uint8)
        height, width = min(strip.shape[0], 480 - 130), min(strip.shape[1], 640)  # UTKFace strip or sample photo
        frame[130 : 130 + height, :width] = strip[:height, :width]
        frames.append(frame)
    return frames


def test_fast_parameters_answer_every_frame_with_the_moving_faces(harness_factory):
    fast = load_parameters_yaml(ROOT / "config" / "face_perception_fast.yaml")
    assert fast["detector.full_frame_every"] > 1
    harness = harness_factory(fast)
    received: list[FaceArray] = []
    harness.peer.create_subscription(FaceArray, "faces", received.append, 10)
    publisher = harness.peer.create_publisher(Image, "image", 10)
    assert wait_until(lambda: harness.matched(publisher))
    frames = _frames(6)
    for index, frame in enumerate(frames):
        header = Header(frame_id="camera")
        header.stamp.sec = 200 + index
        publisher.publish(bgr_to_image(frame, header))
        assert wait_until(lambda i=index: len(received) == i + 1), f"no FaceArray for frame {index}"
    counts = [len(m.faces) for m in received]
    assert counts[0] >= 1 and all(c == counts[0] for c in counts)  # found whole and near, frame after frame
    centres = np.array([sorted(float(np.mean(f.landmarks_x)) for f in m.faces) for m in received])
    steps = np.diff(centres, axis=0)
    assert np.all(np.abs(steps - 6.0) < 4.0), steps  # every face follows the 6 px motion
    for message in received:
        for face in message.faces:
            assert face.gender in ("female", "male") and face.age > 0 and len(face.emotion_scores) == 7
