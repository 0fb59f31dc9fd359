"""``face-perception demo``: the ROS node on bundled sample frames, over real DDS, no camera.

A player node publishes each sample frame as sensor_msgs/Image on ``image``, waits for
the face_perception node's FaceArray on ``faces`` (matched by header stamp) and prints it.
The scene node runs beside it (faces from the ``faces`` topic) and its sentence and alerts
for each frame are printed too (``--no-scene`` leaves it out).

Then the person in view is enrolled from the camera over the node's ``identity/enroll`` service
(into a temporary gallery, removed at the end) and greeted by name when seen again
(``--no-identity`` leaves this part out).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "data" / "samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="parameters YAML for the node (default: built-in defaults)")
    parser.add_argument("--json", action="store_true", help="print each FaceArray as one JSON object")
    parser.add_argument("--no-scene", action="store_true", help="do not start the scene node")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="give up waiting for a result after this long")
    parser.add_argument("--no-identity", action="store_true", help="do not enrol and recognise the person in view")


PAN_FRAMES = 6
FRAME_PERIOD_S = 0.1


def sample_frames() -> list[tuple[str, np.ndarray]]:
    """The demo sequence at 10 fps: a camera panning over the astronaut photo, then two frames of the rocket photo."""
    astronaut = cv2.imread(str(SAMPLES_DIR / "astronaut.jpg"), cv2.IMREAD_COLOR)
    rocket = cv2.imread(str(SAMPLES_DIR / "rocket.jpg"), cv2.IMREAD_COLOR)
    frames = [
        (f"astronaut.jpg pan {i + 1}/{PAN_FRAMES}", np.ascontiguousarray(astronaut[:, 12 * i : 12 * i + 440]))
        for i in range(PAN_FRAMES)
    ]
    frames += [("rocket.jpg", rocket)] * 2
    return frames


EVENT_NAMES = {0: "appeared", 1: "disappeared", 2: "emotion changed to", 3: "recognized"}
# The person of the astronaut photo, enrolled from the camera in the identity part of the demo.
DEMO_PERSON = "Eileen Collins"
ENROL_FRAMES = 3


def identity_frames() -> list[tuple[str, np.ndarray]]:
    """The identity part: the pan while enrolling, the rocket (the person leaves), the pan again."""
    pan = sample_frames()[:PAN_FRAMES]
    rocket = sample_frames()[-1]
    return [(f"enrol: {n}", f) for n, f in pan] + [rocket] * 12 + [(f"again: {n}", f) for n, f in pan]


def face_array_to_json(msg: Any) -> dict[str, Any]:
    """A FaceArray message as a JSON-ready dict (the analyze --json face shape, plus id)."""
    labels = msg.faces[0].EMOTION_LABELS.split(",") if msg.faces else []
    faces = []
    for face in msg.faces:
        faces.append(
            {
                "id": int(face.id),
                "box": [round(v, 2) for v in (face.x_min, face.y_min, face.x_max, face.y_max)],
                "score": round(face.detection_score, 4),
                "landmarks": [
                    [round(float(x), 2), round(float(y), 2)]
                    for x, y in zip(face.landmarks_x, face.landmarks_y, strict=True)
                ],
                "emotion": {
                    "label": face.emotion,
                    "scores": {k: round(float(v), 4) for k, v in zip(labels, face.emotion_scores, strict=True)},
                }
                if face.emotion
                else None,
                "gender": {"label": face.gender, "score": round(face.gender_score, 4)} if face.gender else None,
                "age": None if np.isnan(face.age) else round(face.age, 1),
                "track_age_s": round(face.track_age_s, 3),
                "eyeglasses": None
                if np.isnan(face.eyeglasses_probability)
                else {"probability": round(face.eyeglasses_probability, 4), "worn": bool(face.eyeglasses)},
                "identity": None
                if np.isnan(face.identity_distance)
                else {
                    "name": face.identity or None,
                    "distance": round(float(face.identity_distance), 4)
                    if np.isfinite(face.identity_distance)
                    else None,
                },
            }
        )
    return {
        "stamp": {"sec": msg.header.stamp.sec, "nanosec": msg.header.stamp.nanosec},
        "frame_id": msg.header.frame_id,
        "image_size": [msg.image_width, msg.image_height],
        "processing_ms": round(1000.0 * msg.processing_time_s, 1),
        "faces": faces,
    }


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from face_perception.cli.results_json import describe_face_json
    from face_perception.core.config import load_parameters_yaml
    from face_perception.msg import FaceArray, FaceEvent
    from face_perception.ros.conversions import bgr_to_image
    from face_perception.ros.node import FacePerceptionNode
    from face_perception.srv import EnrollFace

    overrides = []
    if args.config:
        overrides = [Parameter(k, value=v) for k, v in load_parameters_yaml(args.config).items()]
    gallery_dir = None
    if not args.no_identity:
        # A temporary gallery; every tracked face is embedded on each frame, so names come quickly.
        gallery_dir = tempfile.TemporaryDirectory(prefix="face_perception_demo_")
        overrides += [
            Parameter("identity.gallery", value=str(Path(gallery_dir.name) / "gallery.db")),
            Parameter("identity.every_n_frames", value=1),
        ]
    rclpy.init()
    executor = SingleThreadedExecutor()
    perception = FacePerceptionNode(parameter_overrides=overrides)
    perception.start()  # configure and activate the lifecycle node
    player = Node("face_perception_demo_player")
    scene_node, scenes = None, {}
    if not args.no_scene:
        scene_node = _start_scene_node(player, scenes)
    received: dict[tuple[int, int], Any] = {}
    events: list[Any] = []
    player.create_subscription(FaceEvent, "face_events", events.append, 10)
    image_pub = player.create_publisher(Image, "image", 10)
    player.create_subscription(
        FaceArray, "faces", lambda m: received.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec), m), 10
    )
    executor.add_node(perception)
    executor.add_node(player)
    if scene_node is not None:
        executor.add_node(scene_node)
    enroll_client = player.create_client(EnrollFace, "identity/enroll")
    out = sys.stdout
    failures = 0
    try:
        _wait_for(executor, lambda: image_pub.get_subscription_count() > 0, args.timeout_s)
        start_ns = player.get_clock().now().nanoseconds
        frames = sample_frames()
        enrol_at = len(frames)
        if not args.no_identity:
            frames += identity_frames()
        pending = None
        for index, (name, frame) in enumerate(frames):
            if index == enrol_at:
                if not _wait_for(executor, enroll_client.service_is_ready, args.timeout_s):
                    out.write("identity/enroll: service not available\n")
                    failures += 1
                request = EnrollFace.Request(name=DEMO_PERSON, frames=ENROL_FRAMES, timeout_s=float(args.timeout_s))
                pending = enroll_client.call_async(request)
                if not args.json:
                    out.write(f"enrolling {DEMO_PERSON!r} from the camera ({ENROL_FRAMES} good frames)...\n")
            stamp_ns = start_ns + int(index * FRAME_PERIOD_S * 1e9)
            header = Header(frame_id="camera")
            header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
            key = (header.stamp.sec, header.stamp.nanosec)
            image_pub.publish(bgr_to_image(frame, header))
            if not _wait_for(executor, lambda key=key: key in received, args.timeout_s):
                out.write(f"{name}: no result within {args.timeout_s} s\n")
                failures += 1
                continue
            result = face_array_to_json(received.pop(key))
            scene = None
            if scene_node is not None and _wait_for(executor, lambda key=key: key in scenes, args.timeout_s):
                scene = scenes.pop(key)
            if args.json:
                record = {"image": name, **result}
                if scene_node is not None:
                    record["scene"] = None if scene is None else _scene_json(scene)
                out.write(json.dumps(record) + "\n")
            else:
                out.write(f"{name}: {len(result['faces'])} face(s), {result['processing_ms']} ms, stamp echoed\n")
                for face in result["faces"]:
                    out.write(f"  {describe_face_json({**face, 'track_id': face['id']})}\n")
                _wait_for(executor, lambda: False, 0.05)  # let events of this frame arrive
                for event in events:
                    if event.type == FaceEvent.RECOGNIZED:
                        out.write(f"  event: recognized #{event.face_id} {event.identity}\n")
                        out.write(f"  hello, {event.identity}! (distance {event.identity_distance:.2f})\n")
                    else:
                        out.write(f"  event: {EVENT_NAMES[event.type]} #{event.face_id} {event.emotion}\n")
                if scene is not None:
                    out.write(f"  scene: {scene.description}\n")
                    for alert in scene.alerts:
                        out.write(f"  ALERT {alert.TYPE_LABELS.split(',')[alert.type]}: {alert.sentence}\n")
            events.clear()
            if pending is not None and pending.done():
                failures += _report_enrolment(pending.result(), args.json, out)
                pending = None
            out.flush()
        if pending is not None:
            out.write("identity/enroll: no answer\n")
            failures += 1
        stats = perception.stats
        if not args.json:
            out.write(
                f"node: {stats.received} frames received, {stats.processed} processed, "
                f"{stats.dropped} dropped, {stats.failed} failed\n"
            )
    finally:
        executor.shutdown()
        if scene_node is not None:
            scene_node.trigger_deactivate()
            scene_node.destroy_node()
        perception.destroy_node()
        player.destroy_node()
        rclpy.try_shutdown()
        if gallery_dir is not None:
            gallery_dir.cleanup()
    return 1 if failures else 0


def _report_enrolment(response: Any, as_json: bool, out: Any) -> int:
    """Print the enrol service's answer; returns 1 when it failed."""
    if as_json:
        out.write(json.dumps({"enroll": {"success": response.success, "message": response.message}}) + "\n")
    else:
        out.write(f"identity/enroll: {response.message}\n")
    return 0 if response.success else 1


def _start_scene_node(player: Any, scenes: dict[tuple[int, int], Any]) -> Any:
    """The scene node, configured and active, with the player subscribed to its ``scene``."""
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from face_perception.core.errors import FacePerceptionError
    from face_perception.msg import Scene
    from face_perception.ros.scene_node import SceneNode

    # Frames come one at a time here, so no rate limit; faces.wait_s covers the face node's latency.
    node = SceneNode(
        parameter_overrides=[Parameter("scene.rate_hz", value=100.0), Parameter("faces.wait_s", value=5.0)]
    )
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        raise FacePerceptionError("the scene node could not be configured (see its log)")
    node.trigger_activate()
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    player.create_subscription(
        Scene, "scene", lambda m: scenes.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec), m), qos
    )
    return node


def _scene_json(msg: Any) -> dict[str, Any]:
    postures = msg.people[0].POSTURE_LABELS.split(",") if msg.people else []
    return {
        "description": msg.description,
        "people": [{"id": int(p.id), "posture": postures[p.posture], "face_id": int(p.face_id)} for p in msg.people],
        "objects": [o.label for o in msg.objects],
        "alerts": [
            {"id": int(a.id), "type": a.TYPE_LABELS.split(",")[a.type], "sentence": a.sentence} for a in msg.alerts
        ],
    }


def _wait_for(executor, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.05)
    return condition()
