"""Drive the real face_perception node over DDS from this process and measure how it keeps up.

Starts the node as its own process (``python -m face_perception.ros.node``, reliable image QoS),
publishes 640x480 bgr8 frames with faces at each ``--fps`` for ``--seconds`` with a reliable
publisher, and reports: frames published, received by the node and processed (FaceArrays back),
latency from the publish stamp to the FaceArray's receipt (p50, p99), the pipeline's time per
frame (``processing_time_s``) and the node process's CPU use (share of one core, and CPU ms per processed frame: on a shared
machine the wall-clock numbers include time other processes held the cores, the CPU time does not).

Frames: the blended set (``face-perception bench --blended .data/blended`` builds it), each photo
held for ``--hold`` frames while the view pans 2 px per frame, so tracks live about a second.

    source scripts/ros_env.sh && python scripts/bench_node.py --fps 10 30 --seconds 20

Run it with your own ROS_DOMAIN_ID; discovery stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from face_perception.core.images import list_images
from face_perception.evaluation.blended import LabeledFrame, panning_sequence, read_labeled_folder
from face_perception.msg import FaceArray

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 640, 480
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def make_frames(folder: Path, count: int, hold: int) -> list[bytes]:
    """``count`` bgr8 640x480 frames: each photo of ``folder`` held ``hold`` frames, panning 2 px a frame."""
    photos = read_labeled_folder(folder) or [LabeledFrame(p, np.empty((0, 4))) for p in list_images([folder])]
    if not photos:
        raise SystemExit(f"no images in {folder}; build them with: face-perception bench --blended {folder}")
    return [frame.image.tobytes() for frame in panning_sequence(photos, count, hold)]


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Driver(Node):
    """Publishes frames and collects the FaceArrays and diagnostics that come back."""

    def __init__(self, prefix: str) -> None:
        super().__init__("bench_driver")
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, f"{prefix}/image", reliable)
        self.create_subscription(FaceArray, f"{prefix}/faces", self._on_faces, reliable)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.lock = threading.Lock()
        self.latencies_s: list[float] = []
        self.processing_s: list[float] = []
        self.faces = 0
        self.diagnostics: dict[str, str] = {}

    def _on_faces(self, msg: FaceArray) -> None:
        now = self.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        with self.lock:
            self.latencies_s.append((now - stamp) / 1e9)
            self.processing_s.append(msg.processing_time_s)
            self.faces += len(msg.faces)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("face_perception"):
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}

    def reset(self) -> None:
        with self.lock:
            self.latencies_s, self.processing_s, self.faces = [], [], 0

    def publish(self, data: bytes) -> None:
        msg = Image()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "camera"
        msg.height, msg.width, msg.encoding, msg.step = HEIGHT, WIDTH, "bgr8", WIDTH * 3
        msg.data = data
        self.image_pub.publish(msg)


SHOWN_PARAMETERS = ("detector.model", "detector.full_frame_every", "age.model", "eyeglasses.model", "qos.reliability")


def node_settings(driver: Driver) -> dict[str, str]:
    """The parameters the node runs with, asked from the node itself."""
    client = AsyncParameterClient(driver, "/face_perception")
    if not client.wait_for_services(timeout_sec=10.0):
        return {}
    future = client.get_parameters(list(SHOWN_PARAMETERS))
    deadline = time.monotonic() + 10.0
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not future.done():
        return {}
    values = [parameter_value_to_python(v) for v in future.result().values]
    return dict(zip(SHOWN_PARAMETERS, values, strict=True))


def run_rate(driver: Driver, node_pid: int, frames: list[bytes], fps: float, seconds: float) -> dict:
    """Publish at ``fps`` for ``seconds`` and summarize what came back."""
    period = 1.0 / fps
    for data in frames[: int(fps)]:  # one second of warm-up, not counted
        driver.publish(data)
        time.sleep(period)
    time.sleep(1.0)
    received_before = int(driver.diagnostics.get("frames_received", 0))
    driver.reset()
    cpu_start, wall_start = process_cpu_s(node_pid), time.monotonic()
    count = int(round(fps * seconds))
    next_time = time.monotonic()
    for index in range(count):
        driver.publish(frames[index % len(frames)])
        next_time += period
        time.sleep(max(0.0, next_time - time.monotonic()))
    wall = time.monotonic() - wall_start
    cpu = process_cpu_s(node_pid) - cpu_start
    time.sleep(1.5)  # the last results and a diagnostics message come in
    with driver.lock:
        latencies = np.array(driver.latencies_s) * 1000.0
        processing = np.array(driver.processing_s) * 1000.0
        received = int(driver.diagnostics.get("frames_received", 0)) - received_before
        faces = driver.faces
    processed = len(latencies)
    return {
        "fps": fps,
        "published": count,
        "received_by_node": received,
        "processed": processed,
        "processed_pct_of_received": round(100.0 * processed / max(received, 1), 1),
        "processed_pct_of_published": round(100.0 * processed / count, 1),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if processed else None,
        "latency_p99_ms": round(float(np.percentile(latencies, 99)), 1) if processed else None,
        "pipeline_ms_median": round(float(np.median(processing)), 1) if processed else None,
        "faces_per_frame": round(faces / max(processed, 1), 2),
        "node_cpu_pct": round(100.0 * cpu / wall, 1),
        "node_cpu_ms_per_processed_frame": round(1000.0 * cpu / max(processed, 1), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fps", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per rate")
    parser.add_argument("--frames", type=Path, default=ROOT / ".data" / "blended", help="folder of photos")
    parser.add_argument("--hold", type=int, default=30, help="frames per photo (the view pans meanwhile)")
    parser.add_argument("--params-file", type=Path, default=ROOT / "config" / "face_perception.yaml")
    parser.add_argument("-p", "--param", action="append", default=[], help="node parameter override NAME:=VALUE")
    parser.add_argument("--json", action="store_true", help="one JSON object per rate")
    args = parser.parse_args(argv)
    if os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE") != "LOCALHOST":
        raise SystemExit("source scripts/ros_env.sh first (keeps DDS discovery on this machine)")
    frames = make_frames(args.frames, 300, args.hold)
    # Topics under a prefix of their own (remapped, not a namespace: the parameters file names
    # the node "face_perception" and applies only to that name).
    prefix = f"/bench_{os.getpid()}"
    overrides = ["-p", "qos.reliability:=reliable", *[a for p in args.param for a in ("-p", p)]]
    remaps = [a for t in ("image", "faces", "face_events") for a in ("-r", f"{t}:={prefix}/{t}")]
    node = subprocess.Popen(
        [sys.executable, "-m", "face_perception.ros.node", "--ros-args", "--params-file", str(args.params_file),
         *overrides, *remaps],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    rclpy.init()
    driver = Driver(prefix)
    executor = SingleThreadedExecutor()
    executor.add_node(driver)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 60.0
        while driver.image_pub.get_subscription_count() == 0 or driver.count_publishers(f"{prefix}/faces") == 0:
            if node.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the node did not come up:\n{node.stdout.read() if node.stdout else ''}")
            time.sleep(0.1)
        settings = node_settings(driver)
        for fps in args.fps:
            row = {**run_rate(driver, node.pid, frames, fps, args.seconds), **settings}
            if node.poll() is not None:
                output = node.stdout.read() if node.stdout else ""
                raise SystemExit(f"the node exited with code {node.returncode} during the run:\n{output[-3000:]}")
            if args.json:
                sys.stdout.write(json.dumps(row) + "\n")
            else:
                sys.stdout.write(
                    f"{fps:g} FPS: {row['processed']}/{row['received_by_node']} received frames processed "
                    f"({row['processed_pct_of_received']}%; {row['published']} published), latency p50 "
                    f"{row['latency_p50_ms']} ms p99 {row['latency_p99_ms']} ms, pipeline "
                    f"{row['pipeline_ms_median']} ms/frame, {row['faces_per_frame']} faces/frame, "
                    f"node CPU {row['node_cpu_pct']}% ({row['node_cpu_ms_per_processed_frame']} ms per processed frame); "
                    f"{', '.join(f'{k}={row[k]}' for k in SHOWN_PARAMETERS if k in row)}\n"
                )
            sys.stdout.flush()
    finally:
        executor.shutdown()
        driver.destroy_node()
        rclpy.try_shutdown()
        node.terminate()
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
