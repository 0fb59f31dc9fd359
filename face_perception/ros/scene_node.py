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
from collections import OrderedDict
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from face_perception.core.errors import FacePerceptionError
from face_perception.core.pipeline import FacePipeline
from face_perception.core.runtime import ModelStore
from face_perception.core.scene.analyzer import ExternalFaces, PeopleSource, SceneAnalyzer
from face_perception.core.scene.caption_alerts import caption_findings
from face_perception.core.scene.captioner import load_captioner
from face_perception.core.scene.people import PeopleConfig, PeopleFinder
from face_perception.msg import FaceArray, Scene, SceneAlert
from face_perception.ros.camera import CameraMsg, CameraSubscription, LatestFrameWorker, decode
from face_perception.ros.diagnostics import FrameStats, publish_status
from face_perception.ros.hri import BodyTopics, load_hri_msgs
from face_perception.ros.managed import ManagedNode, run
from face_perception.ros.scene_conversions import alert_to_msg, face_from_msg, scene_to_msg
from face_perception.ros.scene_params import declare, read

FACES_KEPT = 64  # faces messages remembered for matching by stamp
PeopleFactory = Callable[[PeopleConfig, ModelStore], PeopleSource]


def _stamp_key(header: Header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


class SceneNode(ManagedNode):
    """Subscribes ``image`` (or ``image/compressed``) and ``faces``; publishes ``scene``, ``scene_alerts`` and,
    with ``hri.enabled``, the REP-155 ``/humans/bodies/...`` topics (``face_perception.ros.hri``)."""

    def __init__(self, people_factory: PeopleFactory | None = None, **kwargs) -> None:
        super().__init__("scene", **kwargs)
        self._people_factory = people_factory or PeopleFinder.from_store
        declare(self)
        self.warn_unknown_parameters()
        self.analyzer: SceneAnalyzer | None = None
        self.stats = FrameStats()
        self.worker: LatestFrameWorker | None = None
        self.camera: CameraSubscription | None = None
        self._faces: OrderedDict[tuple[int, int], FaceArray] = OrderedDict()
        self._faces_arrived = threading.Condition()
        self.faces_sub = None
        self.scene_pub = self.alerts_pub = self.diagnostics_pub = self._diagnostics_timer = None
        self.faces_missed = 0
        self.hri: BodyTopics | None = None  # the REP-155 topics, with hri.enabled

    # -- lifecycle ---------------------------------------------------------------------------

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.scene_config, people_config, self.pipeline_config, self.config = read(self)
            hri_msgs = load_hri_msgs() if self.config.hri_enabled else None
            store = ModelStore(self.pipeline_config.models_dir or None, self.pipeline_config.num_threads)
            people = self._people_factory(people_config, store)
            faces = None
            if self.config.faces_source in ("auto", "pipeline"):
                faces = FacePipeline(self.pipeline_config, store)
            captioner = load_captioner(self.scene_config.captioner, self.pipeline_config.num_threads)
            hazards = caption_findings if captioner is not None else None
            self.analyzer = SceneAnalyzer(self.scene_config, people, faces, captioner, hazards)
        except (FacePerceptionError, ParameterException) as error:
            return self._refuse("configure", error)
        self.worker = LatestFrameWorker(
            self, "scene_worker", self.stats, self._process, 1.0 / self.scene_config.rate_hz
        )
        self.camera = CameraSubscription(self, self.config, self.worker.offer)
        self.scene_pub = self.create_publisher(Scene, "scene", self.config.latched_qos(self.config.scene_depth))
        self.alerts_pub = self.create_publisher(
            SceneAlert, "scene_alerts", self.config.latched_qos(self.config.alerts_depth)
        )
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.hri = BodyTopics(self, hri_msgs) if hri_msgs is not None else None
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
        self.last_transition_error = ""
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.worker.start()  # before the camera, so no first frame is turned away
        self.camera.subscribe()
        if self.config.faces_source in ("auto", "topic"):
            faces_qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=FACES_KEPT, reliability=ReliabilityPolicy.BEST_AVAILABLE
            )
            self.faces_sub = self.create_subscription(FaceArray, "faces", self._on_faces, faces_qos)
        self.get_logger().info(f"active: listening on {self.camera.topic_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        self.camera.unsubscribe()
        if self.faces_sub is not None:
            self.destroy_subscription(self.faces_sub)
        self.faces_sub = None
        if self.hri is not None:  # no body is followed while inactive
            self.hri.clear(Header(stamp=self.get_clock().now().to_msg()))
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
        if self.hri is not None:
            self.hri.close()
            self.hri = None
        for publisher in (self.scene_pub, self.alerts_pub, self.diagnostics_pub):
            if publisher is not None:
                self.destroy_publisher(publisher)
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
        self.scene_pub = self.alerts_pub = self.diagnostics_pub = self._diagnostics_timer = None

    def _stop_worker(self) -> None:
        """Stop the worker after its current frame (a wait for faces ends at once)."""
        if self.worker is None:
            return
        self.worker.request_stop()
        with self._faces_arrived:
            self._faces_arrived.notify_all()
        self.worker.join()

    # -- frames ------------------------------------------------------------------------------

    def _on_faces(self, msg: FaceArray) -> None:
        with self._faces_arrived:
            self._faces[_stamp_key(msg.header)] = msg
            while len(self._faces) > FACES_KEPT:
                self._faces.popitem(last=False)
            self._faces_arrived.notify_all()

    def _faces_for(self, header: Header) -> ExternalFaces | None:
        """The face node's faces for this image; None: find them here with the face pipeline."""
        source = self.config.faces_source
        if source == "none":
            return ExternalFaces([], [])
        if source == "pipeline" or (source == "auto" and self.faces_sub.get_publisher_count() == 0):
            return None
        key = _stamp_key(header)
        worker = self.worker
        with self._faces_arrived:
            self._faces_arrived.wait_for(lambda: key in self._faces or not worker.running, self.config.faces_wait_s)
            msg = self._faces.get(key)
        if msg is None:
            self.faces_missed += 1
            return ExternalFaces([], [])
        return ExternalFaces([face_from_msg(f) for f in msg.faces], [int(f.id) for f in msg.faces])

    def _process(self, msg: CameraMsg) -> None:
        analyzer = self.analyzer
        if analyzer is None:
            return
        image = decode(msg, self.pipeline_config.max_image_side_px)
        stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        result = analyzer.analyze(image, stamp_s, self._faces_for(msg.header))
        self.scene_pub.publish(scene_to_msg(result, msg.header))
        if self.hri is not None:
            live = analyzer.tracker.track_ids
            self.hri.publish(msg.header, result.image_width, result.image_height, live, result.people)
        for alert in result.changed_alerts:
            self.alerts_pub.publish(alert_to_msg(alert, msg.header))
            if alert.active:
                self.get_logger().warning(f"alert {alert.alert_id} {alert.type}: {alert.description}")
            else:
                self.get_logger().info(f"alert {alert.alert_id} {alert.type} cleared")
        self.stats.on_processed(result.latency_s)

    def _publish_diagnostics(self) -> None:
        status = self.stats.status(
            f"{self.get_name()}: scene analysis",
            self.get_fully_qualified_name(),
            self.config.stale_after_s,
            self.camera.topic_name,
            self.camera.publisher_count,
        )
        status.values.append(KeyValue(key="faces_missed", value=str(self.faces_missed)))
        publish_status(self, self.diagnostics_pub, self.with_lifecycle(status))

    def destroy_node(self) -> None:
        self._stop_worker()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node (configured and activated unless ``autostart`` is false); non-zero when it cannot start."""
    return run(SceneNode, "scene", args)


if __name__ == "__main__":
    sys.exit(main())
