"""The scene node over real DDS: a fall on real-photo frames (640x480) raises and clears alerts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from face_perception.msg import Face, FaceArray, Scene, SceneAlert
from helpers import ROOT
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from scene_data import STANDING_MAN, LabeledPeople, fall_sequence, labeled_photo
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from waiting import call_service, change_lifecycle_state

from face_perception.ros.conversions import bgr_to_image

# The labeled standing man, no face attributes: the caption, then the labeled objects it leaves out.
STANDING_MAN_SENTENCE = "A person is standing next to a car. Also in view: plants."
LATCHED = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
FAST = {
    "scene.rate_hz": 50.0,
    "alerts.lying_min_s": 2.0,
    "alerts.clear_s": 1.0,
    "alerts.motionless_min_s": 30.0,
    "diagnostics.period_s": 0.2,
}


class SceneHarness:
    """The scene node and a test node, spun by one executor in a thread.

    ``frames``: (labeled scene, posture) pairs the node's people come from; None: the real people finder.
    """

    def __init__(self, frames, overrides: dict | None = None) -> None:
        from face_perception.ros.scene_node import SceneNode

        params = [Parameter(k, value=v) for k, v in {**FAST, **(overrides or {})}.items()]
        factory = None
        if frames is not None:
            source = LabeledPeople(frames)

            def factory(config, store):
                return source

        self.node = SceneNode(people_factory=factory, parameter_overrides=params)
        self.peer = Node("scene_test_peer")
        self.executor = MultiThreadedExecutor(num_threads=3)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        self.scenes: list[Scene] = []
        self.alerts: list[SceneAlert] = []
        self.peer.create_subscription(Scene, "scene", self.scenes.append, LATCHED)
        self.peer.create_subscription(SceneAlert, "scene_alerts", self.alerts.append, LATCHED)
        self.images = self.peer.create_publisher(
            Image, "image", QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        )

    def start(self) -> None:
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert wait_until(lambda: self.images.get_subscription_count() > 0 and self.node.camera.publisher_count > 0)

    def scene_at(self, header: Header) -> Scene | None:
        for scene in list(self.scenes):
            if (scene.header.stamp.sec, scene.header.stamp.nanosec) == (header.stamp.sec, header.stamp.nanosec):
                return scene
        return None

    def send(self, image: np.ndarray, time_s: float) -> Scene:
        header = _header(time_s)
        self.images.publish(bgr_to_image(image, header))
        assert wait_until(lambda: self.scene_at(header) is not None), f"no Scene for the frame at {time_s} s"
        return self.scene_at(header)

    def close(self) -> None:
        self.executor.shutdown()
        self.node._stop_worker()
        self.node.destroy_node()
        self.peer.destroy_node()
        self._thread.join(timeout=5)


def _header(time_s: float) -> Header:
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000 + int(time_s), int(round((time_s % 1) * 1e9))
    return header


@pytest.fixture
def harnesses():
    made: list[SceneHarness] = []

    def make(frames, overrides=None) -> SceneHarness:
        harness = SceneHarness(frames, overrides)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


def test_a_fall_is_described_raised_kept_for_late_subscribers_and_cleared(harnesses):
    frames = fall_sequence(fps=5.0, upright_s=2.0, lying_s=5.0, up_again_s=3.0)
    assert frames[0].scene.image.shape == (480, 640, 3)
    harness = harnesses([(f.scene, f.posture) for f in frames], {"faces.source": "pipeline"})
    harness.start()
    late: list[SceneAlert] = []
    for index, frame in enumerate(frames):
        scene = harness.send(frame.scene.image, frame.time_s)
        if index == 0:
            assert scene.description == STANDING_MAN_SENTENCE
            assert scene.header.frame_id == "camera_optical" and (scene.image_width, scene.image_height) == (640, 480)
            assert len(scene.people) == 1 and scene.people[0].posture == scene.people[0].STANDING
            assert scene.people[0].id >= 1
        if index == 3:  # the face pipeline's tracks are confirmed from their third frame
            assert scene.people[0].has_face and scene.people[0].face_id >= 1
            assert {o.label for o in scene.objects} >= {"car"}
        if frame.time_s == pytest.approx(6.0):  # down for 4 s: fall and lying_on_floor active
            assert {SceneAlert.FALL, SceneAlert.LYING_ON_FLOOR} <= {a.type for a in scene.alerts}
            assert "seems to have fallen" in scene.description
            harness.peer.create_subscription(SceneAlert, "scene_alerts", late.append, LATCHED)
            assert wait_until(lambda: any(a.type == SceneAlert.FALL and a.active for a in late)), "late subscriber"
    assert harness.scenes[-1].alerts == []
    assert wait_until(lambda: sum(not a.active for a in harness.alerts) >= 2)
    falls = [a for a in harness.alerts if a.type == SceneAlert.FALL]
    assert [a.active for a in falls] == [True, False] and falls[0].id == falls[1].id
    assert (falls[0].since.sec, falls[0].since.nanosec) == (1_700_000_002, 0)
    assert "fallen" in falls[0].sentence and list(falls[0].people) == [harness.scenes[0].people[0].id]
    assert len({p.id for s in harness.scenes for p in s.people}) == 1  # one track through the fall


def test_faces_from_the_face_node_are_matched_by_stamp(harnesses):
    scene = labeled_photo(STANDING_MAN)
    harness = harnesses([(scene, "standing")], {"faces.source": "topic", "faces.wait_s": 5.0})
    harness.start()
    faces_pub = harness.peer.create_publisher(FaceArray, "faces", 10)
    assert wait_until(lambda: faces_pub.get_subscription_count() > 0)
    header = _header(1.0)
    nose = scene.people[0].keypoints[0]
    face = Face(
        id=77,
        x_min=float(nose[0] - 12),
        y_min=float(nose[1] - 15),
        x_max=float(nose[0] + 12),
        y_max=float(nose[1] + 15),
        detection_score=0.99,
        emotion="",
        gender="",
        age=float("nan"),
        eyeglasses_probability=float("nan"),
    )
    faces_pub.publish(FaceArray(header=header, image_width=640, image_height=480, faces=[face]))
    result = harness.send(scene.image, 1.0)
    assert result.people[0].face_id == 77 and result.people[0].has_face


def test_a_best_effort_camera_that_starts_later_is_subscribed_again_and_heard(harnesses):
    scene = labeled_photo(STANDING_MAN)
    harness = harnesses([(scene, "standing")], {"faces.source": "none"})
    harness.start()  # best_available with only a reliable publisher in view: a reliable subscription
    camera = harness.peer.create_publisher(
        Image, "image", QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    )
    assert wait_until(lambda: camera.get_subscription_count() > 0), "no subscription matches the best-effort camera"
    for index in range(20):  # best effort: a frame may be lost in transport, so send again until one is analyzed
        header = _header(2.0 + index)
        camera.publish(bgr_to_image(scene.image, header))
        if wait_until(lambda h=header: harness.scene_at(h) is not None, timeout_s=3.0):
            break
    assert harness.scene_at(header).description == STANDING_MAN_SENTENCE


def test_a_bad_frame_is_counted_and_survived_and_deactivate_unsubscribes(harnesses):
    scene = labeled_photo(STANDING_MAN)
    harness = harnesses([(scene, "standing")], {"faces.source": "none"})
    harness.start()
    diagnostics: list[DiagnosticArray] = []
    harness.peer.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    harness.send(scene.image, 0.5)
    broken = Image(header=_header(0.7), height=480, width=640, encoding="bgr8", step=1920, data=b"\x00" * 1000)
    harness.images.publish(broken)
    assert wait_until(lambda: harness.node.stats.received >= 2)
    assert harness.send(scene.image, 1.0).description == STANDING_MAN_SENTENCE
    assert harness.node.stats.processed == 2

    def failed() -> int:
        values = [{kv.key: kv.value for kv in s.values} for d in diagnostics for s in d.status if "scene" in s.name]
        return max((int(v["frames_failed"]) for v in values), default=0)

    assert wait_until(lambda: failed() >= 1), (harness.node.stats, len(diagnostics))
    assert {kv.key: kv.value for kv in diagnostics[-1].status[0].values}["camera_publishers"] == "1"
    assert harness.node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert wait_until(lambda: harness.images.get_subscription_count() == 0)

    def inactive_reported() -> bool:
        status = diagnostics[-1].status[0]
        values = {kv.key: kv.value for kv in status.values}
        return values["lifecycle_state"] == "inactive" and status.level == DiagnosticStatus.OK

    assert wait_until(inactive_reported), diagnostics[-1].status[0]  # idle on purpose: no stale-camera warning
    assert diagnostics[-1].status[0].message == "inactive: not processing images"
    assert harness.node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS and harness.node.analyzer is None


def test_a_tampered_model_is_refused_at_configure(harnesses, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    target = models / "retinaface_mnet025_int8.onnx"
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF
    target.write_bytes(bytes(data))
    scene = labeled_photo(STANDING_MAN)
    harness = harnesses([(scene, "standing")], {"faces.source": "pipeline", "models_dir": str(models)})
    assert harness.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert harness.node.analyzer is None


def test_the_executable_exits_non_zero_naming_a_bad_parameter(tmp_path):
    executable = ROOT / "install" / "face_perception" / "lib" / "face_perception" / "scene_node"
    if not executable.exists():
        pytest.skip("package not built (run scripts/setup_env.sh)")
    params = tmp_path / "bad.yaml"
    params.write_text("/**:\n  ros__parameters:\n    alerts:\n      lying_min_s: -5\n")
    done = subprocess.run(
        [sys.executable, str(executable), "--ros-args", "--params-file", str(params)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode != 0
    assert "alerts.lying_min_s" in done.stderr + done.stdout


def test_frames_are_at_least_640x480():
    frames = fall_sequence(fps=1.0, upright_s=1.0, lying_s=1.0, up_again_s=0.0)
    assert all(f.scene.image.shape[:2] == (480, 640) for f in frames)
    assert cv2.countNonZero(cv2.cvtColor(frames[-1].scene.image, cv2.COLOR_BGR2GRAY)) > 0


def test_scene_yaml_lists_every_parameter_and_configures_the_node():
    import yaml
    from rcl_interfaces.msg import ParameterType

    from face_perception.core.config import load_parameters_yaml
    from face_perception.ros.scene_node import SceneNode
    from face_perception.ros.scene_params import parameter_defaults

    path = ROOT / "config" / "scene.yaml"
    assert list(yaml.safe_load(path.read_text())) == ["/**"]
    listed = load_parameters_yaml(path, "scene")
    defaults = parameter_defaults()
    assert set(listed) == set(defaults) | {"autostart"}
    assert all(listed[name] == value for name, value in defaults.items())
    node = SceneNode(cli_args=["--ros-args", "--params-file", str(path)], namespace="robot1")
    try:
        descriptor = node.describe_parameter("alerts.lying_min_s")
        assert descriptor.description and descriptor.type == ParameterType.PARAMETER_DOUBLE
        assert descriptor.floating_point_range[0].from_value == 0.0
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    finally:
        node.destroy_node()
    whole = SceneNode(parameter_overrides=[Parameter("alerts.lying_min_s", value=20)], namespace="robot2")
    try:  # a whole number for a float parameter is taken as that float
        assert whole.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert whole.scene_config.alerts.lying_min_s == 20.0
    finally:
        whole.destroy_node()


def test_the_executable_waits_for_lifecycle_transitions_without_autostart():
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from rclpy.executors import SingleThreadedExecutor

    executable = ROOT / "install" / "face_perception" / "lib" / "face_perception" / "scene_node"
    if not executable.exists():
        pytest.skip("package not built (run scripts/setup_env.sh)")
    args = ["--ros-args", "-r", "__ns:=/lifecycle_test", "-p", "autostart:=false", "-p", "faces.source:=none"]
    process = subprocess.Popen(
        [sys.executable, str(executable), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    client = Node("scene_lifecycle_client")
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    try:
        get_state = client.create_client(GetState, "/lifecycle_test/scene/get_state")
        change = client.create_client(ChangeState, "/lifecycle_test/scene/change_state")

        def spin() -> None:
            executor.spin_once(timeout_sec=0.05)

        def state() -> str:
            return call_service(get_state, GetState.Request(), spin=spin).current_state.label

        assert state() == "unconfigured"
        change_lifecycle_state(change, get_state, Transition.TRANSITION_CONFIGURE, "inactive", spin=spin)
        change_lifecycle_state(change, get_state, Transition.TRANSITION_ACTIVATE, "active", spin=spin)
        images = client.create_publisher(Image, "/lifecycle_test/image", 10)
        assert wait_until(lambda: images.get_subscription_count() > 0)
        change_lifecycle_state(change, get_state, Transition.TRANSITION_DEACTIVATE, "inactive", spin=spin)
        assert wait_until(lambda: images.get_subscription_count() == 0)
    finally:
        process.terminate()
        process.wait(timeout=30)
        client.destroy_node()


def test_face_messages_come_back_as_the_face_results_they_were_made_from(pipeline):
    from face_perception.ros.conversions import face_to_msg
    from face_perception.ros.scene_conversions import face_from_msg

    scene = labeled_photo(STANDING_MAN)
    faces = pipeline.process(scene.image).faces
    assert faces
    for face in faces:
        back = face_from_msg(face_to_msg(face, face, 5))
        assert np.allclose(back.detection.box.as_list(), face.detection.box.as_list(), atol=1e-3)
        assert back.emotion.label == face.emotion.label
        if face.gender.answered:
            assert back.gender.label == face.gender.label
            assert back.gender.score == pytest.approx(face.gender.score, abs=1e-6)
        else:  # an abstention is "" on the wire: no answer
            assert back.gender is None
        assert back.age_uncertainty_years == pytest.approx(face.age_uncertainty_years, abs=1e-4)
        assert back.emotion.scores == pytest.approx(face.emotion.scores, abs=1e-6)
        assert back.age == pytest.approx(face.age, abs=1e-4)
        assert back.eyewear.worn == face.eyewear.worn
    empty = face_from_msg(Face(emotion="", gender="", age=float("nan"), eyeglasses_probability=float("nan")))
    assert empty.emotion is None and empty.gender is None and empty.age is None and empty.eyewear is None


CAPTIONER_FIXTURE = ROOT / "test" / "data" / "captioner_tiny"


def test_a_captioner_folder_adds_its_caption_to_the_scene(harnesses):
    pytest.importorskip("tokenizers", reason="the captioner needs tokenizers")
    from face_perception.core.scene.captioner import ImageCaptioner

    scene = labeled_photo(STANDING_MAN)
    assert scene.image.shape == (480, 640, 3)
    overrides = {"faces.source": "none", "captioner.model_dir": str(CAPTIONER_FIXTURE), "captioner.beam_size": 2}
    harness = harnesses([(scene, "standing")], overrides)
    harness.start()
    result = harness.send(scene.image, 1.0)
    expected = ImageCaptioner.from_folder(CAPTIONER_FIXTURE, beam_size=2).caption(scene.image)
    assert result.caption and result.caption == expected
    assert result.description.startswith("A person is standing next to a car.")
    assert result.description.endswith(f"({expected.strip().rstrip('.')})")


def test_a_captioner_folder_that_cannot_be_loaded_is_refused_naming_it(harnesses, tmp_path):
    broken = tmp_path / "captioner"
    shutil.copytree(CAPTIONER_FIXTURE, broken)
    (broken / "tokenizer.json").unlink()
    scene = labeled_photo(STANDING_MAN)
    harness = harnesses([(scene, "standing")], {"faces.source": "none", "captioner.model_dir": str(broken)})
    assert harness.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert harness.node.analyzer is None

    executable = ROOT / "install" / "face_perception" / "lib" / "face_perception" / "scene_node"
    if not executable.exists():
        pytest.skip("package not built (run scripts/setup_env.sh)")
    missing = tmp_path / "no_such_captioner"
    args = ["--ros-args", "-r", "__ns:=/captioner_test", "-p", "faces.source:=none"]
    done = subprocess.run(
        [sys.executable, str(executable), *args, "-p", f"captioner.model_dir:={missing}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    output = done.stderr + done.stdout
    assert done.returncode != 0 and str(missing) in output and "Traceback" not in output
