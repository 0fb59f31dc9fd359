"""A camera stand-in for the transport tests, run in its own process:

python frame_sender.py TOPIC IMAGE --fps 30 --seconds 4 --reliability reliable --answer-topic faces

Publishes IMAGE resized to 640x480 as bgr8 sensor_msgs/Image at --fps after a subscriber
matched, and prints ``sent N`` at the end. With --answer-topic, it first sends one frame every
0.2 s until the node answers on that face_perception/FaceArray topic, so that discovery has
completed in both directions before the measured frames; then it prints ``ready``, waits
--settle-s with nothing sent (so the listener can take its count) and sends the measured frames.
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2
import rclpy
from face_perception.msg import FaceArray
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

WARMUP_PERIOD_S = 0.2


def _stamp(msg: Image) -> None:
    stamp = time.time_ns()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("topic")
    parser.add_argument("image")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--reliability", choices=["reliable", "best_effort"], default="reliable")
    parser.add_argument("--answer-topic", default="", help="wait for the node's first answer on this topic")
    parser.add_argument("--settle-s", type=float, default=0.5)
    parser.add_argument("--wait-s", type=float, default=30.0)
    args = parser.parse_args()

    frame = cv2.resize(cv2.imread(args.image, cv2.IMREAD_COLOR), (640, 480))
    rclpy.init()
    node = rclpy.create_node("frame_sender")
    reliability = ReliabilityPolicy.RELIABLE if args.reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=reliability)  # as most camera drivers
    publisher = node.create_publisher(Image, args.topic, qos)
    deadline = time.monotonic() + args.wait_s
    while publisher.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print("no subscriber", file=sys.stderr)
            return 1
        time.sleep(0.05)
    msg = Image(height=480, width=640, encoding="bgr8", step=640 * 3, data=frame.tobytes())
    msg.header.frame_id = "camera"
    if args.answer_topic:
        answers: list[FaceArray] = []
        node.create_subscription(FaceArray, args.answer_topic, answers.append, 10)
        warmup = 0
        while not answers:
            if time.monotonic() > deadline:
                print(f"no answer on {args.answer_topic} to {warmup} frames", file=sys.stderr)
                return 1
            _stamp(msg)
            publisher.publish(msg)
            warmup += 1
            rclpy.spin_once(node, timeout_sec=WARMUP_PERIOD_S)
        time.sleep(args.settle_s)  # the last warm-up frames arrive
        print(f"ready after {warmup} warm-up frames", flush=True)
        time.sleep(args.settle_s)
    else:
        time.sleep(0.5)  # discovery completes in both directions
    count = int(args.fps * args.seconds)
    start = time.monotonic()
    try:
        for index in range(count):
            time.sleep(max(0.0, start + index / args.fps - time.monotonic()))
            _stamp(msg)
            publisher.publish(msg)
    except (KeyboardInterrupt, RuntimeError):
        if rclpy.ok():
            raise
        return 0  # stopped by a signal
    time.sleep(1.0)  # let the last reliable samples be acknowledged
    print(f"sent {count} in {time.monotonic() - start:.2f} s", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
