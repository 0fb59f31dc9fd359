"""The launch file through launch and launch_ros as on a robot (skipped where they are not installed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import wait_until
from face_perception.msg import FaceArray
from helpers import ROOT, real_faces_frames
from lifecycle_msgs.srv import GetState
from rcl_interfaces.srv import GetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from waiting import call_service

from face_perception.ros.conversions import bgr_to_image

pytest.importorskip("launch_ros", reason="launch_ros is not installed (apt ROS 2 has it; the PyPI wheels do not)")

LAUNCH_FILE = ROOT / "launch" / "face_perception.launch.py"
RUNNER = """
import sys
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
arguments = [arg.split(":=", 1) for arg in sys.argv[2:]]
service = LaunchService()
service.include_launch_description(LaunchDescription([
    IncludeLaunchDescription(PythonLaunchDescriptionSource(sys.argv[1]), launch_arguments=arguments)
]))
sys.exit(service.run())
"""


def _launch(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(LAUNCH_FILE), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(2)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture
def peer():
    node = Node("launch_test_peer")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    yield node, executor
    executor.shutdown()
    node.destroy_node()


def _call(executor, client, request):
    return call_service(client, request, timeout_s=60.0, spin=lambda: executor.spin_once(timeout_sec=0.1))


def _publish_until_answered(node, executor, publisher, answers: list, timeout_s: float) -> bool:
    """Publish a real-faces frame (stamped now) until ``answers`` receives something."""
    frame = real_faces_frames(1)[0]

    def answered() -> bool:
        header = Header(frame_id="camera")
        header.stamp = node.get_clock().now().to_msg()
        publisher.publish(bgr_to_image(frame, header))
        executor.spin_once(timeout_sec=0.2)
        return bool(answers)

    return wait_until(answered, timeout_s=timeout_s)


def test_namespaced_launch_with_debug_image_comes_up_active_and_answers(peer, tmp_path):
    node, executor = peer
    params = tmp_path / "params.yaml"
    shipped = (ROOT / "config" / "face_perception.yaml").read_text()
    params.write_text(
        shipped.replace("period_s: 1.0", "period_s: 0.4").replace(
            "publish_debug_image: false", "publish_debug_image: true"
        )
    )
    # debug_image left out: the params file decides
    launched = _launch("namespace:=robot1", "image:=/robot1/camera/image", f"params_file:={params}")
    try:
        get_state = node.create_client(GetState, "/robot1/face_perception/get_state")
        assert _call(executor, get_state, GetState.Request()).current_state.label in ("inactive", "active")
        get_parameters = node.create_client(GetParameters, "/robot1/face_perception/get_parameters")
        reply = _call(
            executor, get_parameters, GetParameters.Request(names=["diagnostics.period_s", "publish_debug_image"])
        )
        assert reply.values[0].double_value == 0.4  # the params file applies under the namespace
        assert reply.values[1].bool_value is True  # publish_debug_image from the params file
        faces: list[FaceArray] = []
        node.create_subscription(FaceArray, "/robot1/faces", faces.append, 10)
        publisher = node.create_publisher(Image, "/robot1/camera/image", 10)
        assert _publish_until_answered(node, executor, publisher, faces, 60), "no FaceArray on /robot1/faces"
        assert _call(executor, get_state, GetState.Request()).current_state.label == "active"
    finally:
        output = _stop(launched)
    assert "Traceback" not in output, output


def test_scene_true_starts_the_scene_node_beside_the_face_node(peer):
    from face_perception.msg import Scene
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    node, executor = peer
    launched = _launch("scene:=true", "namespace:=robot2", "image:=/robot2/camera/image")
    try:
        scene_state = node.create_client(GetState, "/robot2/scene/get_state")
        assert _call(executor, scene_state, GetState.Request()).current_state.label in ("inactive", "active")
        scenes: list[Scene] = []
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        node.create_subscription(Scene, "/robot2/scene", scenes.append, latched)
        publisher = node.create_publisher(Image, "/robot2/camera/image", 10)
        assert _publish_until_answered(node, executor, publisher, scenes, 90), "no Scene on /robot2/scene"
        assert scenes[-1].description and scenes[-1].header.frame_id == "camera"
    finally:
        output = _stop(launched)
    assert "Traceback" not in output, output


def test_a_node_that_cannot_start_is_reported_as_failed(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    models_dir: /nonexistent/models\n")
    launched = _launch(f"params_file:={params}")
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not any("process has died" in line for line in lines):
            line = launched.stdout.readline()  # the launch goes on after the node died, as ros2 launch does
            if not line:
                break
            lines.append(line)
    finally:
        lines.append(_stop(launched))
    output = "".join(lines)
    assert "cannot start" in output and "/nonexistent/models" in output, output
    assert "process has died" in output and "exit code 1" in output, output
    assert "finished cleanly" not in output, output


@pytest.mark.parametrize(
    "argument",
    ["params_file:=/nonexistent/params.yaml", "debug_image:=1", "use_sim_time:=yes", "scene:=on", "log_level:=loud"],
)
def test_bad_argument_values_are_refused_by_launch(argument):
    launched = _launch(argument)
    output, _ = launched.communicate(timeout=120)
    assert launched.returncode != 0, output
    assert argument.split(":=")[0] in output and "valid" in output.lower(), output
    assert "face_perception_node" not in output or "process started" not in output, output
