"""Identity over real DDS: enrol the face in view through identity/enroll, see it named, list and forget."""

from __future__ import annotations

import math
import os
import stat

import cv2
import numpy as np
from conftest import wait_until
from face_perception.msg import FaceArray, FaceEvent
from face_perception.srv import EnrollFace, ForgetPerson, ListPeople
from helpers import SAMPLES
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from face_perception.ros.conversions import bgr_to_image


class _Camera:
    """Publishes the sample portrait, moving a little each frame at 10 fps of header time; waits for each answer."""

    def __init__(self, harness) -> None:
        self.harness = harness
        self.faces: list = []
        self.events: list = []
        peer = harness.peer
        peer.create_subscription(FaceArray, "faces", self.faces.append, 50)
        peer.create_subscription(FaceEvent, "face_events", self.events.append, 50)
        qos = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
        self.publisher = peer.create_publisher(Image, "image", qos)
        assert wait_until(lambda: harness.matched(self.publisher))
        image = cv2.imread(str(SAMPLES / "astronaut.jpg"))
        self.frame = cv2.copyMakeBorder(image, 0, 0, 64, 64, cv2.BORDER_REPLICATE)  # 640 px wide
        self.index = 0

    def step(self) -> FaceArray:
        header = Header(frame_id="camera")
        header.stamp.sec, header.stamp.nanosec = divmod(1_000_000_000 + self.index * 100_000_000, 1_000_000_000)
        shifted = np.ascontiguousarray(np.roll(self.frame, 3 * (self.index % 20), axis=1))
        self.index += 1
        self.publisher.publish(bgr_to_image(shifted, header))

        def answer():
            return next((m for m in self.faces if m.header.stamp == header.stamp), None)

        assert wait_until(lambda: answer() is not None), "no FaceArray for the frame"
        return answer()


def _call(harness, client, request, camera: _Camera | None = None, frames: int = 0):
    """Call a service; with a camera, keep publishing frames (up to ``frames``) until it answers."""
    assert wait_until(client.service_is_ready)
    future = client.call_async(request)
    for _ in range(frames):
        if future.done():
            break
        camera.step()
    assert wait_until(future.done, 30.0), "no answer from the service"
    return future.result()


def test_enrol_from_the_camera_then_named_listed_and_forgotten(harness_factory, tmp_path):
    gallery = tmp_path / "robot" / "people.db"
    harness = harness_factory(
        {"tracking.enabled": True, "identity.gallery": str(gallery), "identity.every_n_frames": 2}
    )
    camera = _Camera(harness)
    for _ in range(4):
        first = camera.step()
    assert len(first.faces) == 1 and first.faces[0].identity == ""
    assert math.isinf(first.faces[0].identity_distance)  # embedded; nobody enrolled yet
    face_id = first.faces[0].id

    enroll = harness.peer.create_client(EnrollFace, "identity/enroll")
    answer = _call(harness, enroll, EnrollFace.Request(name="Eileen", face_id=face_id, frames=3, timeout_s=20.0),
                   camera, 60)  # fmt: skip
    assert answer.success, answer.message
    assert answer.embeddings == 3 and answer.face_id == face_id and "enrolled Eileen" in answer.message
    assert stat.S_IMODE(os.stat(gallery).st_mode) == 0o600

    for _ in range(12):
        last = camera.step()
    (face,) = last.faces
    assert face.id == face_id and face.identity == "Eileen" and face.identity_distance < 0.6
    recognized = [e for e in camera.events if e.type == FaceEvent.RECOGNIZED]
    assert [(e.face_id, e.identity) for e in recognized] == [(face_id, "Eileen")]
    assert recognized[0].identity_distance < 0.6

    listing = _call(harness, harness.peer.create_client(ListPeople, "identity/list"), ListPeople.Request())
    assert listing.success and list(listing.names) == ["Eileen"] and list(listing.embeddings) == [3]
    assert listing.last_added_s[0] > 1e9

    forget = harness.peer.create_client(ForgetPerson, "identity/forget")
    gone = _call(harness, forget, ForgetPerson.Request(name="Eileen"))
    assert gone.success and gone.removed == 3
    again = _call(harness, forget, ForgetPerson.Request(name="Eileen"))
    assert not again.success and "nobody named 'Eileen'" in again.message
    listing = _call(harness, harness.peer.create_client(ListPeople, "identity/list"), ListPeople.Request())
    assert listing.success and list(listing.names) == []


def test_enrolment_refusals_are_answers_not_crashes(harness_factory, tmp_path):
    harness = harness_factory({"tracking.enabled": True, "identity.gallery": str(tmp_path / "g.db")})
    camera = _Camera(harness)
    camera.step()
    enroll = harness.peer.create_client(EnrollFace, "identity/enroll")
    empty = _call(harness, enroll, EnrollFace.Request(name="  ", frames=2))
    assert not empty.success and "name is empty" in empty.message
    # a track that is not in view: nothing stored after the timeout, and the node goes on
    absent = _call(harness, enroll, EnrollFace.Request(name="Nobody", face_id=999, frames=2, timeout_s=0.5), camera, 30)
    assert not absent.success and "nothing stored" in absent.message and "not in view" in absent.message
    listing = _call(harness, harness.peer.create_client(ListPeople, "identity/list"), ListPeople.Request())
    assert listing.success and list(listing.names) == []
    assert len(camera.step().faces) == 1


def test_services_say_when_identity_is_off(harness_factory):
    harness = harness_factory()
    for client, request in (
        (harness.peer.create_client(EnrollFace, "identity/enroll"), EnrollFace.Request(name="Eileen")),
        (harness.peer.create_client(ForgetPerson, "identity/forget"), ForgetPerson.Request(name="Eileen")),
        (harness.peer.create_client(ListPeople, "identity/list"), ListPeople.Request()),
    ):
        answer = _call(harness, client, request)
        assert not answer.success and "identity.gallery" in answer.message
