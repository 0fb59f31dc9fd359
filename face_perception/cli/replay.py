"""``face-perception replay``: publish a bag's image topics over ROS 2, where ``ros2 bag play`` is missing."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN", help="rosbag2 folder (MCAP or sqlite3)")
    parser.add_argument("--rate", type=float, default=1.0, help="speed factor (2 plays twice as fast)")
    parser.add_argument("--loop", action="store_true", help="start over at the end")
    parser.add_argument("--start-offset", type=float, default=0.0, metavar="S", help="skip the first S seconds")
    parser.add_argument("--topics", nargs="+", help="image topics to publish (default: every image topic)")
    parser.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=5.0,
        metavar="S",
        help="wait up to S seconds for a subscriber before playing",
    )


# Longest wait at the end for subscribers to acknowledge the last messages, seconds.
ACK_TIMEOUT_S = 5.0


def run(args: argparse.Namespace) -> int:
    import time

    import rclpy
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    from face_perception.bags.process import BagBrokenError
    from face_perception.bags.replay import ReplayOptions, replay

    options = ReplayOptions(args.rate, args.loop, args.start_offset).validate()
    types = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage}
    rclpy.init()
    node = rclpy.create_node("face_perception_replay")
    publishers = {}
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

    def publish(topic: str, msgtype: str, data: bytes) -> None:
        if topic not in publishers:
            publishers[topic] = node.create_publisher(types[msgtype], topic, qos)
        publishers[topic].publish(data)  # the bag's CDR bytes, as recorded

    try:
        from face_perception.bags.process import image_connections, open_bag

        reader = open_bag(args.input)
        try:
            for connection in image_connections(reader, args.topics):
                publishers[connection.topic] = node.create_publisher(types[connection.msgtype], connection.topic, qos)
        finally:
            reader.close()
        deadline = time.monotonic() + args.wait_for_subscribers
        while time.monotonic() < deadline and not all(p.get_subscription_count() for p in publishers.values()):
            time.sleep(0.05)
        count = replay(args.input, publish, options, args.topics, keep_going=rclpy.ok)
        # A reliable message still in flight dies with its publisher: let the subscribers have the last ones.
        for publisher in publishers.values():
            publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))
        sys.stdout.write(f"published {count} messages\n")
    except BagBrokenError as error:  # the messages before the damage were published
        logging.getLogger("face_perception").error("%s", error)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
