"""Fuzzing the node's two inputs over DDS: it stays alive, accounts for every frame and bounds its memory.

Each test publishes a few hundred messages reliably (the node subscribes reliably too, so nothing is lost in
transport) one at a time, waits until the node has handled each, and checks from its counters that every
frame was processed or failed as expected. A burst at the end exercises dropping. The process's memory is
sampled throughout: decompression bombs and sizes past 2^32 must be refused before anything is allocated.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray
from face_perception.msg import FaceArray
from helpers import jpeg_claiming, png_claiming, real_faces_frames
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_perception.core.images_raw import SUPPORTED_ENCODINGS

WIDTH, HEIGHT = 640, 480
MEMORY_BOUND_MB = 400  # a 640x480 frame through the pipeline takes tens of MB; a bomb would take gigabytes
PASS, FAIL, EITHER = "pass", "fail", "either"
NODE_QOS = {"qos.reliability": "reliable", "qos.depth": 50, "diagnostics.period_s": 0.2}


@dataclass
class Case:
    what: str
    msg: Image | CompressedImage
    expect: str


class MemoryWatch:
    """Samples this process's resident memory every 10 ms (the node runs in this process)."""

    def __init__(self) -> None:
        self.start_mb = self._rss_mb()
        self.peak_start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.highest_mb = self.start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.highest_mb = max(self.highest_mb, self._rss_mb())

    def stop(self) -> tuple[float, float]:
        """(highest growth sampled, peak growth past the start) in MB."""
        self._stop.set()
        self._thread.join()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return self.highest_mb - self.start_mb, max(0.0, peak_mb - max(self.peak_start_mb, self.start_mb))


def _header(index: int) -> Header:
    header = Header(frame_id="fuzz")
    header.stamp.sec, header.stamp.nanosec = 10_000 + index // 10, (index % 10) * 100_000_000
    return header


def _raw(frame: np.ndarray, encoding: str) -> np.ndarray:
    """The 640x480 frame as the bytes of ``encoding`` (rows without padding)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if encoding in ("bgr8", "8UC3"):
        return frame
    if encoding == "rgb8":
        return frame[..., ::-1]
    if encoding in ("bgra8", "8UC4"):
        return cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    if encoding == "rgba8":
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGBA)
    if encoding in ("mono8", "8UC1"):
        return gray
    if encoding in ("mono16", "16UC1"):
        return (gray.astype("<u2") * 257).view(np.uint8).reshape(HEIGHT, WIDTH * 2)
    yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV)
    y, u, v = yuv[..., 0], yuv[..., 1][:, 0::2], yuv[..., 2][:, 0::2]
    pairs = np.stack([u, y[:, 0::2], v, y[:, 1::2]], axis=-1)  # UYVY
    if encoding in ("yuv422_yuy2", "yuyv"):
        pairs = pairs[..., [1, 0, 3, 2]]
    return pairs.reshape(HEIGHT, WIDTH * 2)


def _image(header, width, height, encoding, step, data, bigendian=0) -> Image:
    msg = Image(header=header, width=width, height=height, encoding=encoding, step=step, is_bigendian=bigendian)
    msg.data = data if isinstance(data, bytes | bytearray) else bytes(data)
    return msg


def _raw_cases(frame: np.ndarray, rng: np.random.Generator) -> list[Case]:
    cases: list[Case] = []

    def add(what, expect, *fields):
        cases.append(Case(what, _image(_header(len(cases)), *fields), expect))

    for encoding in SUPPORTED_ENCODINGS:
        rows = np.ascontiguousarray(_raw(frame, encoding)).reshape(HEIGHT, -1)
        for padding in (0, 1, 3, 7):  # odd paddings: rows start at odd addresses
            padded = np.concatenate([rows, rng.integers(0, 256, (HEIGHT, padding), dtype=np.uint8)], axis=1)
            add(f"{encoding} +{padding}", PASS, WIDTH, HEIGHT, encoding, padded.shape[1], padded.tobytes())
        data = rows.tobytes()
        add(f"{encoding} truncated", FAIL, WIDTH, HEIGHT, encoding, rows.shape[1], data[: len(data) // 2])
        add(f"{encoding} step too short", FAIL, WIDTH, HEIGHT, encoding, rows.shape[1] - 1, data)
        for _ in range(2):  # bit flips in the pixels: still a valid frame
            flipped = bytearray(data)
            for index in rng.integers(0, len(data), 50):
                flipped[index] ^= 1 << int(rng.integers(0, 8))
            add(f"{encoding} bit flips", PASS, WIDTH, HEIGHT, encoding, rows.shape[1], flipped)
    bgr = frame.tobytes()
    big = 2**32 - 1
    add("size past 2^32", FAIL, 65536, 65537, "bgr8", 65536 * 3, b"\x00" * 64)
    add("width 2^32-1", FAIL, big, 1, "mono8", big, b"\x00" * 64)
    add("height 2^32-1", FAIL, 1, big, "mono8", 1, b"\x00" * 64)
    add("step*height past 2^32", FAIL, WIDTH, HEIGHT, "bgr8", big, bgr)
    add("step 2^31", FAIL, 16, 4096, "mono8", 2**31, b"\x00" * 4096)
    add("zero size", FAIL, 0, 0, "bgr8", 0, b"")
    add("zero height", FAIL, WIDTH, 0, "bgr8", WIDTH * 3, bgr)
    add("empty data", FAIL, WIDTH, HEIGHT, "bgr8", WIDTH * 3, b"")
    add("one past max side", FAIL, 8193, 1, "mono8", 8193, b"\x00" * 8193)
    add("odd yuv width", FAIL, 641, HEIGHT, "yuyv", 1282, b"\x00" * 1282 * HEIGHT)
    for encoding in ("", "bayer_rggb8", "32FC1", "jpeg", "BGR8", "bgr8 ", "ünïcode", "x" * 300):
        add(f"encoding {encoding[:20]!r}", FAIL, WIDTH, HEIGHT, encoding, WIDTH * 3, bgr)
    add("big-endian mono16", PASS, WIDTH, HEIGHT, "mono16", WIDTH * 2, b"\x10\x00" * WIDTH * HEIGHT, 1)
    for index in range(80):  # random headers and random bytes
        width, height = (int(v) for v in rng.choice([0, 1, 2, 3, 17, 640, 8191, 8192, 65535, 2**31], 2))
        encoding = str(rng.choice([*SUPPORTED_ENCODINGS, "nope"]))
        step = int(rng.choice([0, width, width * 3, width * 4 + 1, 2**32 - 1]))
        data = rng.integers(0, 256, int(rng.integers(0, 2_000_000)), dtype=np.uint8).tobytes()
        add(f"random {index}", EITHER, width, height, encoding, min(step, 2**32 - 1), data)
    return cases


def _compressed(index: int, data: bytes, fmt: str = "jpeg") -> CompressedImage:
    return CompressedImage(header=_header(index), format=fmt, data=data)


def _compressed_cases(frame: np.ndarray, rng: np.random.Generator) -> list[Case]:
    cases: list[Case] = []

    def add(what, expect, data, fmt="jpeg"):
        cases.append(Case(what, _compressed(len(cases), data, fmt), expect))

    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    progressive = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    png = cv2.imencode(".png", frame)[1].tobytes()
    gray_png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[1].tobytes()
    for name, data, fmt in (("jpeg", jpeg, "jpeg"), ("progressive", progressive, "jpeg"), ("png", png, "png")):
        for declared in (fmt, "", f"bgr8; {fmt} compressed bgr8", fmt.upper()):
            add(f"{name} as {declared!r}", PASS, data, declared)
        for cut in (0, 2, 10, 100, 600, len(data) // 3):
            add(f"{name} cut to {cut}", FAIL, data[:cut], fmt)
        add(f"{name} missing its end", EITHER, data[: len(data) * 9 // 10], fmt)
        for _ in range(12):
            flipped = bytearray(data)
            for index in rng.integers(0, len(data), int(rng.integers(1, 40))):
                flipped[index] ^= 1 << int(rng.integers(0, 8))
            add(f"{name} bit flips", EITHER, bytes(flipped), fmt)
    add("gray png", PASS, gray_png, "png")
    add("jpeg declared png", FAIL, jpeg, "png")
    add("compressedDepth", FAIL, png, "16UC1; compressedDepth png")
    for extension in (".bmp", ".webp", ".tiff", ".pgm", ".ppm"):
        pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if extension == ".pgm" else frame
        add(f"{extension} image", FAIL, cv2.imencode(extension, pixels)[1].tobytes(), "")
    add("png bomb 30000x30000 (875 kB)", FAIL, png_claiming(30000, 30000), "png")
    add("png bomb 8193x8193", FAIL, png_claiming(8193, 8193), "png")
    add("png claiming 65535x65535 (4 kB)", FAIL, png_claiming(65535, 65535, rows=1), "png")
    add("jpeg claiming 20000x20000", FAIL, jpeg_claiming(20000, 20000), "jpeg")
    add("jpeg claiming 0x0", FAIL, jpeg_claiming(0, 0), "jpeg")
    add("empty", FAIL, b"", "jpeg")
    for index in range(100):
        size = int(rng.choice([1, 3, 16, 1000, 100_000, 1_000_000]))
        prefix = [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"][index % 3]
        add(f"random {index}", EITHER, prefix + rng.integers(0, 256, size, dtype=np.uint8).tobytes(), "")
    return cases


def _fuzz(harness, topic, msg_type, cases, capfd):
    faces: list[FaceArray] = []
    diagnostics: list[DiagnosticArray] = []
    harness.peer.create_subscription(FaceArray, "faces", faces.append, 10)
    harness.peer.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    qos = QoSProfile(depth=len(cases) + 50, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    publisher = harness.peer.create_publisher(msg_type, topic, qos)
    assert wait_until(lambda: harness.matched(publisher))
    stats = harness.node.stats

    def idle() -> bool:
        return stats.received == stats.processed + stats.dropped + stats.failed

    memory = MemoryWatch()
    outcomes = []
    for case in cases:
        before = (stats.received, stats.processed, stats.failed)
        publisher.publish(case.msg)
        assert wait_until(lambda b=before: stats.received == b[0] + 1 and idle(), 60), f"{case.what}: {stats}"
        outcome = PASS if stats.processed == before[1] + 1 else FAIL
        assert stats.failed + stats.processed == before[2] + before[1] + 1, case.what
        outcomes.append((case, outcome))
    burst = [c for c in cases if c.expect == PASS][:20]
    for index, case in enumerate(burst):  # faster than the node works: the newest wins, replaced frames are dropped
        case.msg.header = _header(100_000 + index)  # stamps not seen before
        publisher.publish(case.msg)
    sent = len(cases) + len(burst)
    assert wait_until(lambda: stats.received == sent and idle(), 120), stats
    growth_mb, peak_growth_mb = memory.stop()

    wrong = [(c.what, c.expect, got) for c, got in outcomes if c.expect != EITHER and c.expect != got]
    assert not wrong, wrong
    newest = burst[-1].msg.header.stamp
    assert wait_until(lambda: any(f.header.stamp == newest for f in faces)), "the node stopped answering"
    assert stats.received == sent == stats.processed + stats.dropped + stats.failed
    assert stats.failed >= sum(c.expect == FAIL for c in cases) and stats.dropped >= 1
    assert len(faces) == stats.processed or wait_until(lambda: len(faces) == stats.processed)

    def reported() -> bool:
        values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
        counted = ("frames_received", "frames_processed", "frames_dropped", "frames_failed")
        return [values.get(k) for k in counted] == [
            str(stats.received),
            str(stats.processed),
            str(stats.dropped),
            str(stats.failed),
        ]

    assert wait_until(reported), diagnostics[-1].status[0].values if diagnostics else "no diagnostics"
    assert growth_mb < MEMORY_BOUND_MB and peak_growth_mb < MEMORY_BOUND_MB, (growth_mb, peak_growth_mb)
    stderr = capfd.readouterr().err
    printed = [line for line in stderr.splitlines() if line.startswith(("Corrupt JPEG", "libpng", "Premature end"))]
    assert not printed, printed[:5]  # decoder complaints reach the log only inside the node's own warnings
    print(
        f"\n{topic}: {len(cases)} cases + {len(burst)} burst; received {stats.received}, "
        f"processed {stats.processed}, dropped {stats.dropped}, failed {stats.failed}; "
        f"memory growth {growth_mb:.0f} MB (peak {peak_growth_mb:.0f} MB)"
    )


def test_raw_image_fuzz(harness_factory, capfd):
    frame = real_faces_frames(1)[0]
    frame = np.ascontiguousarray(cv2.resize(frame, (WIDTH, HEIGHT)))
    cases = _raw_cases(frame, np.random.default_rng(7))
    assert 200 <= len(cases) <= 400
    harness = harness_factory(NODE_QOS)
    _fuzz(harness, "image", Image, cases, capfd)


def test_compressed_image_fuzz(harness_factory, capfd):
    frame = np.ascontiguousarray(cv2.resize(real_faces_frames(1)[0], (WIDTH, HEIGHT)))
    cases = _compressed_cases(frame, np.random.default_rng(11))
    assert 150 <= len(cases) <= 400
    harness = harness_factory({**NODE_QOS, "use_compressed": True})
    _fuzz(harness, "image/compressed", CompressedImage, cases, capfd)


def test_stamps_going_backwards_warn_once(harness_factory):
    """A stream whose stamps keep going back restarts tracking on every frame but warns once (throttled).

    The node's own counters are read in-process: whether a log line reaches a /rosout subscriber
    depends on discovery timing, the counters do not.
    """
    harness = harness_factory({**NODE_QOS, "tracking.enabled": True})
    publisher = harness.peer.create_publisher(
        Image, "image", QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    )
    assert wait_until(lambda: harness.matched(publisher))
    frame = np.ascontiguousarray(cv2.resize(real_faces_frames(1)[0], (WIDTH, HEIGHT)))
    stats = harness.node.stats
    started = time.monotonic()
    for index in range(12):
        msg = _image(_header(100 - index), WIDTH, HEIGHT, "bgr8", WIDTH * 3, frame.tobytes())
        publisher.publish(msg)
        assert wait_until(lambda i=index: stats.processed == i + 1)
    assert time.monotonic() - started < 10.0 or pytest.skip("too slow here to stay within one throttle period")
    assert harness.node.tracker_restarts == 11  # every frame after the first went back in time
    assert harness.node.stamp_warnings == 1
