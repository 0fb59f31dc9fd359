"""The installed executable as a robot runs it: exit codes, start errors, signals under load, and
lifecycle transitions through the lifecycle services (what ``ros2 lifecycle set`` calls)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray
from face_perception.msg import FaceArray
from helpers import ROOT, real_faces_frames
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from waiting import call_service, change_lifecycle_state

from face_perception.ros.conversions import bgr_to_image


def _executable() -> Path:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        path = Path(get_package_prefix("face_perception")) / "lib" / "face_perception" / "face_perception_node"
    except PackageNotFoundError:
        pytest.skip("face_perception is not installed with colcon (run scripts/setup_env.sh)")
    return path


# A namespace of this test process's own: another node called face_perception in the same domain
# (a demo, a neighbour's test) cannot answer in its place.
NS = f"/process_test_{os.getpid()}"


def _start(*ros_args: str, namespace: str = NS) -> subprocess.Popen:
    return subprocess.Popen(
        [str(_executable()), "--ros-args", "-r", f"__ns:={namespace}", *ros_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


@pytest.mark.parametrize(
    ("content", "args", "named"),
    [
        (b"detector: [unclosed", (), "params.yaml"),
        (b"- 1\n- 2\n", (), "params.yaml"),
        (bytes(range(256)) * 4, (), "params.yaml"),
        (None, (), "params.yaml"),
        (None, ("-p", "gender.model:="), "gender.model"),
        (None, ("-p", "detector.score_threshold:=2.0"), "detector.score_threshold"),
        (None, ("-p", "num_threads:=many"), "num_threads"),
        (None, ("-p", "models_dir:=/nonexistent"), "/nonexistent"),
    ],
    ids=["not-yaml", "list", "binary", "missing-file", "empty-value", "out-of-range", "wrong-type", "no-models"],
)
def test_start_errors_exit_non_zero_with_a_clear_message(tmp_path, content, args, named):
    params = tmp_path / "params.yaml"
    if content is not None:
        params.write_bytes(content)
    ros_args = ("--params-file", str(params)) if named == "params.yaml" else args
    child = _start(*ros_args)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 1, stderr
    assert "cannot start" in stderr and named in stderr, stderr
    assert "Traceback" not in stderr, stderr


class _Camera:
    """A test node that streams a real-faces frame at 15 FPS and collects the node's output."""

    def __init__(self, namespace: str = "") -> None:
        self.node = Node("process_test_camera", namespace=namespace)
        self.publisher = self.node.create_publisher(Image, "image", 10)
        self.faces: list[FaceArray] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.node.create_subscription(FaceArray, "faces", self.faces.append, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._frame = real_faces_frames(1)[0]
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()

    def _spin(self) -> None:
        next_frame = time.monotonic()
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.01)
            if time.monotonic() >= next_frame:
                stamp = time.time_ns()
                header = Header(frame_id="camera")
                header.stamp.sec, header.stamp.nanosec = stamp // 10**9, stamp % 10**9
                self.publisher.publish(bgr_to_image(self._frame, header))
                next_frame += 1 / 15

    def state_of(self, node_name: str) -> str | None:
        """The last lifecycle_state the node reported in /diagnostics."""
        for array in reversed(self.diagnostics):
            for status in array.status:
                if status.hardware_id == f"{NS}/{node_name}":
                    return {kv.key: kv.value for kv in status.values}.get("lifecycle_state")
        return None

    def close(self) -> None:
        self._stop.set()
        self._spinner.join(timeout=5)
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def camera():
    made = _Camera(NS)
    yield made
    made.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGTERM])
def test_signal_while_frames_flow_exits_cleanly(camera, signum):
    child = _start("-p", "tracking.enabled:=false")
    try:
        received = len(camera.faces)
        assert wait_until(lambda: len(camera.faces) >= received + 5, timeout_s=60), "no results from the node"
        child.send_signal(signum)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception in thread" not in stderr, stderr


def test_lifecycle_transitions_over_dds(camera):
    child = _start("-p", "autostart:=false", "-p", "tracking.enabled:=false", "-p", "diagnostics.period_s:=0.2")
    node = camera.node
    change = node.create_client(ChangeState, f"{NS}/face_perception/change_state")
    get = node.create_client(GetState, f"{NS}/face_perception/get_state")

    def state() -> str:
        return call_service(get, GetState.Request()).current_state.label

    def transition(transition_id: int, expected: str) -> None:
        change_lifecycle_state(change, get, transition_id, expected)

    try:
        assert state() == "unconfigured"
        assert wait_until(lambda: camera.state_of("face_perception") == "unconfigured")
        time.sleep(1.0)
        assert camera.publisher.get_subscription_count() == 0 and camera.faces == []

        transition(Transition.TRANSITION_CONFIGURE, "inactive")
        assert state() == "inactive"
        assert wait_until(lambda: camera.state_of("face_perception") == "inactive")
        assert camera.publisher.get_subscription_count() == 0

        transition(Transition.TRANSITION_ACTIVATE, "active")
        assert state() == "active"
        assert wait_until(lambda: len(camera.faces) >= 3, timeout_s=30), "no results while active"
        assert any(msg.faces for msg in camera.faces)
        assert wait_until(lambda: camera.state_of("face_perception") == "active")

        transition(Transition.TRANSITION_DEACTIVATE, "inactive")
        assert state() == "inactive"
        assert wait_until(lambda: camera.publisher.get_subscription_count() == 0), "camera still subscribed"
        time.sleep(0.5)
        count = len(camera.faces)
        time.sleep(1.5)
        assert len(camera.faces) == count, "results while inactive"

        transition(Transition.TRANSITION_CLEANUP, "unconfigured")
        assert state() == "unconfigured"
        transition(Transition.TRANSITION_CONFIGURE, "inactive")
        transition(Transition.TRANSITION_ACTIVATE, "active")  # again, after the sessions were freed
        count = len(camera.faces)
        assert wait_until(lambda: len(camera.faces) >= count + 3, timeout_s=30), "no results after reactivation"

        request = ChangeState.Request()
        request.transition.id = Transition.TRANSITION_ACTIVE_SHUTDOWN
        change.call_async(request)  # the node exits: its exit code is the answer
        _, stderr = child.communicate(timeout=30)
        assert child.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_configure_failure_is_reported_and_leaves_the_node_unconfigured(camera):
    child = _start("-p", "autostart:=false", "-p", "models_dir:=/nonexistent", "-p", "diagnostics.period_s:=0.2")
    node = camera.node
    change = node.create_client(ChangeState, f"{NS}/face_perception/change_state")
    try:
        request = ChangeState.Request()
        request.transition.id = Transition.TRANSITION_CONFIGURE
        assert not call_service(change, request).success

        def error_reported() -> bool:
            for array in camera.diagnostics:
                for status in array.status:
                    if status.hardware_id == f"{NS}/face_perception" and "configure failed" in status.message:
                        return status.level == status.ERROR and "/nonexistent" in status.message
            return False

        assert wait_until(error_reported), "configure failure not in /diagnostics"
        assert child.poll() is None  # still up, waiting for a configuration that works
    finally:
        child.terminate()
        child.wait(timeout=30)


def test_namespaced_node_reads_the_shipped_params_file(camera, tmp_path):
    """``-r __ns:=/robot1`` with a params file: the '/**' key applies it wherever the node runs."""
    params = tmp_path / "params.yaml"
    shipped = (ROOT / "config" / "face_perception.yaml").read_text()
    misspelt = "    detecter:\n      score_threshold: 0.9\n"  # a typo is ignored by rcl: the node names it
    params.write_text(shipped.replace("period_s: 1.0", "period_s: 0.3") + misspelt)
    child = _start("--params-file", str(params), "-p", "tracking.enabled:=false", namespace=f"{NS}/robot1")
    node = camera.node
    from rcl_interfaces.srv import GetParameters

    client = node.create_client(GetParameters, f"{NS}/robot1/face_perception/get_parameters")
    try:
        reply = call_service(client, GetParameters.Request(names=["diagnostics.period_s", "qos.reliability"]))
        assert [v.double_value for v in reply.values[:1]] == [0.3]
        assert reply.values[1].string_value == "best_available"
    finally:
        child.terminate()
        _, stderr = child.communicate(timeout=30)
    warnings = [line for line in stderr.splitlines() if "ignored" in line]
    assert len(warnings) == 1, stderr
    assert warnings[0].endswith("ignored (not parameters of this node): detecter.score_threshold")
