"""Counters of the node's work and their /diagnostics status."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.publisher import Publisher


@dataclass
class FrameStats:
    """Thread-safe counters: frames received, processed, dropped (replaced by newer) and failed."""

    received: int = 0
    processed: int = 0
    dropped: int = 0
    failed: int = 0
    last_error: str = ""
    last_frame_time: float | None = None
    _window_processed: int = 0
    _window_latency_s: float = 0.0
    _window_failed: int = 0
    _window_start: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_received(self, replaced_unprocessed: bool) -> None:
        with self._lock:
            self.received += 1
            self.dropped += int(replaced_unprocessed)
            self.last_frame_time = time.monotonic()

    def on_processed(self, latency_s: float) -> None:
        with self._lock:
            self.processed += 1
            self._window_processed += 1
            self._window_latency_s += latency_s

    def on_failed(self, error: str) -> None:
        with self._lock:
            self.failed += 1
            self._window_failed += 1
            self.last_error = error

    def status(
        self, name: str, hardware_id: str, stale_after_s: float, topic: str, publishers: int
    ) -> DiagnosticStatus:
        """The status for the window since the last call, and reset the window.

        ``topic`` and ``publishers`` (the camera publishers matched now) tell a camera that is silent
        from one that is not there at all (a wrong remap, an incompatible QoS).
        """
        with self._lock:
            now = time.monotonic()
            elapsed = max(now - self._window_start, 1e-9)
            rate_hz = self._window_processed / elapsed
            latency_ms = 1000.0 * self._window_latency_s / self._window_processed if self._window_processed else 0.0
            window_processed, window_failed = self._window_processed, self._window_failed
            self._window_start, self._window_processed, self._window_latency_s = now, 0, 0.0
            self._window_failed = 0
            idle_s = None if self.last_frame_time is None else now - self.last_frame_time
            values = {
                "frames_received": self.received,
                "frames_processed": self.processed,
                "frames_dropped": self.dropped,
                "frames_failed": self.failed,
                "rate_hz": f"{rate_hz:.2f}",
                "mean_latency_ms": f"{latency_ms:.1f}",
                "last_error": self.last_error,
                "camera_topic": topic,
                "camera_publishers": publishers,
            }
        if window_failed and not window_processed:
            level, message = DiagnosticStatus.ERROR, f"every frame failing: {values['last_error']}"
        elif window_failed:
            level, message = DiagnosticStatus.WARN, f"{window_failed} frames failed: {values['last_error']}"
        elif idle_s is None or idle_s > stale_after_s:
            level = DiagnosticStatus.WARN
            message = "no images received" if idle_s is None else f"no image for {idle_s:.1f} s"
            if publishers == 0 and topic:
                message += f": no publisher matches {topic}"
        else:
            level, message = DiagnosticStatus.OK, f"{rate_hz:.1f} Hz, {latency_ms:.0f} ms per frame"
        return DiagnosticStatus(
            level=level,
            name=name,
            message=message,
            hardware_id=hardware_id,
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
        )


def publish_status(node: Node, publisher: Publisher, status: DiagnosticStatus) -> None:
    """Publish ``status`` on /diagnostics, stamped now; quiet when the context ended meanwhile."""
    array = DiagnosticArray()
    array.header.stamp = node.get_clock().now().to_msg()
    array.status = [status]
    try:
        publisher.publish(array)
    except Exception:  # noqa: BLE001 - the context can end between the timer firing and the publish
        if node.context.ok():
            raise
