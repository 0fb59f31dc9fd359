"""Runs the face node (or the scene node) with hri.enabled on real 640x480 frames and records, with a
plain rclpy subscriber, what it publishes on its own topic and on the REP-155 topics; prints one JSON
object. Run by test_hri.py in a process whose environment holds a built hri_msgs:

python hri_probe.py faces|bodies

faces: the astronaut photo (a face) for FACE_FRAMES frames, then the rocket photo (no one) until the
track has ended. bodies: the astronaut photo for BODY_FRAMES frames through the scene node.
Frames go one at a time (the next after the node's answer to the last), 0.1 s apart in header time.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import rclpy
import waiting  # test/ros, this script's folder
from face_perception.msg import FaceArray, Scene
from hri_msgs.msg import Expression, IdsList, IdsMatch, NormalizedRegionOfInterest2D, Skeleton2D, SoftBiometrics
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from face_perception.ros.conversions import bgr_to_image

SAMPLES = Path(__file__).resolve().parents[2] / "face_perception" / "data" / "samples"
FACE_FRAMES = 8
BODY_FRAMES = 4
END_FRAMES = 15  # no one in view for 1.5 s of header time: longer than tracking.max_missing_s (1.0)
PERIOD_S = 0.1
WAIT_S = 60.0
SUBSCRIBED = ("roi", "expression", "softbiometrics", "cropped", "aligned", "skeleton2d")  # per-id topics heard


def frames() -> tuple[list[np.ndarray], np.ndarray]:
    """Frames with the astronaut's face (moving 4 px a frame), and one without anyone, all 640x480."""
    astronaut = cv2.resize(cv2.imread(str(SAMPLES / "astronaut.jpg"), cv2.IMREAD_COLOR), (480, 480))
    with_face = []
    for index in range(FACE_FRAMES):
        canvas = np.full((480, 640, 3), 90, np.uint8)
        canvas[:, 40 + 4 * index : 520 + 4 * index] = astronaut
        with_face.append(canvas)
    empty = cv2.resize(cv2.imread(str(SAMPLES / "rocket.jpg"), cv2.IMREAD_COLOR), (640, 480))
    return with_face, empty


def wait_until(condition, timeout_s: float = WAIT_S) -> bool:
    return waiting.wait_until(condition, timeout_s)


def stamp_key(header) -> str:
    return f"{header.stamp.sec}.{header.stamp.nanosec:09d}"


class Recorder:
    """The plain subscriber: the node's own output by stamp, and every REP-155 message."""

    def __init__(self, node, answer_type, answer_topic: str, kind: str) -> None:
        self.node = node
        self.kind = kind
        self.lock = threading.Lock()
        self.answers: dict[str, object] = {}
        self.tracked: list[dict] = []
        self.per_id: dict[str, list[dict]] = {}
        self.matches: list[dict] = []
        self.subscriptions: dict[str, list] = {}
        answer_qos = 10
        if answer_type is Scene:
            answer_qos = QoSProfile(
                depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
            )
        node.create_subscription(answer_type, answer_topic, self._on_answer, answer_qos)
        node.create_subscription(IdsList, f"/humans/{kind}/tracked", self._on_tracked, 10)
        node.create_subscription(IdsMatch, "/humans/candidate_matches", self._on_match, 10)

    def _on_answer(self, msg) -> None:
        with self.lock:
            self.answers[stamp_key(msg.header)] = msg

    def _on_tracked(self, msg: IdsList) -> None:
        with self.lock:
            self.tracked.append({"stamp": stamp_key(msg.header), "ids": list(msg.ids)})

    def _on_match(self, msg: IdsMatch) -> None:
        with self.lock:
            self.matches.append(
                {
                    "id1": msg.id1,
                    "id1_type": msg.id1_type,
                    "id2": msg.id2,
                    "id2_type": msg.id2_type,
                    "c": msg.confidence,
                }
            )

    def _record(self, hri_id: str, topic: str, fields):
        def callback(msg) -> None:
            with self.lock:
                self.per_id.setdefault(hri_id, []).append(
                    {"topic": topic, "stamp": stamp_key(msg.header), **fields(msg)}
                )

        return callback

    def subscribe(self, hri_id: str) -> list:
        """Subscribe to the id's topics; returns the subscriptions."""
        base = f"/humans/{self.kind}/{hri_id}"

        def roi(msg):
            return {"roi": [msg.xmin, msg.ymin, msg.xmax, msg.ymax], "c": msg.c}

        made = [
            self.node.create_subscription(
                NormalizedRegionOfInterest2D, f"{base}/roi", self._record(hri_id, "roi", roi), 10
            )
        ]
        if self.kind == "faces":
            made += [
                self.node.create_subscription(
                    Expression,
                    f"{base}/expression",
                    self._record(hri_id, "expression", lambda m: {"expression": m.expression, "c": m.confidence}),
                    10,
                ),
                self.node.create_subscription(
                    SoftBiometrics,
                    f"{base}/softbiometrics",
                    self._record(
                        hri_id,
                        "softbiometrics",
                        lambda m: {"age": m.age, "gender": m.gender, "gender_c": m.gender_confidence},
                    ),
                    10,
                ),
                self.node.create_subscription(
                    Image,
                    f"{base}/cropped",
                    self._record(hri_id, "cropped", lambda m: {"width": m.width, "height": m.height}),
                    1,
                ),
                self.node.create_subscription(
                    Image,
                    f"{base}/aligned",
                    self._record(hri_id, "aligned", lambda m: {"width": m.width, "height": m.height}),
                    1,
                ),
            ]
        else:
            made.append(
                self.node.create_subscription(
                    Skeleton2D,
                    f"{base}/skeleton2d",
                    self._record(hri_id, "skeleton2d", lambda m: {"joints": [[p.x, p.y, p.c] for p in m.skeleton]}),
                    10,
                )
            )
        self.subscriptions[hri_id] = made
        return made


def face_json(face) -> dict:
    return {
        "id": int(face.id),
        "box": [face.x_min, face.y_min, face.x_max, face.y_max],
        "score": face.detection_score,
        "emotion": face.emotion,
        "emotion_score": face.emotion_score,
        "gender": face.gender,
        "gender_score": None if math.isnan(face.gender_score) else face.gender_score,
        "age": face.age,
    }


def person_json(person) -> dict:
    return {
        "id": int(person.id),
        "box": [person.x_min, person.y_min, person.x_max, person.y_max],
        "score": person.score,
        "keypoints": [
            [float(x), float(y), float(c)]
            for x, y, c in zip(person.keypoints_x, person.keypoints_y, person.keypoints_score, strict=True)
        ],
        "face_id": int(person.face_id),
    }


def run(kind: str) -> dict:
    from face_perception.ros.node import FacePerceptionNode
    from face_perception.ros.scene_node import SceneNode

    rclpy.init()
    if kind == "faces":
        node = FacePerceptionNode(parameter_overrides=[Parameter("hri.enabled", value=True)])
        answer_type, answer_topic, count = FaceArray, "faces", FACE_FRAMES
    else:
        overrides = [Parameter("hri.enabled", value=True), Parameter("faces.source", value="pipeline")]
        node = SceneNode(parameter_overrides=overrides)
        answer_type, answer_topic, count = Scene, "scene", BODY_FRAMES
    node.start()
    peer = rclpy.create_node("hri_probe")
    recorder = Recorder(peer, answer_type, answer_topic, kind)
    camera = peer.create_publisher(Image, "image", 10)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    executor.add_node(peer)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    result: dict = {"kind": kind, "frames": []}
    try:
        if not wait_until(lambda: camera.get_subscription_count() > 0 and node.camera.publisher_count > 0):
            raise RuntimeError("the node's camera subscription never matched")
        with_face, empty = frames()
        sequence = with_face[:count] + ([empty] * END_FRAMES if kind == "faces" else [])
        for index, image in enumerate(sequence):
            msg = bgr_to_image(image, Image().header)
            t_ns = 1_700_000_000_000_000_000 + int(index * PERIOD_S * 1e9)
            msg.header.stamp.sec, msg.header.stamp.nanosec = t_ns // 10**9, t_ns % 10**9
            msg.header.frame_id = "camera"
            key = stamp_key(msg.header)
            camera.publish(msg)
            if not wait_until(lambda key=key: key in recorder.answers):
                raise RuntimeError(f"no answer for frame {index}")
            answer = recorder.answers[key]
            items = answer.faces if kind == "faces" else answer.people
            result["frames"].append(
                {
                    "stamp": key,
                    "width": image.shape[1],
                    "height": image.shape[0],
                    "items": [face_json(f) if kind == "faces" else person_json(f) for f in items],
                }
            )
            hri = node.hri
            for hri_id in hri.ids:  # a new id: subscribe, and wait until its publishers see us
                if hri_id not in recorder.subscriptions:
                    recorder.subscribe(hri_id)
                    topics = hri.topics(hri_id)
                    wait_until(
                        lambda topics=topics: all(
                            p.get_subscription_count() > 0
                            for p in vars(topics).values()
                            if p.topic_name.endswith(SUBSCRIBED)
                        )
                    )
        if kind == "faces":  # the track has ended: its topics are gone from the graph
            ended = sorted(recorder.subscriptions)
            result["publishers_after_end"] = {
                hri_id: peer.count_publishers(f"/humans/faces/{hri_id}/roi") for hri_id in ended
            }
            wait_until(lambda: all(peer.count_publishers(f"/humans/faces/{i}/roi") == 0 for i in ended), 10.0)
            result["publishers_after_end"] = {
                hri_id: peer.count_publishers(f"/humans/faces/{hri_id}/roi") for hri_id in ended
            }
        last = result["frames"][-1]["stamp"]
        wait_until(lambda: any(t["stamp"] == last for t in recorder.tracked), 10.0)
        with recorder.lock:
            result["tracked"] = list(recorder.tracked)
            result["per_id"] = {k: list(v) for k, v in recorder.per_id.items()}
            result["matches"] = list(recorder.matches)
    finally:
        executor.shutdown()
        spinner.join(timeout=10.0)  # spin has returned before the nodes go
        node.destroy_node()
        peer.destroy_node()
        rclpy.try_shutdown()
    return result


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
