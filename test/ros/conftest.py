"""ROS tests: real DDS on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, own domain id)."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest
from waiting import wait_until

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (run scripts/setup_env.sh)")
pytest.importorskip("face_perception.msg", reason="messages not built (run scripts/setup_env.sh)")

from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

# Large images over shared memory, as scripts/ros_env.sh and the launch file set it (unless set already).
LARGE_IMAGES_PROFILE = Path(__file__).resolve().parents[2] / "config" / "fastdds_large_images.xml"
if not (os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE") or os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE")):
    os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(LARGE_IMAGES_PROFILE)


@pytest.fixture(scope="session", autouse=True)
def ros_context():
    rclpy.init()
    yield
    rclpy.try_shutdown()


class Harness:
    """The perception node, taken to active, and a test node spun by one executor in a background thread."""

    def __init__(self, overrides: dict | None = None, namespace: str = "", remap: dict | None = None) -> None:
        from face_perception.ros.node import FacePerceptionNode

        params = [Parameter(k, value=v) for k, v in (overrides or {}).items()]
        cli_args = ["--ros-args", *[arg for a, b in (remap or {}).items() for arg in ("-r", f"{a}:={b}")]]
        self.node = FacePerceptionNode(parameter_overrides=params, namespace=namespace, cli_args=cli_args)
        self.node.start()
        self.peer = Node("test_peer", namespace=namespace)
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def matched(self, publisher) -> bool:
        """``publisher`` and the node's camera subscription see each other (both directions of discovery)."""
        return publisher.get_subscription_count() > 0 and self.node.camera.publisher_count > 0

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.peer.destroy_node()
        self._thread.join(timeout=5)
        # The nodes' handles are finalized when nothing refers to them any more; collect now, so that
        # a later node of the same name does not share (and then lose) this one's /rosout publisher.
        self.node = self.peer = self.executor = None
        gc.collect()


__all__ = ["wait_until"]  # for the tests: from conftest import wait_until


@pytest.fixture
def harness_factory():
    made: list[Harness] = []

    def make(overrides: dict | None = None, namespace: str = "", remap: dict | None = None) -> Harness:
        """A node with the given parameters; tracking is off unless asked for (one frame, one answer)."""
        harness = Harness({"tracking.enabled": False, **(overrides or {})}, namespace, remap)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
