"""The face perception node: camera images in, FaceArray (and diagnostics) out.

Frames are handled latest-wins: the subscription callback only parks the newest
message, and one worker thread processes whatever is newest when it is free, so a
slow model never builds a backlog; replaced frames are counted as dropped.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.errors import FacePerceptionError, ImageError
from face_perception.core.pipeline import FacePipeline
from face_perception.core.tracker import FaceEvent, FaceTracker, TrackedFace
from face_perception.core.types import FaceResult
from face_perception.core.viz import draw_faces
from face_perception.msg import FaceArray
from face_perception.msg import FaceEvent as FaceEventMsg
from face_perception.ros.conversions import (
    bgr_to_image,
    compressed_to_bgr,
    event_to_msg,
    face_to_msg,
    frame_to_msg,
    image_to_bgr,
)
from face_perception.ros.diagnostics import FrameStats
from face_perception.ros.params import declare_and_read

RESULT_QOS_DEPTH = 10
STAMP_WARNING_PERIOD_S = 10.0  # stamps that keep going backwards (shuffled or looping input) warn this often


class FacePerceptionNode(Node):
    """Subscribes ``image`` (or ``image/compressed``); publishes ``faces``, ``face_events``, ``debug/image``."""

    def __init__(self, **kwargs) -> None:
        super().__init__("face_perception", **kwargs)
        self.pipeline_config, self.config = declare_and_read(self)
        self.pipeline = FacePipeline(self.pipeline_config)
        tracking = self.pipeline_config.tracking
        self.tracker = FaceTracker(tracking) if tracking.enabled else None
        self.stats = FrameStats()
        self._ids = itertools.count(1)
        self._restarts = 0
        self._pending: Image | CompressedImage | None = None
        self._wake = threading.Condition()
        self._running = True

        self.faces_pub = self.create_publisher(FaceArray, "faces", RESULT_QOS_DEPTH)
        self.events_pub = self.create_publisher(FaceEventMsg, "face_events", RESULT_QOS_DEPTH)
        self.debug_pub = self.create_publisher(Image, "debug/image", 1)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self.config.use_compressed:
            self.image_sub = self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, self.config.image_qos()
            )
        else:
            self.image_sub = self.create_subscription(Image, "image", self._on_image, self.config.image_qos())
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="face_perception_worker", daemon=True)
        self._worker.start()
        heads = ", ".join(self.pipeline.heads) or "none"
        self.get_logger().info(
            f"listening on {self.image_sub.topic_name} ({self.config.qos_reliability}, depth "
            f"{self.config.qos_depth}); heads: {heads}; models: {self.pipeline.store.models_dir}"
        )

    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._wake:
            replaced = self._pending is not None
            self._pending = msg
            self._wake.notify()
        self.stats.on_received(replaced)

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._running and self._pending is None:
                    self._wake.wait()
                if not self._running:
                    return
                msg, self._pending = self._pending, None
            self._process(msg)

    def _process(self, msg: Image | CompressedImage) -> None:
        try:
            limit = self.pipeline_config.max_image_side_px
            decode = compressed_to_bgr if isinstance(msg, CompressedImage) else image_to_bgr
            image = decode(msg, limit)
            result = self.pipeline.process(image)
        except Exception as error:  # a bad frame or a model failure must not end the node
            self._report_failure(msg, error)
            return
        if self.tracker is None:
            shown = [(face, face, next(self._ids), 0.0) for face in result.faces]
            events = []
        else:
            tracked, events = self._track(result.faces, msg.header)
            shown = [(t.raw, t.smoothed, t.track_id, t.age_s) for t in tracked]
        faces = [face_to_msg(raw, smoothed, face_id, age_s) for raw, smoothed, face_id, age_s in shown]
        self.faces_pub.publish(frame_to_msg(result, msg.header, faces))
        for event in events:
            self.events_pub.publish(event_to_msg(event, msg.header))
        self.stats.on_processed(result.latency_s)
        if self.config.publish_debug_image and self.debug_pub.get_subscription_count() > 0:
            drawn = draw_faces(image, [s[1] for s in shown], [s[2] for s in shown])
            self.debug_pub.publish(bgr_to_image(drawn, msg.header))

    def _track(self, faces: list[FaceResult], header: Header) -> tuple[list[TrackedFace], list[FaceEvent]]:
        """Update the tracker with the frame's header time; a jump back in time (a replay loop) restarts it."""
        stamp_s = header.stamp.sec + 1e-9 * header.stamp.nanosec
        tracked, events, restarted = self.tracker.update_or_restart(faces, stamp_s)
        if restarted:
            self._restarts += 1
            self.get_logger().warning(
                f"image stamps went backwards: tracks restarted ({self._restarts} times so far)",
                throttle_duration_sec=STAMP_WARNING_PERIOD_S,
            )
        return tracked, events

    def _report_failure(self, msg: Image | CompressedImage, error: Exception) -> None:
        kind = "bad image" if isinstance(error, ImageError) else type(error).__name__
        text = f"{kind} (stamp {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}): {error}"
        self.stats.on_failed(text)
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    def _publish_diagnostics(self) -> None:
        status = self.stats.status(
            f"{self.get_name()}: face pipeline", self.get_fully_qualified_name(), self.config.stale_after_s
        )
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        self.diagnostics_pub.publish(array)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == "publish_debug_image":
                if parameter.type_ != Parameter.Type.BOOL:
                    return SetParametersResult(successful=False, reason="publish_debug_image must be a bool")
                self.config = dataclasses.replace(self.config, publish_debug_image=parameter.value)
        return SetParametersResult(successful=True)

    def destroy_node(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node until shutdown; exits non-zero with a clear message when it cannot start."""
    rclpy.init(args=args)
    node = None
    try:
        node = FacePerceptionNode()
        rclpy.spin(node)
    except (FacePerceptionError, ParameterException) as error:
        rclpy.logging.get_logger("face_perception").fatal(f"cannot start: {error}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
