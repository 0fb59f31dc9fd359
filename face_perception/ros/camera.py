"""What both nodes do with the camera: the image subscription and the latest-wins worker.

``CameraSubscription`` subscribes ``image`` (or ``image/compressed``) with the QoS from the
parameters; with ``best_available`` it subscribes again when a best-effort camera appears later.
``LatestFrameWorker`` parks only the newest frame and processes it on one thread, so a slow model
never builds a backlog; replaced frames are counted as dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CompressedImage, Image

from face_perception.core.errors import ImageError
from face_perception.ros.conversions import compressed_to_bgr, image_to_bgr
from face_perception.ros.diagnostics import FrameStats

CameraMsg = Image | CompressedImage
WORKER_JOIN_TIMEOUT_S = 10.0


class CameraSettings(Protocol):
    """The node parameters the camera subscription reads."""

    use_compressed: bool
    qos_reliability: str

    def image_qos(self) -> QoSProfile: ...


class CameraSubscription:
    """The node's camera subscription, made from its parameters."""

    def __init__(self, node: Node, settings: CameraSettings, callback: Callable[[CameraMsg], None]) -> None:
        self._node = node
        self._settings = settings
        self._callback = callback
        self._subscription = None
        self._resubscribe_timer = None

    @property
    def topic_name(self) -> str:
        return self._subscription.topic_name if self._subscription is not None else ""

    @property
    def publisher_count(self) -> int:
        """Publishers matched with the subscription now (0 when not subscribed)."""
        return self._subscription.get_publisher_count() if self._subscription is not None else 0

    def subscribe(self) -> None:
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)
        msg_type, topic = (CompressedImage, "image/compressed") if self._settings.use_compressed else (Image, "image")
        self._subscription = self._node.create_subscription(
            msg_type, topic, self._callback, self._settings.image_qos(), event_callbacks=events
        )

    def unsubscribe(self) -> None:
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
            self._subscription = None

    def _on_incompatible_qos(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        """best_available picks reliable when no camera publishes yet; a best-effort camera that starts
        later cannot match it. Subscribe again, so the choice is made anew with that camera in view."""
        if self._settings.qos_reliability != "best_available":
            self._node.get_logger().warning(
                f"a publisher on {self.topic_name} has incompatible QoS (policy {info.last_policy_kind})",
                throttle_duration_sec=10.0,
            )
            return
        if self._resubscribe_timer is None:
            self._resubscribe_timer = self._node.create_timer(0.0, self._resubscribe)

    def _resubscribe(self) -> None:
        self._node.destroy_timer(self._resubscribe_timer)
        self._resubscribe_timer = None
        if self._subscription is None:
            return  # deactivated meanwhile
        self.unsubscribe()
        self.subscribe()
        self._node.get_logger().info(f"a best-effort publisher appeared: {self.topic_name} subscribed again")


class LatestFrameWorker:
    """One thread processing the newest parked frame; at most one frame per ``min_period_s``.

    ``process`` handles a frame; an exception from it is counted as a failed frame in ``stats`` and
    logged on ``node``'s logger, and the loop goes on.
    """

    def __init__(
        self,
        node: Node,
        name: str,
        stats: FrameStats,
        process: Callable[[CameraMsg], None],
        min_period_s: float = 0.0,
    ) -> None:
        self._node = node
        self._name = name
        self._stats = stats
        self._process = process
        self._min_period_s = min_period_s
        self._pending: CameraMsg | None = None
        self._wake = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        with self._wake:
            self._running = True
            self._pending = None
        self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        self._thread.start()

    def offer(self, msg: CameraMsg) -> None:
        """Park ``msg`` for the worker (the subscription callback); a frame not yet taken is dropped."""
        with self._wake:
            if not self._running:
                return
            replaced = self._pending is not None
            self._pending = msg
            self._wake.notify()
        self._stats.on_received(replaced)

    def request_stop(self) -> None:
        """Tell the worker to stop after its current frame; the parked frame is discarded."""
        with self._wake:
            self._running = False
            self._pending = None
            self._wake.notify_all()

    def join(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=WORKER_JOIN_TIMEOUT_S)

    def stop(self) -> None:
        self.request_stop()
        self.join()

    def _next_frame(self) -> CameraMsg | None:
        """The newest parked frame; None when the worker is to stop."""
        with self._wake:
            while self._running and self._pending is None:
                self._wake.wait()
            if not self._running:
                return None
            msg, self._pending = self._pending, None
            return msg

    def _work(self) -> None:
        while (msg := self._next_frame()) is not None:
            began = time.monotonic()
            try:
                self._process(msg)
            except Exception as error:  # noqa: BLE001 - a failing frame or publish must not end the worker
                self._report_failure(msg, error)
            if self._min_period_s > 0.0:  # wait out the period (a stop ends the wait)
                with self._wake:
                    remaining = max(0.0, began + self._min_period_s - time.monotonic())
                    self._wake.wait_for(lambda: not self._running, timeout=remaining)

    def _report_failure(self, msg: CameraMsg, error: Exception) -> None:
        if not self._node.context.ok():
            return  # shutting down: publishers are gone with the context
        text = _failure_text(msg, error)
        self._stats.on_failed(text)
        self._node.get_logger().warning(text, throttle_duration_sec=2.0)


def decode(msg: CameraMsg, max_side_px: int) -> np.ndarray:
    """The frame as a BGR image (raises ImageError for a bad one)."""
    return compressed_to_bgr(msg, max_side_px) if isinstance(msg, CompressedImage) else image_to_bgr(msg, max_side_px)


def _failure_text(msg: CameraMsg, error: Exception) -> str:
    """What went wrong with a frame, naming its stamp."""
    kind = "bad image" if isinstance(error, ImageError) else f"{type(error).__name__} while processing"
    return f"{kind} (stamp {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}): {error}"
