"""The face perception node: camera images in, FaceArray (and diagnostics) out.

A managed lifecycle node (``ros2 lifecycle``): *configure* loads and verifies the models,
*activate* subscribes to the camera and starts processing, *deactivate* unsubscribes (no
camera traffic, idle CPU), *cleanup* frees the model sessions. With ``autostart`` (the default)
``main`` takes it to active at start. Parameters are declared and checked at construction, so a
bad value stops the process before anything is loaded.

Frames are handled latest-wins: the subscription callback only parks the newest message, and
one worker thread processes whatever is newest when it is free, so a slow model never builds a
backlog; replaced frames are counted as dropped.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.errors import ConfigError, FacePerceptionError, ImageError
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
from face_perception.ros.params import check_ros_arguments, declare_and_read

RESULT_QOS_DEPTH = 10
STAMP_WARNING_PERIOD_S = 10.0  # stamps that keep going backwards (shuffled or looping input) warn this often
WORKER_JOIN_TIMEOUT_S = 10.0


class StartError(FacePerceptionError):
    """The node could not be taken to active at start."""


class FacePerceptionNode(LifecycleNode):
    """Subscribes ``image`` (or ``image/compressed``); publishes ``faces``, ``face_events``, ``debug/image``."""

    def __init__(self, **kwargs) -> None:
        super().__init__("face_perception", **kwargs)
        self.pipeline_config, self.config = declare_and_read(self)
        self.pipeline: FacePipeline | None = None
        self.tracker: FaceTracker | None = None
        self.stats = FrameStats()
        self.last_transition_error = ""
        self._ids = itertools.count(1)
        self._restarts = 0
        self._last_stamp_warning = -math.inf
        self._pending: Image | CompressedImage | None = None
        self._wake = threading.Condition()
        self._running = False
        self._worker: threading.Thread | None = None
        self.image_sub = None
        self._resubscribe_timer = None
        self.faces_pub = self.events_pub = self.debug_pub = None
        # Diagnostics run in every state, so a monitor sees an unconfigured or inactive node too.
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics)

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The lifecycle state's label: unconfigured, inactive, active, finalized (or a transition)."""
        return self._state_machine.current_state[1]

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            pipeline = FacePipeline(self.pipeline_config)
        except FacePerceptionError as error:
            return self._refuse("configure", error)
        self.pipeline = pipeline
        tracking = self.pipeline_config.tracking
        self.tracker = FaceTracker(tracking) if tracking.enabled else None
        self.faces_pub = self.create_lifecycle_publisher(FaceArray, "faces", RESULT_QOS_DEPTH)
        self.events_pub = self.create_lifecycle_publisher(FaceEventMsg, "face_events", RESULT_QOS_DEPTH)
        self.debug_pub = self.create_lifecycle_publisher(Image, "debug/image", 1)
        heads = ", ".join(self.pipeline.heads) or "none"
        self.get_logger().info(f"configured; heads: {heads}; models: {self.pipeline.store.models_dir}")
        self.last_transition_error = ""
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # the publishers first, so no result is dropped
        self._start_worker()
        self._subscribe()
        self.get_logger().info(
            f"active: listening on {self.image_sub.topic_name} ({self.config.qos_reliability}, depth "
            f"{self.config.qos_depth})"
        )
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_receiving()  # the camera first, then the publishers
        self.get_logger().info("inactive: camera unsubscribed")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("cleaned up: model sessions freed")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_receiving()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_receiving()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def start(self) -> None:
        """Configure and activate (what ``autostart`` does).

        Raises:
            StartError: a transition failed; the message says why.
        """
        for name, trigger in (("configure", self.trigger_configure), ("activate", self.trigger_activate)):
            if trigger() != TransitionCallbackReturn.SUCCESS:
                raise StartError(self.last_transition_error or f"{name} failed (state {self.state})")

    def _refuse(self, transition: str, error: Exception) -> TransitionCallbackReturn:
        self.last_transition_error = f"{transition} failed: {error}"
        self.get_logger().error(self.last_transition_error)
        return TransitionCallbackReturn.FAILURE

    def _subscribe(self) -> None:
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)
        msg_type, topic = (CompressedImage, "image/compressed") if self.config.use_compressed else (Image, "image")
        self.image_sub = self.create_subscription(
            msg_type, topic, self._on_image, self.config.image_qos(), event_callbacks=events
        )

    def _on_incompatible_qos(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        """best_available picks reliable when no camera publishes yet; a best-effort camera that starts
        later cannot match it. Subscribe again, so the choice is made anew with that camera in view."""
        if self.config.qos_reliability != "best_available" or self._resubscribe_timer is not None:
            if self.config.qos_reliability != "best_available":
                self.get_logger().warning(
                    f"a publisher on {self.image_sub.topic_name} has incompatible QoS (policy {info.last_policy_kind})",
                    throttle_duration_sec=10.0,
                )
            return
        self._resubscribe_timer = self.create_timer(0.0, self._resubscribe)

    def _resubscribe(self) -> None:
        self.destroy_timer(self._resubscribe_timer)
        self._resubscribe_timer = None
        if self.image_sub is None:
            return  # deactivated meanwhile
        self.destroy_subscription(self.image_sub)
        self._subscribe()
        self.get_logger().info(f"a best-effort publisher appeared: {self.image_sub.topic_name} subscribed again")

    def _start_worker(self) -> None:
        with self._wake:
            self._running = True
            self._pending = None
        self._worker = threading.Thread(target=self._work, name="face_perception_worker", daemon=True)
        self._worker.start()

    def _stop_receiving(self) -> None:
        """Unsubscribe from the camera and stop the worker after its current frame."""
        if self.image_sub is not None:
            self.destroy_subscription(self.image_sub)
            self.image_sub = None
        with self._wake:
            self._running = False
            self._pending = None
            self._wake.notify_all()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=WORKER_JOIN_TIMEOUT_S)

    def _release(self) -> None:
        for publisher in (self.faces_pub, self.events_pub, self.debug_pub):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        self.faces_pub = self.events_pub = self.debug_pub = None
        self.pipeline = None  # the ONNX Runtime sessions go with it
        self.tracker = None

    # --- frames ----------------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._wake:
            if not self._running:
                return
            replaced = self._pending is not None
            self._pending = msg
            self._wake.notify()
        self.stats.on_received(replaced)

    def _next_frame(self) -> Image | CompressedImage | None:
        """The newest parked frame; None when the worker is to stop."""
        with self._wake:
            while self._running and self._pending is None:
                self._wake.wait()
            if not self._running:
                return None
            msg, self._pending = self._pending, None
            return msg

    def _work(self) -> None:
        """Process frames until stopped; no error in one frame ends the loop."""
        while (msg := self._next_frame()) is not None:
            try:
                self._process(msg)
            except Exception as error:  # noqa: BLE001 - a failing frame or publish must not end the worker
                if not self.context.ok():
                    return  # shutting down: publishers are gone with the context
                self._report_failure(msg, error)

    def _process(self, msg: Image | CompressedImage) -> None:
        limit = self.pipeline_config.max_image_side_px
        decode = compressed_to_bgr if isinstance(msg, CompressedImage) else image_to_bgr
        image = decode(msg, limit)
        result = self.pipeline.process(image)
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
            self.pipeline.reset()  # no face carried over from before the jump (detector.full_frame_every)
            # Throttled per node (rclpy's throttle is per call site, shared by every node of the process).
            now = time.monotonic()
            if now - self._last_stamp_warning >= STAMP_WARNING_PERIOD_S:
                self._last_stamp_warning = now
                self.get_logger().warning(
                    f"image stamps went backwards: tracks restarted ({self._restarts} times so far)"
                )
        return tracked, events

    def _report_failure(self, msg: Image | CompressedImage, error: Exception) -> None:
        kind = "bad image" if isinstance(error, ImageError) else f"{type(error).__name__} while processing"
        text = f"{kind} (stamp {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}): {error}"
        self.stats.on_failed(text)
        self.get_logger().warning(text, throttle_duration_sec=2.0)

    def _publish_diagnostics(self) -> None:
        state = self.state
        status = self.stats.status(
            f"{self.get_name()}: face pipeline", self.get_fully_qualified_name(), self.config.stale_after_s
        )
        status.values.insert(0, KeyValue(key="lifecycle_state", value=state))
        if state != "active":
            # Not processing on purpose: no stale-camera warning; a failed transition is an error.
            failed = bool(self.last_transition_error)
            status.level = DiagnosticStatus.ERROR if failed else DiagnosticStatus.OK
            status.message = self.last_transition_error if failed else f"{state}: not processing images"
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        try:
            self.diagnostics_pub.publish(array)
        except Exception:  # noqa: BLE001 - the context can end between the timer firing and the publish
            if self.context.ok():
                raise

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == "publish_debug_image":
                if parameter.type_ != Parameter.Type.BOOL:
                    return SetParametersResult(successful=False, reason="publish_debug_image must be a bool")
                self.config = dataclasses.replace(self.config, publish_debug_image=parameter.value)
        return SetParametersResult(successful=True)

    def destroy_node(self) -> None:
        self._stop_receiving()
        super().destroy_node()


def _fatal(text: str) -> int:
    rclpy.logging.get_logger("face_perception").fatal(f"cannot start: {text}")
    return 1


def main(args: list[str] | None = None) -> int:
    """Run the node until shutdown. Returns the exit code: 0 after a requested shutdown (SIGINT,
    SIGTERM), 1 with a clear message when it cannot start."""
    argv = sys.argv if args is None else args
    try:
        check_ros_arguments(argv)
        rclpy.init(args=argv)
    except ConfigError as error:
        return _fatal(str(error))
    except RuntimeError as error:  # rclpy's RCLError: arguments rcl could not parse
        return _fatal(f"invalid ROS arguments: {str(error).strip()}")
    node = None
    try:
        node = FacePerceptionNode()
        if node.config.autostart:
            node.start()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while node.state != "finalized":  # `ros2 lifecycle set ... shutdown` ends the process
            executor.spin_once(timeout_sec=0.5)
    except (FacePerceptionError, ParameterException) as error:
        return _fatal(str(error))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # A signal ended the context while spin was waiting: a requested shutdown, not a failure.
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
