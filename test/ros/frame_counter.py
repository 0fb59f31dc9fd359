"""Counts the images that arrive on a topic, for transport measurements beside frame_sender.py:

python frame_counter.py TOPIC --seconds 12 --reliability best_available

Prints ``received N`` after --seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

RELIABILITY = {
    "best_available": ReliabilityPolicy.BEST_AVAILABLE,
    "reliable": ReliabilityPolicy.RELIABLE,
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("topic")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--reliability", choices=sorted(RELIABILITY), default="best_available")
    parser.add_argument("--depth", type=int, default=5)
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node("frame_counter")
    count = 0

    def on_image(_: Image) -> None:
        nonlocal count
        count += 1

    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=args.depth, reliability=RELIABILITY[args.reliability])
    node.create_subscription(Image, args.topic, on_image, qos)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(f"received {count}", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
