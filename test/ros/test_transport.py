"""Camera-rate images from another process reach the node: 640x480 bgr8 at 30 FPS, over shared memory.

Fast DDS's default 512 KB shared-memory segment loses most best-effort frames of this size in
transport (before any callback, invisible to /diagnostics). The node's default ``best_available``
reliability fixes it for reliable cameras; config/fastdds_large_images.xml fixes it for best-effort
ones, applied in the sending process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LARGE_IMAGES_PROFILE, wait_until
from helpers import SAMPLES

SENDER = Path(__file__).with_name("frame_sender.py")
FPS, SECONDS, MIN_RECEIVED = 30, 4, 0.97
# What is measured is transport: the node's own work per frame is kept small (a 160 px detector
# pass, no heads), and its subscription keeps up to 100 frames (3.3 s at 30 FPS) until the executor
# takes them, so that a busy machine starving the node's executor cannot pass for lost frames.
CHEAP_PROCESSING = {
    "qos.depth": 100,
    "detector.max_input_side_px": 160,
    **{f"{head}.enabled": False for head in ("emotion", "gender", "age", "eyeglasses")},
}


def _send(topic: str, reliability: str, profile: bool, harness) -> tuple[int, int]:
    """Frames the node received before the measured ones (warm-up until it answered), frames sent after."""
    profile_variables = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
    env = {k: v for k, v in os.environ.items() if k not in profile_variables}
    if profile:
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(LARGE_IMAGES_PROFILE)
    command = [sys.executable, str(SENDER), topic, str(SAMPLES / "astronaut.jpg"), "--fps", str(FPS)]
    command += ["--seconds", str(SECONDS), "--reliability", reliability, "--answer-topic", "faces"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as sender:
        ready = sender.stdout.readline()  # sent after the warm-up frames settled, before the measured ones
        before = harness.node.stats.received
        try:
            out, err = sender.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            sender.kill()
            raise
    assert ready.startswith("ready") and sender.returncode == 0, ready + out + err
    return before, int(out.split()[1])


@pytest.mark.parametrize(
    ("reliability", "profile"),
    [
        ("reliable", False),  # a reliable camera with Fast DDS defaults: best_available resends lost samples
        ("best_effort", True),  # a best-effort camera with the shipped profile
    ],
)
def test_camera_rate_frames_from_another_process_reach_the_node(harness_factory, reliability, profile):
    harness = harness_factory(CHEAP_PROCESSING)
    assert harness.node.config.qos_reliability == "best_available"  # the shipped default
    before, sent = _send("image", reliability, profile, harness)
    assert sent == FPS * SECONDS
    wait_until(lambda: harness.node.stats.received >= before + sent, timeout_s=3.0)
    received = harness.node.stats.received - before
    assert received >= MIN_RECEIVED * sent, f"{received} of {sent} frames received ({reliability}, profile {profile})"
