"""The scene node (managed lifecycle node ``scene``): camera images in, Scene and SceneAlert out.

configure: reads and checks the parameters, loads and verifies the models (sha256) and the
optional captioner folder (``captioner.model_dir``), makes the publishers; activate: subscribes
the camera (and the face node's ``faces``) and starts the worker; deactivate: unsubscribes and
stops it; cleanup: frees the model sessions.
Frames are handled latest-wins, at most ``scene.rate_hz`` per second.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.errors import FacePerceptionError, ImageError
from face_perception.core.pipeline import FacePipeline
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import ExternalFaces, PeopleSource, SceneAnalyzer
from face_perception.core.scene.caption_alerts import caption_findings
from face_perception.core.scene.captioner import load_captioner
from face_perception.core.scene.people import PeopleConfig, PeopleFinder
from face_perception.msg import FaceArray, Scene, SceneAlert
from face_perception.ros.conversions import compressed_to_bgr, image_to_bgr
from face_perception.ros.diagnostics import FrameStats
from face_perception.ros.scene_conversions import alert_to_msg, face_from_msg, scene_to_msg
from face_perception.ros.scene_params import declare, read

FACES_KEPT = 64  # faces messages remembered for matching by stamp
PeopleFactory = Callable[[PeopleConfig, ModelStore], PeopleSource]


def _stamp_key(header: Header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


class SceneNode(LifecycleNode):
    """Subscribes ``image`` (or ``image/compressed``) and ``faces``; publishes ``scene`` and ``scene_alerts``."""

    def __init__(self, people_factory: PeopleFactory | None = None, **kwargs) -> None:
        super().__init__("scene", **kwargs)
        self._people_factory = people_factory or PeopleFinder.from_store
        self.declare_parameter(
            "autostart",
            True,
            ParameterDescriptor(
                description="The executable configures and activates the node itself; false: wait for lifecycle "
                "transitions.",
                read_only=True,
            ),
        )
        declare(self)
        self.analyzer: SceneAnalyzer | None = None
        self.stats = FrameStats()
        self._pending: Image | CompressedImage | None = None
        self._wake = threading.Condition()
        self._faces: OrderedDict[tuple[int, int], FaceArray] = OrderedDict()
        self._faces_arrived = threading.Condition()
        self._running = False
        self._worker: threading.Thread | None = None
        self.image_sub = self.faces_sub = None
        self.scene_pub = self.alerts_pub = self.diagnostics_pub = self._diagnostics_timer = None
        self.faces_missed = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.scene_config, people_config, self.pipeline_config, self.config = read(self)
            store = ModelStore(self.pipeline_config.models_dir or None, self.pipeline_config.num_threads)
            people = self._people_factory(people_config, store)
            faces = None
            if self.config.faces_source in ("auto", "pipeline"):
                faces = FacePipeline(self.pipeline_config, store)
            captioner = load_captioner(self.scene_config.captioner, self.pipeline_config.num_threads)
            hazards = caption_findings if captioner is not None else None
            self.analyzer = SceneAnalyzer(self.scene_config, people, faces, captioner, hazards)
        except (FacePerceptionError, ParameterException) as error:
            self.get_logger().error(f"cannot configure: {error}")
            return TransitionCallbackReturn.FAILURE
        self.scene_pub = self.create_publisher(Scene, "scene", self.config.latched_qos(self.config.scene_depth))
        self.alerts_pub = self.create_publisher(
            SceneAlert, "scene_alerts", self.config.latched_qos(self.config.alerts_depth)
        )
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics)
        captioning = self.scene_config.captioner
        with_captions = (
            f", captions from {captioning.model_dir} at most every {captioning.period_s:g} s"
            if captioning.enabled
            else ""
        )
        self.get_logger().info(
            f"configured: faces from {self.config.faces_source}, at most {self.scene_config.rate_hz:g} Hz"
            + with_captions
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        if self.config.use_compressed:
            self.image_sub = self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, self.config.image_qos()
            )
        else:
            self.image_sub = self.create_subscription(Image, "image", self._on_image, self.config.image_qos())
        if self.config.faces_source in ("auto", "topic"):
            faces_qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=FACES_KEPT, reliability=ReliabilityPolicy.BEST_AVAILABLE
            )
            self.faces_sub = self.create_subscription(FaceArray, "faces", self._on_faces, faces_qos)
        self._running = True
        self._worker = threading.Thread(target=self._work, name="scene_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"active: listening on {self.image_sub.topic_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        for subscription in (self.image_sub, self.faces_sub):
            if subscription is not None:
                self.destroy_subscription(subscription)
        self.image_sub = self.faces_sub = None
        with self._wake:
            self._pending = None
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        """Free the model sessions and the publishers."""
        self.analyzer = None
        for publisher in (self.scene_pub, self.alerts_pub, self.diagnostics_pub):
            if publisher is not None:
                self.destroy_publisher(publisher)
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
        self.scene_pub = self.alerts_pub = self.diagnostics_pub = self._diagnostics_timer = None

    def _stop_worker(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        with self._faces_arrived:
            self._faces_arrived.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
        self._worker = None

    # -- frames ------------------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._wake:
            replaced = self._pending is not None
            self._pending = msg
            self._wake.notify()
        self.stats.on_received(replaced)

    def _on_faces(self, msg: FaceArray) -> None:
        with self._faces_arrived:
            self._faces[_stamp_key(msg.header)] = msg
            while len(self._faces) > FACES_KEPT:
                self._faces.popitem(last=False)
            self._faces_arrived.notify_all()

    def _work(self) -> None:
        period_s = 1.0 / self.scene_config.rate_hz
        while True:
            with self._wake:
                while self._running and self._pending is None:
                    self._wake.wait()
                if not self._running:
                    return
                msg, self._pending = self._pending, None
            began = time.monotonic()
            self._process(msg)
            with self._wake:  # at most rate_hz: wait out the period (a stop ends the wait)
                self._wake.wait_for(lambda: not self._running, timeout=max(0.0, began + period_s - time.monotonic()))

    def _faces_for(self, header: Header) -> ExternalFaces | None:
        """The face node's faces for this image; None: find them here with the face pipeline."""
        source = self.config.faces_source
        if source == "none":
            return ExternalFaces([], [])
        if source == "pipeline" or (source == "auto" and self.faces_sub.get_publisher_count() == 0):
            return None
        key = _stamp_key(header)
        with self._faces_arrived:
            self._faces_arrived.wait_for(lambda: key in self._faces or not self._running, self.config.faces_wait_s)
            msg = self._faces.get(key)
        if msg is None:
            self.faces_missed += 1
            return ExternalFaces([], [])
        return ExternalFaces([face_from_msg(f) for f in msg.faces], [int(f.id) for f in msg.faces])

    def _process(self, msg: Image | CompressedImage) -> None:
        analyzer = self.analyzer
        if analyzer is None:
            return
        try:
            limit = self.pipeline_config.max_image_side_px
            decode = compressed_to_bgr if isinstance(msg, CompressedImage) else image_to_bgr
            image = decode(msg, limit)
            stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            result = analyzer.analyze(image, stamp_s, self._faces_for(msg.header))
        except Exception as error:  # a bad frame or a model failure must not end the node
            kind = "bad image" if isinstance(error, ImageError) else type(error).__name__
            text = f"{kind} (stamp {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}): {error}"
            self.stats.on_failed(text)
            self.get_logger().warning(text, throttle_duration_sec=2.0)
            return
        self.scene_pub.publish(scene_to_msg(result, msg.header))
        for alert in result.changed_alerts:
            self.alerts_pub.publish(alert_to_msg(alert, msg.header))
            if alert.active:
                self.get_logger().warning(f"alert {alert.alert_id} {alert.type}: {alert.description}")
            else:
                self.get_logger().info(f"alert {alert.alert_id} {alert.type} cleared")
        self.stats.on_processed(result.latency_s)

    def _publish_diagnostics(self) -> None:
        status = self.stats.status(
            f"{self.get_name()}: scene analysis", self.get_fully_qualified_name(), self.config.stale_after_s
        )
        status.values.append(KeyValue(key="faces_missed", value=str(self.faces_missed)))
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        self.diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    """Run the node (configured and activated unless ``autostart`` is false); non-zero when it cannot start."""
    rclpy.init(args=args)
    node = None
    try:
        node = SceneNode()
        if node.get_parameter("autostart").value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                rclpy.logging.get_logger("scene").fatal("cannot start: configuration failed (see above)")
                return 1
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                rclpy.logging.get_logger("scene").fatal("cannot start: activation failed")
                return 1
        rclpy.spin(node)
    except (FacePerceptionError, ParameterException) as error:
        rclpy.logging.get_logger("scene").fatal(f"cannot start: {error}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node._stop_worker()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
