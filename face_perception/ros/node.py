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
import time

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from face_perception.core.errors import FacePerceptionError
from face_perception.core.images import as_bgr
from face_perception.core.pipeline import FacePipeline
from face_perception.core.tracker import EventType, FaceEvent, FaceTracker, TrackedFace
from face_perception.core.types import FaceResult
from face_perception.core.viz import draw_faces
from face_perception.msg import FaceArray
from face_perception.msg import FaceEvent as FaceEventMsg
from face_perception.ros.camera import CameraMsg, CameraSubscription, LatestFrameWorker, decode
from face_perception.ros.conversions import bgr_to_image, event_to_msg, face_to_msg, frame_to_msg
from face_perception.ros.diagnostics import FrameStats, publish_status
from face_perception.ros.hri import FaceTopics, load_hri_msgs
from face_perception.ros.identity_services import IdentityServices
from face_perception.ros.managed import ManagedNode, StartError, run
from face_perception.ros.params import declare_and_read

RESULT_QOS_DEPTH = 10
STAMP_WARNING_PERIOD_S = 10.0  # stamps that keep going backwards (shuffled or looping input) warn this often

__all__ = ["FacePerceptionNode", "StartError", "main"]


class FacePerceptionNode(ManagedNode):
    """Subscribes ``image`` (or ``image/compressed``); publishes ``faces``, ``face_events``, ``debug/image``
    and, with ``hri.enabled``, the REP-155 ``/humans/faces/...`` topics (``face_perception.ros.hri``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("face_perception", **kwargs)
        self.pipeline_config, self.config = declare_and_read(self)
        self.warn_unknown_parameters()
        self.pipeline: FacePipeline | None = None
        self.tracker: FaceTracker | None = None
        self.stats = FrameStats()
        self._ids = itertools.count(1)
        self.tracker_restarts = 0  # times stamps went backwards and the tracker started over
        self.stamp_warnings = 0  # warnings logged about it (throttled to one per STAMP_WARNING_PERIOD_S)
        self._last_stamp_warning = -math.inf
        self.worker = LatestFrameWorker(self, "face_perception_worker", self.stats, self._process)
        self.camera = CameraSubscription(self, self.config, self.worker.offer)
        self.faces_pub = self.events_pub = self.debug_pub = None
        self.hri: FaceTopics | None = None  # the REP-155 topics, with hri.enabled
        # Diagnostics run in every state, so a monitor sees an unconfigured or inactive node too.
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.identity_services = IdentityServices(self, self._identifier)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics)

    # --- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            hri_msgs = load_hri_msgs() if self.config.hri_enabled else None
            pipeline = FacePipeline(self.pipeline_config)
        except FacePerceptionError as error:  # HriUnavailableError among them
            return self._refuse("configure", error)
        self.pipeline = pipeline
        self.hri = FaceTopics(self, hri_msgs) if hri_msgs is not None else None
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
        self.worker.start()
        self.camera.subscribe()
        self.get_logger().info(
            f"active: listening on {self.camera.topic_name} ({self.config.qos_reliability}, depth "
            f"{self.config.qos_depth})"
        )
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_receiving()  # the camera first, then the publishers
        if self.hri is not None:  # no track is followed while inactive
            self.hri.clear(Header(stamp=self.get_clock().now().to_msg()))
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

    def _stop_receiving(self) -> None:
        """Unsubscribe from the camera and stop the worker after its current frame."""
        self.camera.unsubscribe()
        self.worker.stop()
        self.identity_services.cancel("the node stopped processing frames")

    def _identifier(self):
        """The pipeline's face identifier while configured with identity.gallery, else None."""
        pipeline = self.pipeline
        return None if pipeline is None else pipeline.identifier

    def _release(self) -> None:
        for publisher in (self.faces_pub, self.events_pub, self.debug_pub):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        self.faces_pub = self.events_pub = self.debug_pub = None
        if self.hri is not None:
            self.hri.close()
            self.hri = None
        self.identity_services.cancel("the node stopped processing frames")
        identifier = self._identifier()
        if identifier is not None and identifier.gallery is not None:
            identifier.gallery.close()
        self.pipeline = None  # the ONNX Runtime sessions go with it
        self.tracker = None

    # --- frames ----------------------------------------------------------------------------

    def _process(self, msg: CameraMsg) -> None:
        image = decode(msg, self.pipeline_config.max_image_side_px)
        result = self.pipeline.process(image)
        if self.tracker is None:
            result = self.pipeline.identify(image, result)
            shown = [(face, face, next(self._ids), 0.0) for face in result.faces]
            events = []
        else:
            tracked, events = self._track(result.faces, msg.header, image)
            shown = [(t.raw, t.smoothed, t.track_id, t.age_s) for t in tracked]
        if self.identity_services.enrolling:
            bgr = as_bgr(image, self.pipeline_config.max_image_side_px)
            self.identity_services.offer(bgr, [(face_id, raw) for raw, _, face_id, _ in shown])
        faces = [face_to_msg(raw, smoothed, face_id, age_s) for raw, smoothed, face_id, age_s in shown]
        self.faces_pub.publish(frame_to_msg(result, msg.header, faces))
        for event in events:
            self.events_pub.publish(event_to_msg(event, msg.header))
        if self.hri is not None:
            self.hri.publish(msg.header, image, self.tracker.active_track_ids, [(s[2], s[1]) for s in shown])
            for event in events:  # a track named by identity: REP-155's face-to-person candidate match
                if event.type == EventType.RECOGNIZED:
                    self.hri.publish_candidate_match(event.track_id, event.identity, 1.0 - event.identity_distance)
        self.stats.on_processed(result.latency_s)
        if self.config.publish_debug_image and self.debug_pub.get_subscription_count() > 0:
            drawn = draw_faces(image, [s[1] for s in shown], [s[2] for s in shown])
            self.debug_pub.publish(bgr_to_image(drawn, msg.header))

    def _track(self, faces: list[FaceResult], header: Header, image) -> tuple[list[TrackedFace], list[FaceEvent]]:
        """Update the tracker with the frame's header time; a jump back in time (a replay loop) restarts it.

        With identity on, the tracks due an embedding are named from ``image``.
        """
        stamp_s = header.stamp.sec + 1e-9 * header.stamp.nanosec
        identify = self.pipeline.identify_tracks(image)
        every = self.pipeline_config.identity.every_n_frames
        tracked, events, restarted = self.tracker.update_or_restart(faces, stamp_s, identify, every)
        if restarted:
            self.tracker_restarts += 1
            self.pipeline.reset()  # no face carried over from before the jump (detector.full_frame_every)
            # Throttled per node (rclpy's throttle is per call site, shared by every node of the process).
            now = time.monotonic()
            if now - self._last_stamp_warning >= STAMP_WARNING_PERIOD_S:
                self._last_stamp_warning = now
                self.stamp_warnings += 1
                self.get_logger().warning(
                    f"image stamps went backwards: tracks restarted ({self.tracker_restarts} times so far)"
                )
        return tracked, events

    def _publish_diagnostics(self) -> None:
        status = self.stats.status(
            f"{self.get_name()}: face pipeline",
            self.get_fully_qualified_name(),
            self.config.stale_after_s,
            self.camera.topic_name,
            self.camera.publisher_count,
        )
        publish_status(self, self.diagnostics_pub, self.with_lifecycle(status))

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


def main(args: list[str] | None = None) -> int:
    """Run the node until shutdown. Returns the exit code: 0 after a requested shutdown (SIGINT,
    SIGTERM), 1 with a clear message when it cannot start."""
    return run(FacePerceptionNode, "face_perception", args)


if __name__ == "__main__":
    sys.exit(main())
